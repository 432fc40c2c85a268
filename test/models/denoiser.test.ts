// The family-neutral denoiser contract on DiT: loadDenoiser finds the family, forwardRaw reproduces the
// reference golden with diffusers' argument names, large models run as chained graphs with the same
// numbers, and every engine failure is a rejected promise naming the graph.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toFloat32, toInt64Numbers } from '../../src/io/safetensors.js';
import { loadDenoiser } from '../../src/models/load.js';
import { DiT } from '../../src/models/dit/dit.js';
import { namedConfig } from '../../src/models/dit/dit-config.js';
import { randomDiTWeights } from '../../src/models/dit/random-weights.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { CompiledGraph, EngineError } from '../../src/runtime/session.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const orig = path.join(here, '../fixtures/dit_original_tiny');
const diff = path.join(here, '../fixtures/dit_diffusers_tiny');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('loadDenoiser + forwardRaw (diffusers argument names)', () => {
  const { tensors } = readSafetensorsSync(path.join(orig, 'golden.safetensors'));
  const x = toFloat32(tensors.get('x')!);
  const t = toFloat32(tensors.get('t')!);
  const y = toInt64Numbers(tensors.get('y')!);
  const out = toFloat32(tensors.get('out')!);

  it('an original DiT checkpoint: family dit, the golden output within 1e-5 max abs', async () => {
    const m = await loadDenoiser(orig, { threads: 1 });
    assert.equal(m.family, 'dit');
    assert.equal(m.objective, 'eps');
    assert.deepEqual([...m.latentShape], [4, 8, 8]);
    assert.equal(m.outputChannels, 8);
    assert.equal(m.learnedVariance, true);
    const r = await m.forwardRaw({
      hidden_states: { data: x, shape: [2, 4, 8, 8] },
      timestep: { data: t, shape: [2] },
      class_labels: { data: BigInt64Array.from(y.map(BigInt)), shape: [2] },
    });
    assert.deepEqual(r.shape, [2, 8, 8, 8]);
    const err = maxAbsDiff(r.data as Float32Array, out);
    assert.ok(err <= 1e-5, `max abs error ${err}`);
    await m.release();
  });

  it('a diffusers folder: forwardRaw equals forward, and one timestep broadcasts to the batch', async () => {
    const m = await loadDenoiser(diff, { threads: 1 });
    const labels = BigInt64Array.from(y.map(BigInt));
    const raw = await m.forwardRaw({ hidden_states: { data: x, shape: [2, 4, 8, 8] }, timestep: { data: BigInt64Array.from([400n]), shape: [] }, class_labels: { data: labels, shape: [2] } });
    const direct = await m.forward(x, [2, 4, 8, 8], [400, 400], { classLabels: y });
    assert.equal(maxAbsDiff(raw.data as Float32Array, direct), 0);
    await assert.rejects(() => m.forwardRaw({ hidden_states: { data: x, shape: [2, 4, 8, 8] }, timestep: { data: t, shape: [2] } }), /needs hidden_states, timestep and class_labels/);
    await assert.rejects(
      () => m.forwardRaw({ hidden_states: { data: x, shape: [2, 4, 8, 8] }, timestep: { data: t, shape: [2] }, class_labels: { data: labels, shape: [2] }, encoder_hidden_states: { data: x, shape: [2] } }),
      /unknown input\(s\) encoder_hidden_states/,
    );
    await m.release();
  });

  it('a config of a family tcpade does not run is refused by its class name and file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-family-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ _class_name: 'UNet2DConditionModel' }));
    await assert.rejects(() => loadDenoiser(dir), (e: Error) => /UNet2DConditionModel is not a model family tcpade supports/.test(e.message) && e.message.includes(path.join(dir, 'config.json')));
    fs.rmSync(dir, { recursive: true });
  });
});

describe('models beyond one graph run as chained graphs', () => {
  const config = { ...namedConfig('mnist-dit-tiny'), depth: 5 };
  const weights = randomDiTWeights(config, 11);
  const blockBytes = 4 * [...weights].filter(([k]) => k.startsWith('blocks.0.')).reduce((a, [, v]) => a + v.length, 0);
  const xs = Float32Array.from({ length: 3 * 28 * 28 }, (_, i) => Math.sin(0.37 * i));

  it('forward, blocks and blocksSplit give the one-graph numbers when each graph may hold only 2 blocks', async () => {
    const whole = new DiT(config, weights, { threads: 1 });
    const chained = new DiT(config, weights, { threads: 1, maxGraphWeightBytes: 2.5 * blockBytes });
    const t = [999, 500, 3];
    const y = [1, 7, 10];
    const a = await whole.forward(xs, [3, 1, 28, 28], t, y);
    const b = await chained.forward(xs, [3, 1, 28, 28], t, y);
    assert.ok(maxAbsDiff(a, b) < 1e-5, `forward: ${maxAbsDiff(a, b)}`);
    const e = await whole.embed(xs, [3, 1, 28, 28], t, y);
    const split1 = await whole.blocksSplit(0, [1, 4, 5], e.tokens, e.cond, 3);
    const split2 = await chained.blocksSplit(0, [1, 4, 5], e.tokens, e.cond, 3);
    split1.forEach((s, k) => assert.ok(maxAbsDiff(s, split2[k]) < 1e-5, `split output ${k}`));
    assert.ok(maxAbsDiff(await whole.blocks(1, 5, e.tokens, e.cond, 3), await chained.blocks(1, 5, e.tokens, e.cond, 3)) < 1e-5);
    await whole.release();
    await chained.release();
  });

  it('a graph over the weight limit is a rejected promise naming the graph, before onnxruntime sees it', async () => {
    const g = new GraphBuilder('too_big');
    const w = g.param('w', [4, 4], new Float32Array(16).fill(1));
    g.output('out', g.matmul(g.input('x', 'float32', ['B', 4]), w));
    await assert.rejects(() => CompiledGraph.create(g.build(), { threads: 1, maxWeightBytes: 32 }), (e: Error) => e instanceof EngineError && /too_big.*64 weight bytes|too_big would embed/.test(e.message));
  });

  it('an onnxruntime failure while running is a rejected EngineError naming the graph and its inputs', async () => {
    const g = new GraphBuilder('lookup');
    const table = g.param('table', [4, 2], Float32Array.from({ length: 8 }, (_, i) => i));
    g.output('out', g.gather(table, g.input('idx', 'int64', ['N']), 0));
    const cg = await CompiledGraph.create(g.build(), { threads: 1 });
    assert.deepEqual(Array.from((await cg.run({ idx: { data: BigInt64Array.from([3n]), shape: [1] } })).out.data as Float32Array), [6, 7]);
    await assert.rejects(() => cg.run({ idx: { data: BigInt64Array.from([9n]), shape: [1] } }), (e: Error) => e instanceof EngineError && /lookup/.test(e.message) && /idx \[1\]/.test(e.message));
    await cg.release();
  });
});

describe('loadDenoiser finds each family from its config', () => {
  it('a diffusers WanTransformer3DModel folder is family wan, with its golden through forwardRaw', async () => {
    const dir = path.join(here, '../fixtures/wan_diffusers_tiny_golden');
    const m = await loadDenoiser(path.join(dir, 'transformer'), { threads: 1 });
    assert.equal(m.family, 'wan');
    assert.equal(m.objective, 'flow');
    const { tensors } = readSafetensorsSync(path.join(dir, 'golden.safetensors'));
    const t = (k: string) => ({ data: toFloat32(tensors.get(k)!), shape: tensors.get(k)!.shape });
    const out = await m.forwardRaw({ hidden_states: t('hidden_states'), timestep: t('timestep'), encoder_hidden_states: t('encoder_hidden_states') });
    const ref = toFloat32(tensors.get('out')!);
    const refMax = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    assert.ok(maxAbsDiff(out.data as Float32Array, ref) / refMax <= 1e-4, `relative max error ${maxAbsDiff(out.data as Float32Array, ref) / refMax}`);
    await m.release();
  });
});

describe('loadDenoiser: FLUX', () => {
  it('a diffusers FluxTransformer2DModel folder is family flux, with its golden through forwardRaw', async () => {
    const dir = path.join(here, '../fixtures/flux_diffusers_tiny_golden');
    const m = await loadDenoiser(path.join(dir, 'transformer'), { threads: 1 });
    assert.equal(m.family, 'flux');
    assert.equal(m.objective, 'flow');
    const { tensors } = readSafetensorsSync(path.join(dir, 'golden.safetensors'));
    const t = (k: string) => ({ data: toFloat32(tensors.get(k)!), shape: tensors.get(k)!.shape });
    const names = ['hidden_states', 'encoder_hidden_states', 'pooled_projections', 'timestep', 'img_ids', 'txt_ids', 'guidance'];
    const out = await m.forwardRaw(Object.fromEntries(names.map((k) => [k, t(k)])));
    const ref = toFloat32(tensors.get('out')!);
    const refMax = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    assert.ok(maxAbsDiff(out.data as Float32Array, ref) / refMax <= 1e-4, `relative max error ${maxAbsDiff(out.data as Float32Array, ref) / refMax}`);
    await m.release();
  });
});
