// Measures one bench row: the method's N samples (block compute, fidelity to the full run, FID, class
// accuracy), then its wall-clock speedup in interleaved (full, method) pairs, and its image strip.
import { resolveCacheChoice, type CacheChoice } from '../../cli/cache-choice.js';
import { type Denoiser, classCount } from '../../models/denoiser.js';
import { generate, type GenerateResult } from '../../pipeline/generate.js';
import { splitSteps } from '../../pipeline/stats.js';
import { toUnitRange } from '../../pipeline/images.js';
import type { MnistReference } from '../metrics.js';
import type { BenchConfig } from './config.js';
import { stripPath, writeStrip } from './grids.js';
import type { ModelEntry } from './model-entries.js';
import { distribution, fidelity } from './quality.js';
import { rowKey, type BenchRow, type ModelRecord } from './rows.js';
import { speedupFloor, timeInterleaved } from './timing.js';
import type { Variant } from './variants.js';

/** What every row of one (model, steps) group shares. */
export interface GroupContext {
  readonly config: BenchConfig;
  readonly model: Denoiser;
  readonly entry: ModelEntry;
  readonly steps: number;
  readonly teacache: ModelRecord['teacache'];
  /** The full run of the group's N samples, and its images in [0, 1]. */
  readonly full: GenerateResult;
  readonly fullImages: Float32Array;
  readonly fullSha256: string;
  /** FID of the group's `none` row (undefined while measuring that row). */
  readonly fullFid: number | undefined;
  readonly ref: MnistReference;
  /** Folder of the run's figures (strips go to <figDir>/strips). */
  readonly figDir: string;
  readonly machine: string;
  readonly onUnits?: (sampleSteps: number) => void;
}

/**
 * The cache method and step count a variant samples with (fewer-steps: no cache, K steps). TeaCache gets
 * the coefficients recorded for the model in the result file (stored beside it or fitted once).
 */
export function variantChoice(v: Variant, steps: number, teacache: ModelRecord['teacache'], modelPath: string | undefined): CacheChoice {
  if (v.method === 'none') return { method: undefined, steps, label: 'none' };
  if (v.method === 'fewer-steps') return resolveCacheChoice('fewer-steps', undefined, [`steps=${v.stepsRun}`], steps);
  const sets = v.method === 'teacache' ? [`coefficients=${teacache.coefficients.join(',')}`] : [];
  return resolveCacheChoice(v.method, v.preset, sets, steps, modelPath);
}

export async function measureRow(ctx: GroupContext, v: Variant): Promise<BenchRow> {
  const { config, model, steps } = ctx;
  const onStep = (n: number, bs: number) => (p: { batch: number }) => ctx.onUnits?.(Math.min(bs, n - p.batch * bs));
  const choice = variantChoice(v, ctx.steps, ctx.teacache, ctx.entry.path);
  const isNone = v.method === 'none';
  const labels = Array.from({ length: config.n }, (_, i) => i % classCount(model));
  const base = { labels, seed: config.seed, sampler: ctx.entry.sampler, cfgScale: config.cfgScale, batchSize: Math.min(config.batchSize, config.n) };

  // Quality on all N samples (the `none` row is the group's full run itself).
  const result = isNone ? ctx.full : await generate(model, { ...base, steps: choice.steps, cache: choice.method, onStep: onStep(config.n, base.batchSize) });
  const images = isNone ? ctx.fullImages : toUnitRange(result.samples);
  const [n, c, h, w] = result.shape;
  const fid = fidelity(images, ctx.fullImages, n, c, h, w);
  const dist = await distribution(ctx.ref, images, labels);

  // Speed on the first timingN samples in one batch.
  const tn = config.timingN;
  const timingBase = { ...base, labels: labels.slice(0, tn), batchSize: tn };
  // Untimed warm-up of the method on the timing batch: its batch shapes are new to ORT (the full one is warm).
  if (!isNone) await generate(model, { ...timingBase, steps: choice.steps, cache: choice.method, onStep: onStep(tn, tn) });
  const timing = await timeInterleaved(
    config.reps,
    async () => (await generate(model, { ...timingBase, steps, onStep: onStep(tn, tn) })).stats,
    async () => (await generate(model, { ...timingBase, steps: choice.steps, cache: choice.method, onStep: onStep(tn, tn) })).stats,
  );
  const key = rowKey(ctx.entry.name, steps, v.method, v.preset);
  writeStrip(stripPath(ctx.figDir, key), images, n, h, w, config.gridSeeds);

  // fewer-steps computes K of the requested steps: its block compute counts against the request.
  const ratio = (result.stats.blockComputeRatio * choice.steps) / steps;
  const settings: BenchRow['settings'] =
    v.method === 'fewer-steps' ? { steps: choice.steps, requestedSteps: steps, derivedFrom: (v.derivedFrom ?? []).join(',') } : { ...(choice.method?.settings ?? {}) };
  return {
    key,
    model: ctx.entry.name,
    modelPath: ctx.entry.shownPath,
    objective: ctx.entry.objective,
    sampler: ctx.entry.sampler,
    steps,
    stepsRun: choice.steps,
    method: v.method,
    preset: v.preset,
    label: v.method === 'fewer-steps' ? `fewer-steps ${choice.steps}/${steps}` : `${v.method}/${v.preset}`,
    settings,
    n,
    seed: config.seed,
    labels: `k mod ${classCount(model)}`,
    cfgScale: config.cfgScale,
    threads: config.threads,
    machine: ctx.machine,
    date: new Date().toISOString(),
    blockComputeRatio: ratio,
    computedSteps: ratio * steps,
    predictedPasses: result.stats.predictedCount,
    computedPasses: result.stats.computedCount,
    timing: { speedup: timing.speedup, fullWallMs: timing.fullWallMs, methodWallMs: timing.methodWallMs, reps: config.reps, samples: tn },
    speedupWall: timing.speedup.median,
    speedupBound: speedupFloor(ratio, timing.blocksShare),
    blocksShare: timing.blocksShare,
    psnr: fid.psnr,
    ssim: fid.ssim,
    fid: dist.fid,
    ...(dist.fidStd !== undefined ? { fidStd: dist.fidStd } : {}),
    ...(dist.fidError ? { fidError: dist.fidError } : {}),
    fidFull: isNone ? dist.fid : (ctx.fullFid ?? NaN),
    fidReal: dist.fidReal,
    classAcc: dist.classAcc,
    cacheMsPerStep: timing.cacheMsPerStep,
    cacheOverheadPct: (100 * timing.cacheMsPerStep) / timing.fullStepMs,
    signalMsPerStep: timing.signalMsPerStep,
    cacheBytesPeak: result.stats.cacheBytesPeak,
    splitSteps: splitSteps(timing.pairs[0].method),
    qualityWallMs: result.stats.wallMs,
    ...(isNone ? { samplesSha256: ctx.fullSha256 } : {}),
  };
}
