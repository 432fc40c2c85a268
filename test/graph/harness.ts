// Test harness for ops and graphs: builds a case, compares ONNX Runtime against the float64
// reference interpreter, and checks autodiff gradients against central finite differences.
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { gradients } from '../../src/graph/autodiff.js';
import { Graph, Value } from '../../src/graph/ir.js';
import { interpret } from '../../src/graph/interpret.js';
import { RefTensor, refTensor } from '../../src/graph/reftensor.js';
import { CompiledGraph, Feed } from '../../src/runtime/session.js';
import { lcg } from '../support/prng.js';

// Re-exported so graph tests keep importing the parameter generator from the harness.
export { lcg };

export interface ParamSpec {
  name: string;
  shape: number[];
  /** maps a uniform [0,1) draw to a value; default uniform in [-1, 1) */
  gen?: (u: number) => number;
}

export interface OpCase {
  name: string;
  params: ParamSpec[];
  /** non-differentiable inputs (e.g. int64 indices) with their data */
  inputs?: { name: string; dtype: 'float32' | 'int64'; shape: (number | string)[]; data: number[]; concrete: number[] }[];
  build: (g: GraphBuilder, p: Value[], inputs: Value[]) => Value;
  /** skip the gradient check (non-differentiable op) */
  noGrad?: boolean;
  /** FD tolerance override */
  gradTol?: number;
}

export function makeParams(c: OpCase, seed = 1): Float32Array[] {
  const rnd = lcg(seed);
  return c.params.map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    return Float32Array.from({ length: n }, () => (p.gen ?? ((u: number) => 2 * u - 1))(rnd()));
  });
}

export function buildCase(c: OpCase, data: Float32Array[], withGrad: boolean): { graph: Graph; loss?: Value } {
  const g = new GraphBuilder(c.name);
  const inputs = (c.inputs ?? []).map((i) => g.input(i.name, i.dtype, i.shape));
  const ps = c.params.map((p, k) => g.param(p.name, p.shape, data[k]));
  const y = c.build(g, ps, inputs);
  g.output('y', y);
  if (withGrad) {
    // loss = Σ y ⊙ w with fixed pseudo-random weights, so every output element matters differently
    const n = y.shape.reduce<number>((a, b) => a * (b as number), 1);
    const rnd = lcg(99);
    const w = g.constant(Float32Array.from({ length: n }, () => 2 * rnd() - 1), y.shape as number[]);
    const loss = g.reduceSum(g.mul(y, w), [...y.shape.keys()], false);
    g.output('loss', loss);
    const grads = gradients(g, loss, ps);
    grads.forEach((d, k) => g.output(`grad_${c.params[k].name}`, d));
    return { graph: g.build(), loss };
  }
  return { graph: g.build() };
}

function refFeeds(c: OpCase): Record<string, RefTensor> {
  const f: Record<string, RefTensor> = {};
  for (const i of c.inputs ?? []) f[i.name] = refTensor(i.dtype, i.concrete, i.data);
  return f;
}

function ortFeeds(c: OpCase): Record<string, Feed> {
  const f: Record<string, Feed> = {};
  for (const i of c.inputs ?? []) {
    f[i.name] = {
      data: i.dtype === 'int64' ? BigInt64Array.from(i.data.map((x) => BigInt(x))) : Float32Array.from(i.data),
      shape: i.concrete,
    };
  }
  return f;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let worst = 0;
  let worstI = -1;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const allowed = atol + rtol * Math.abs(expected[i]);
    if (!(err <= allowed) && err - allowed >= worst) {
      worst = err - allowed;
      worstI = i;
    }
  }
  assert.ok(worstI < 0, `${what}: element ${worstI} is ${actual[worstI]}, expected ${expected[worstI]} (rtol ${rtol}, atol ${atol})`);
}

/** ORT output (and gradients) vs the reference interpreter. */
export async function checkLowering(c: OpCase): Promise<void> {
  const data = makeParams(c);
  const { graph } = buildCase(c, data, !c.noGrad);
  const ref = interpret(graph, refFeeds(c));
  const cg = await CompiledGraph.create(graph, { threads: 1 });
  const out = await cg.run(ortFeeds(c));
  await cg.release();
  for (const o of graph.outputs) {
    const r = ref[o.name];
    const a = out[o.name];
    assert.deepEqual([...a.shape], [...r.shape], `${c.name} ${o.name}: shape`);
    const scale = Math.max(1e-3, ...Array.from(r.data, Math.abs));
    assertClose(Array.from(a.data as Float32Array, Number), r.data, 1e-5, 1e-5 * scale, `${c.name} ${o.name} (ORT vs reference)`);
  }
}

/** Autodiff gradients (reference interpreter, float64) vs central finite differences. */
export function checkGradient(c: OpCase): void {
  const data = makeParams(c);
  const { graph } = buildCase(c, data, true);
  const feeds = refFeeds(c);
  const base = interpret(graph, feeds);
  const h = 1e-6;
  c.params.forEach((p, k) => {
    const analytic = base[`grad_${p.name}`].data;
    const x = Float64Array.from(data[k]);
    const fd = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const at = (delta: number): number => {
        const xx = Float64Array.from(x);
        xx[i] += delta;
        return interpret(graph, feeds, { [p.name]: refTensor('float32', p.shape, xx) }).loss.data[0];
      };
      fd[i] = (at(h) - at(-h)) / (2 * h);
    }
    const scale = Math.max(1, ...Array.from(fd, Math.abs));
    assertClose(analytic, fd, c.gradTol ?? 1e-5, (c.gradTol ?? 1e-5) * scale, `${c.name}: d loss / d ${p.name} vs finite differences`);
  });
}
