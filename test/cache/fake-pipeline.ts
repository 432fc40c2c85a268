// A miniature sampling pipeline over a fake, smooth "DiT" (blocks add input- and tau-dependent
// residuals) that drives any CacheMethod through the contract at every granularity, with CFG branches.

import {
  CachePredictionError,
  createRequestCache,
  type CacheMethod,
  type CacheSignals,
  type Decision,
  type SampleCache,
  type StepInfo,
} from '../../src/cache/index.js';

export const TOKENS = 12; // T*D of one sample
export const DEPTH = 4;

/** Deterministic pseudo-random numbers in [−1, 1] (a tiny LCG: tests must not depend on Math.random). */
export function lcg(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

/** Per (sample, branch) block coefficients of the fake model. */
interface FakeWeights {
  readonly a: Float64Array[]; // [DEPTH][TOKENS]
  readonly b: Float64Array[];
}

function weightsFor(seed: number, branch: string): FakeWeights {
  const rnd = lcg(seed * 31 + (branch === 'cond' ? 7 : branch === 'uncond' ? 13 : 17));
  const mk = (): Float64Array[] => Array.from({ length: DEPTH }, () => Float64Array.from({ length: TOKENS }, () => rnd()));
  return { a: mk(), b: mk() };
}

/** Block i of the fake model: out = x + 0.1·a(1+τ)² + 0.1·b·e^(−τ) + 0.05·tanh(x). */
export function fakeBlock(w: FakeWeights, i: number, x: Float32Array, tau: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) {
    out[j] = x[j] + 0.1 * w.a[i][j] * (1 + tau) ** 2 + 0.1 * w.b[i][j] * Math.exp(-tau) + 0.05 * Math.tanh(x[j]);
  }
  return out;
}

function runBlocks(w: FakeWeights, from: number, to: number, x: Float32Array, tau: number): Float32Array {
  let h = x;
  for (let i = from; i < to; i++) h = fakeBlock(w, i, h, tau);
  return h;
}

function modulated(x: Float32Array, tau: number): Float32Array {
  return Float32Array.from(x, (v, j) => v * (1 + 0.3 * tau) + 0.1 * Math.cos(j));
}

export interface SampleRun {
  readonly decisions: Decision[];
  /** Model output of this branch at each step. */
  readonly outputs: Float32Array[];
  /** Steps on which every section was computed. */
  readonly computedSteps: number[];
  /** Section calls answered by a prediction, over the whole run. */
  readonly predictedSections: number;
}

export interface RequestRun {
  /** runs[branch][sample] */
  readonly runs: Record<string, SampleRun[]>;
  /** Final latent per sample. */
  readonly finals: Float32Array[];
  readonly bytesHeldAtEnd: number;
}

/** Uneven, decreasing taus like a DDPM schedule mapped to t/1000. */
export function unevenTaus(totalSteps: number): number[] {
  return Array.from({ length: totalSteps }, (_, s) => 0.999 * (1 - s / totalSteps) ** 1.5 + 0.001);
}

export interface RunOptions {
  readonly taus: readonly number[];
  readonly seeds: readonly number[]; // one per batch sample
  readonly branches?: readonly string[];
  readonly guidance?: number;
}

/**
 * Run one request: per step, all samples of all branches decide first, then sections run or are
 * predicted (batch-style), then everything is observed; CFG combines branches; x ← 0.8x + 0.2·guided.
 */
export function runRequest(method: CacheMethod, opts: RunOptions): RequestRun {
  const branches = opts.branches ?? ['cond', 'uncond'];
  const guidance = opts.guidance ?? 1.5;
  const totalSteps = opts.taus.length;
  const sections = method.granularity === 'per-block' ? DEPTH : 1;
  const request = createRequestCache(method, { totalSteps, taus: opts.taus, sections }, branches, opts.seeds.length);
  const latents = opts.seeds.map((seed) => {
    const r = lcg(seed + 1000);
    return Float32Array.from({ length: TOKENS }, () => r());
  });
  const runs: Record<string, SampleRun[]> = {};
  const mutable: Record<string, { decisions: Decision[]; outputs: Float32Array[]; computedSteps: number[]; predicted: number }[]> = {};
  for (const b of branches) mutable[b] = opts.seeds.map(() => ({ decisions: [], outputs: [], computedSteps: [], predicted: 0 }));

  for (let s = 0; s < totalSteps; s++) {
    const step: StepInfo = { stepIndex: s, totalSteps, tau: opts.taus[s] };
    const branchOut: Record<string, Float32Array[]> = {};
    for (const b of branches) {
      const items = opts.seeds.map((seed, n) => {
        const w = weightsFor(seed, b);
        const cache = request.get(b, n);
        const x = latents[n];
        const signals: CacheSignals = {
          xIn: x,
          ...(method.needs.modulatedInput0 === true ? { modulatedInput0: modulated(x, step.tau) } : {}),
        };
        let block0Out: Float32Array | null = null;
        if (method.granularity === 'first-block') block0Out = fakeBlock(w, 0, x, step.tau);
        const fullSignals: CacheSignals =
          block0Out === null ? signals : { ...signals, firstBlockResidual: Float32Array.from(block0Out, (v, j) => v - x[j]) };
        const decision = cache.decide(step, fullSignals);
        return { w, cache, x, block0Out, decision };
      });
      branchOut[b] = items.map((it, n) => {
        const rec = mutable[b][n];
        rec.decisions.push(it.decision);
        const { out, allComputed, predicted } = runSections(method, it.cache, it.w, it.decision, step, it.x, it.block0Out);
        rec.outputs.push(out);
        rec.predicted += predicted;
        if (allComputed) rec.computedSteps.push(s);
        return out;
      });
    }
    for (let n = 0; n < latents.length; n++) {
      const cond = branchOut[branches[0]][n];
      const uncond = branchOut[branches[branches.length - 1]][n];
      const x = latents[n];
      latents[n] = Float32Array.from(x, (v, j) => 0.8 * v + 0.2 * (uncond[j] + guidance * (cond[j] - uncond[j])));
    }
  }
  for (const b of branches) {
    runs[b] = mutable[b].map((r) => ({ decisions: r.decisions, outputs: r.outputs, computedSteps: r.computedSteps, predictedSections: r.predicted }));
  }
  return { runs, finals: latents, bytesHeldAtEnd: request.bytesHeld() };
}

function runSections(
  method: CacheMethod,
  cache: SampleCache,
  w: FakeWeights,
  decision: Decision,
  step: StepInfo,
  x: Float32Array,
  block0Out: Float32Array | null,
): { out: Float32Array; allComputed: boolean; predicted: number } {
  // The cut: [from, to) block ranges per section, and the first section's input.
  const cuts: [number, number][] =
    method.granularity === 'per-block'
      ? Array.from({ length: DEPTH }, (_, i): [number, number] => [i, i + 1])
      : method.granularity === 'first-block'
        ? [[1, DEPTH]]
        : [[0, DEPTH]];
  let h = block0Out ?? x;
  let predicted = 0;
  const records: [Float32Array, Float32Array, boolean][] = [];
  for (let sec = 0; sec < cuts.length; sec++) {
    const run = decision.compute || decision.computeSections?.[sec] === true;
    let out: Float32Array | null = null;
    let computed = run;
    if (!run) {
      try {
        out = cache.predict(step, sec, h);
        predicted++;
      } catch (e) {
        if (!(e instanceof CachePredictionError)) throw e;
        computed = true;
      }
    }
    out ??= runBlocks(w, cuts[sec][0], cuts[sec][1], h, step.tau);
    records.push([h, out, computed]);
    h = out;
  }
  records.forEach(([input, output, computed], sec) => cache.observe(step, sec, input, output, computed));
  return { out: h, allComputed: records.every((r) => r[2]), predicted };
}
