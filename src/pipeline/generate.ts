// The sampling loop with classifier-free guidance and feature caching: per step, every row
// (branch × sample) decides for itself; rows that compute run the blocks together, the others are predicted.
import type { CacheMethod, CacheSignals, Decision, SampleCache, StepInfo } from '../cache/contract.js';
import { CachePredictionError } from '../cache/contract.js';
import { subInto } from '../cache/vec.js';
import { applyGuidance, epsChannels } from '../diffusion/guidance.js';
import { noiseForSample, batchNoiseSource } from '../diffusion/rng.js';
import { SamplerPlan, createPlan, createSampler } from '../diffusion/sampler.js';
import type { TimestepSpacing } from '../diffusion/spacing.js';
import { DiT } from '../models/dit.js';
import { blockFlops } from '../models/dit-graph.js';
import { PhaseTimes, RunStats, SampleDecisionRecord, StepRecord, addTimes, emptyTimes } from './stats.js';

export type SamplerName = 'ddim' | 'dpmpp-2m' | 'flow-euler';

export interface GenerateOptions {
  labels: readonly number[]; // one class label per sample
  seed: number;
  steps: number;
  sampler: SamplerName;
  cfgScale: number; // 1 = no guidance (one branch)
  cache?: CacheMethod; // absent = compute everything
  batchSize?: number; // samples per model batch (each sample's result does not depend on it)
  eta?: number;
  /** Clip DDIM/DPM x₀ estimates to ±clipX0. Default: 1 for pixel-space models (1 or 3 channels, as ADM's
   * clip_denoised), none for latent models (as DiT). */
  clipX0?: number | null;
  spacing?: TimestepSpacing;
  flowShift?: number;
  /** Sample indices start here (noise of sample k depends only on seed and k). */
  firstSampleIndex?: number;
  onStep?: (p: { batch: number; batches: number; step: number; steps: number }) => void;
}

export interface GenerateResult {
  /** final x, [N, C, H, W] in the model's data space ([−1, 1] for our pixel models) */
  samples: Float32Array;
  shape: [number, number, number, number];
  stats: RunStats;
  plan: SamplerPlan;
}

export class GenerateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GenerateError';
  }
}

export function makePlan(o: Pick<GenerateOptions, 'sampler' | 'steps' | 'eta' | 'clipX0' | 'spacing' | 'flowShift'>): SamplerPlan {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new GenerateError(`steps must be a positive integer, got ${o.steps}`);
  switch (o.sampler) {
    case 'ddim':
      return createPlan({ kind: 'ddim', steps: o.steps, eta: o.eta, clipX0: o.clipX0 ?? null, spacing: o.spacing });
    case 'dpmpp-2m':
      return createPlan({ kind: 'dpmpp-2m', steps: o.steps, clipX0: o.clipX0 ?? null, spacing: o.spacing });
    case 'flow-euler':
      return createPlan({ kind: 'flow-euler', steps: o.steps, shift: o.flowShift });
    default:
      throw new GenerateError(`unknown sampler "${String(o.sampler)}"; use ddim, dpmpp-2m or flow-euler`);
  }
}

/** Copies rows `idx` of a row-major [R, rowSize] array into a new [idx.length, rowSize] one. */
function gatherRows(a: Float32Array, idx: readonly number[], rowSize: number): Float32Array {
  const out = new Float32Array(idx.length * rowSize);
  idx.forEach((r, k) => out.set(a.subarray(r * rowSize, (r + 1) * rowSize), k * rowSize));
  return out;
}

function row(a: Float32Array, r: number, rowSize: number): Float32Array {
  return a.subarray(r * rowSize, (r + 1) * rowSize);
}

/** Contiguous block ranges the method's granularity cuts the stack into. */
function sections(method: CacheMethod, depth: number): [number, number][] {
  switch (method.granularity) {
    case 'stack':
      return [[0, depth]];
    case 'per-block': {
      const ranges = method.blockRanges?.(depth) ?? Array.from({ length: depth }, (_, i) => [i, i + 1] as const);
      const ok = ranges.length > 0 && ranges.every(([from, to], k) => from === (k === 0 ? 0 : ranges[k - 1][1]) && to > from) && ranges.at(-1)![1] === depth;
      if (!ok) {
        throw new GenerateError(`${method.name}/${method.preset}: block ranges ${JSON.stringify(ranges)} must be contiguous, non-empty and cover blocks 0..${depth - 1} in order`);
      }
      return ranges.map(([from, to]) => [from, to]);
    }
    case 'first-block':
      if (depth < 2) throw new GenerateError('first-block caching needs a model with at least 2 blocks');
      return [[1, depth]];
    case 'output':
      return [];
  }
}

/**
 * For a history-only forecaster cut into several sections, a row predicted in every section this step
 * needs only the last section's forecast: the earlier ones feed predictions that ignore their input.
 * Makes that forecast first, into the row of `into` where the last section's output lands, and returns
 * the rows so served. A row whose forecast is not finite is left to the section-by-section path, which
 * predicts it again and then computes (the same outcome as without the shortcut).
 */
function forecastLastSection(step: StepInfo, caches: readonly SampleCache[], decisions: readonly Decision[], last: number, input: Float32Array, into: Float32Array, rowSize: number): Set<number> {
  const served = new Set<number>();
  decisions.forEach((d, r) => {
    if (d.compute || d.computeSections?.some((c) => c)) return;
    try {
      caches[r].predict(step, last, row(input, r, rowSize), row(into, r, rowSize));
      served.add(r);
    } catch (err) {
      if (!(err instanceof CachePredictionError)) throw err;
    }
  });
  return served;
}

interface BatchRun {
  x: Float32Array;
  times: PhaseTimes;
  blockEvals: number;
  computedRows: number;
  predictedRows: number;
  cacheBytesPeak: number;
  perStep: StepRecord[];
}

/** Runs one batch of samples through every step of the plan. */
async function runBatch(model: DiT, o: GenerateOptions, plan: SamplerPlan, sampleIdx: number[], labels: number[], onStep: (s: number) => void): Promise<BatchRun> {
  const c = model.config;
  const B = sampleIdx.length;
  const px = c.inChannels * c.inputSize * c.inputSize;
  const outPx = model.outputShape(1).slice(1).reduce((a, b) => a * b, 1);
  const TD = model.tokens * c.hiddenSize;
  const D = c.hiddenSize;
  const branches = o.cfgScale === 1 ? ['cond'] : ['cond', 'uncond'];
  const R = B * branches.length;
  const rowLabels = branches.flatMap((b) => (b === 'cond' ? labels : labels.map(() => c.numClasses)));
  const rowSample = branches.flatMap(() => sampleIdx);
  const rowBranch = branches.flatMap((b) => sampleIdx.map(() => b));
  const taus = plan.timesteps.map((t) => t / 1000);
  const cuts = o.cache ? sections(o.cache, c.depth) : [[0, c.depth] as [number, number]];
  const perBlock = o.cache?.granularity === 'per-block';
  const caches: SampleCache[] | undefined = o.cache
    ? rowSample.map((s, r) =>
        o.cache!.createSampleCache({ totalSteps: plan.steps, taus, branch: rowBranch[r], sampleIndex: s, sections: perBlock ? cuts.length : 1, ...(perBlock ? { sectionBlocks: cuts } : {}) }),
      )
    : undefined;
  const sampler = createSampler(plan, { noise: o.eta ? batchNoiseSource(o.seed + 7919, sampleIdx) : undefined });
  const x0 = new Float32Array(B * px);
  sampleIdx.forEach((s, k) => x0.set(noiseForSample(o.seed, s, [c.inChannels, c.inputSize, c.inputSize]), k * px));
  let x: Float32Array = x0;
  const times = emptyTimes();
  let blockEvals = 0;
  let computedRows = 0;
  let predictedRows = 0;
  let cacheBytesPeak = 0;
  const perStep: StepRecord[] = [];
  // A clock that stops while the model compiles a graph on first use (reported apart as setupMs).
  const now = (): number => performance.now() - model.compileMs;
  const stackBuffers = [new Float32Array(R * TD), new Float32Array(R * TD)] as const;
  const runsFirstBlock = !!o.cache && (o.cache.needs.firstBlock || o.cache.granularity === 'first-block');
  const firstBlockResiduals = new Float32Array(runsFirstBlock ? R * TD : 0);

  for (let s = 0; s < plan.steps; s++) {
    const tModel = plan.timesteps[s];
    const step: StepInfo = { stepIndex: s, totalSteps: plan.steps, tau: taus[s] };
    const xRows = branches.length === 1 ? x : (() => {
      const xx = new Float32Array(R * px);
      for (let b = 0; b < branches.length; b++) xx.set(x, b * B * px);
      return xx;
    })();
    const tRows = new Array<number>(R).fill(tModel);
    const decisions: Decision[] = new Array(R);
    const blocksComputed: (number | undefined)[] = new Array(R).fill(undefined);
    let out: Float32Array;

    if (o.cache?.granularity === 'output') {
      // Opaque model: the cached section is the whole network, input = x_t, output = model output.
      let t0 = now();
      for (let r = 0; r < R; r++) decisions[r] = caches![r].decide(step, { xIn: row(xRows, r, px) });
      times.cacheMs += now() - t0;
      out = new Float32Array(R * outPx);
      const computeRows: number[] = [];
      const predicted = new Map<number, Float32Array>();
      t0 = now();
      for (let r = 0; r < R; r++) {
        if (decisions[r].compute) computeRows.push(r);
        else {
          try {
            predicted.set(r, caches![r].predict(step, 0, row(xRows, r, px)));
          } catch (e) {
            if (!(e instanceof CachePredictionError)) throw e;
            decisions[r] = { compute: true, reason: 'nan-fallback' };
            computeRows.push(r);
          }
        }
      }
      times.cacheMs += now() - t0;
      if (computeRows.length) {
        t0 = now();
        const res = await model.forward(gatherRows(xRows, computeRows, px), [computeRows.length, c.inChannels, c.inputSize, c.inputSize], computeRows.map(() => tModel), computeRows.map((r) => rowLabels[r]));
        times.blocksMs += now() - t0;
        computeRows.forEach((r, k) => out.set(res.subarray(k * outPx, (k + 1) * outPx), r * outPx));
        blockEvals += computeRows.length * c.depth;
      }
      for (const [r, p] of predicted) out.set(p, r * outPx);
      t0 = now();
      for (let r = 0; r < R; r++) caches![r].observe(step, 0, row(xRows, r, px), row(out, r, outPx), decisions[r].compute);
      times.cacheMs += now() - t0;
      computedRows += computeRows.length;
      predictedRows += R - computeRows.length;
    } else {
      let t0 = now();
      const e = await model.embed(xRows, [R, c.inChannels, c.inputSize, c.inputSize], tRows, rowLabels, { withModulatedInput0: !!o.cache?.needs.modulatedInput0 });
      times.embedMs += now() - t0;
      let h = e.tokens;
      // Cheap per-row signals the method asked for.
      const mod0 = e.modulatedInput0;
      let b0: Float32Array | undefined;
      t0 = now();
      if (runsFirstBlock) {
        b0 = await model.block(0, h, e.cond, R);
        blockEvals += R;
      }
      times.signalMs += now() - t0;
      if (caches) {
        t0 = now();
        for (let r = 0; r < R; r++) {
          const sig: CacheSignals = {
            xIn: row(h, r, TD),
            modulatedInput0: mod0 && row(mod0, r, TD),
            firstBlockResidual: b0 && subInto(row(firstBlockResiduals, r, TD), row(b0, r, TD), row(h, r, TD)),
          };
          decisions[r] = caches[r].decide(step, sig);
        }
        times.cacheMs += now() - t0;
      } else {
        decisions.fill({ compute: true, reason: 'always' });
      }
      if (o.cache?.granularity === 'first-block') h = b0!;
      const rowComputedBlocks = new Array<number>(R).fill(0);
      // Rows planned to compute a section; a run of sections with the same planned rows (a full step of
      // a per-block method, the computed front or rear of a Δ-DiT step) runs as ONE session call.
      const plannedAt = (k: number): number[] => decisions.flatMap((d, r) => (d.compute || d.computeSections?.[k] ? [r] : []));
      // Section k's output lands in stackBuffers[k % 2] (h starts as the embedding's own array).
      t0 = now();
      const elided = caches && o.cache!.historyOnlyForecast && cuts.length > 1 ? forecastLastSection(step, caches, decisions, cuts.length - 1, h, stackBuffers[(cuts.length - 1) % 2], TD) : new Set<number>();
      times.cacheMs += now() - t0;
      let group: { start: number; end: number; rows: number[]; outs: Float32Array[] } | null = null;
      for (let k = 0; k < cuts.length; k++) {
        const [from, to] = cuts[k];
        // Two [R, T, D] buffers reused for the whole batch (caches copy what they keep): a fresh
        // 0.4–1 MB array per section and step kept V8's collector busy inside the timed cache calls.
        let hOut: Float32Array = h === stackBuffers[0] ? stackBuffers[1] : stackBuffers[0];
        if (group === null || k >= group.end) {
          const rows = plannedAt(k);
          const same = (other: number[]): boolean => other.length === rows.length && other.every((r, j) => r === rows[j]);
          let end = k + 1;
          while (end < cuts.length && same(plannedAt(end))) end++;
          let outs: Float32Array[] = [];
          if (rows.length) {
            t0 = now();
            const all = rows.length === R;
            const hIn = all ? h : gatherRows(h, rows, TD);
            const cIn = all ? e.cond : gatherRows(e.cond, rows, D);
            const last = cuts[end - 1][1];
            // one output per section of the run (only per-block cuts span several sections)
            outs = end - k === 1 ? [await model.blocks(from, to, hIn, cIn, rows.length)] : await model.blocksSplit(from, cuts.slice(k, end).map((cut) => cut[1]), hIn, cIn, rows.length);
            times.blocksMs += now() - t0;
            blockEvals += rows.length * (last - from);
            rows.forEach((r) => (rowComputedBlocks[r] += last - from));
          }
          group = { start: k, end, rows, outs };
        }
        const grouped = new Set(group.rows);
        // Rows that must compute this section outside the group: a prediction came out non-finite here
        // or in an earlier section of this step (the decision then turned to compute).
        const extraRows: number[] = [];
        t0 = now();
        for (let r = 0; r < R; r++) {
          if (grouped.has(r) || elided.has(r)) continue;
          const d = decisions[r];
          if (d.compute || d.computeSections?.[k]) {
            extraRows.push(r);
            continue;
          }
          try {
            caches![r].predict(step, k, row(h, r, TD), row(hOut, r, TD));
          } catch (err) {
            if (!(err instanceof CachePredictionError)) throw err;
            decisions[r] = { ...d, compute: true, reason: 'nan-fallback' };
            extraRows.push(r);
          }
        }
        times.cacheMs += now() - t0;
        if (group.rows.length === R) {
          // Every row ran this section: its output array is the section's output as it is (nothing else
          // writes into it; the caches copy what they keep). No elided rows exist on such a step.
          hOut = group.outs[k - group.start];
        } else if (group.rows.length) {
          const res = group.outs[k - group.start];
          group.rows.forEach((r, j) => hOut.set(res.subarray(j * TD, (j + 1) * TD), r * TD));
        }
        if (extraRows.length) {
          t0 = now();
          const res = await model.blocks(from, to, gatherRows(h, extraRows, TD), gatherRows(e.cond, extraRows, D), extraRows.length);
          times.blocksMs += now() - t0;
          extraRows.forEach((r, j) => hOut.set(res.subarray(j * TD, (j + 1) * TD), r * TD));
          blockEvals += extraRows.length * (to - from);
          extraRows.forEach((r) => (rowComputedBlocks[r] += to - from));
        }
        if (caches) {
          t0 = now();
          const computedSet = new Set([...group.rows, ...extraRows]);
          for (let r = 0; r < R; r++) caches[r].observe(step, k, row(h, r, TD), elided.has(r) ? undefined : row(hOut, r, TD), computedSet.has(r));
          times.cacheMs += now() - t0;
        }
        h = hOut;
      }
      for (let r = 0; r < R; r++) {
        if (rowComputedBlocks[r] > 0 && decisions[r].compute) computedRows++;
        else predictedRows++;
      }
      t0 = now();
      out = await model.head(h, e.cond, R);
      times.headMs += now() - t0;
      if (perBlock) rowComputedBlocks.forEach((n, r) => (blocksComputed[r] = n));
    }

    // Guidance on the ε/v channels, then the sampler step.
    const t0 = now();
    const outShape = [R, ...model.outputShape(1).slice(1)] as [number, number, number, number];
    const pred = c.learnSigma ? epsChannels(out, outShape) : out;
    const guided = branches.length === 1 ? pred : applyGuidance(pred.subarray(0, B * px), pred.subarray(B * px), o.cfgScale);
    x = sampler.step(s, x, guided);
    times.samplerMs += now() - t0;

    if (caches) cacheBytesPeak = Math.max(cacheBytesPeak, caches.reduce((a, ch) => a + ch.bytesHeld(), 0));
    branches.forEach((b, bi) => {
      const recs: SampleDecisionRecord[] = [];
      for (let k = 0; k < B; k++) {
        const d = decisions[bi * B + k];
        recs.push({ sample: sampleIdx[k], compute: d.compute, reason: d.reason, signal: d.signal, threshold: d.threshold, stage: d.stage, blocksComputed: blocksComputed[bi * B + k] });
      }
      perStep.push({ step: s, tModel, branch: b, computed: recs.filter((d) => d.compute).length, predicted: recs.filter((d) => !d.compute).length, decisions: recs });
    });
    onStep(s);
  }
  return { x, times, blockEvals, computedRows, predictedRows, cacheBytesPeak, perStep };
}

/** Samples `labels.length` images; each sample's result depends only on (seed, its index, options). */
export async function generate(model: DiT, o: GenerateOptions): Promise<GenerateResult> {
  const c = model.config;
  if (!Number.isFinite(o.cfgScale) || o.cfgScale < 0) throw new GenerateError(`cfg scale must be ≥ 0, got ${o.cfgScale}`);
  o.labels.forEach((l) => {
    if (!Number.isInteger(l) || l < 0 || l > c.numClasses) throw new GenerateError(`class ${l} is not in [0, ${c.numClasses - 1}] (or ${c.numClasses} for unconditional)`);
  });
  const pixelSpace = c.inChannels === 1 || c.inChannels === 3;
  const plan = makePlan({ ...o, clipX0: o.clipX0 === undefined ? (pixelSpace ? 1 : null) : o.clipX0 });
  const N = o.labels.length;
  const bs = o.batchSize ?? N;
  if (!Number.isInteger(bs) || bs < 1) throw new GenerateError(`batch size must be a positive integer, got ${bs}`);
  const px = c.inChannels * c.inputSize * c.inputSize;
  const samples = new Float32Array(N * px);
  const batches = Math.ceil(N / bs);
  const first = o.firstSampleIndex ?? 0;
  let times = emptyTimes();
  let blockEvals = 0;
  let computed = 0;
  let predicted = 0;
  let peak = 0;
  const perStep: StepRecord[] = [];
  const started = performance.now();
  const compiledBefore = model.compileMs;
  for (let b = 0; b < batches; b++) {
    const idx = Array.from({ length: Math.min(bs, N - b * bs) }, (_, k) => first + b * bs + k);
    const labels = idx.map((i) => o.labels[i - first]);
    const r = await runBatch(model, o, plan, idx, labels, (s) => o.onStep?.({ batch: b, batches, step: s, steps: plan.steps }));
    samples.set(r.x, b * bs * px);
    times = addTimes(times, r.times);
    blockEvals += r.blockEvals;
    computed += r.computedRows;
    predicted += r.predictedRows;
    peak = Math.max(peak, r.cacheBytesPeak);
    perStep.push(...r.perStep);
  }
  const setupMs = model.compileMs - compiledBefore;
  const rows = N * (o.cfgScale === 1 ? 1 : 2);
  const fullEvals = rows * plan.steps * c.depth;
  const fpb = blockFlops(c);
  const stats: RunStats = {
    method: o.cache?.name ?? 'none',
    preset: o.cache?.preset ?? '',
    settings: { ...(o.cache?.settings ?? {}) },
    steps: plan.steps,
    sampler: o.sampler,
    samples: N,
    branches: o.cfgScale === 1 ? ['cond'] : ['cond', 'uncond'],
    wallMs: performance.now() - started - setupMs,
    setupMs,
    times,
    blockComputeRatio: blockEvals / fullEvals,
    blockFlopsRun: blockEvals * fpb,
    blockFlopsFull: fullEvals * fpb,
    predictedCount: predicted,
    computedCount: computed,
    cacheBytesPeak: peak,
    perStep,
  };
  return { samples, shape: [N, c.inChannels, c.inputSize, c.inputSize], stats, plan };
}
