// The sampling loop: a request's samples in batches (each a one-member joint batch, joint-batch.ts, which
// applies guidance and the sampler), and the run's stats. Each step's model evaluation with feature caching
// (every row decides for itself) is step-eval.ts.
import type { CacheMethod } from '../cache/contract.js';
import type { DdpmVariance } from '../diffusion/ddpm.js';
import type { DdpmSchedule } from '../diffusion/schedule.js';
import { type PlanSpec, SamplerPlan, createPlan, planObjective, readsVarianceChannels } from '../diffusion/sampler.js';
import type { TimestepSpacing } from '../diffusion/spacing.js';
import { type Conditioning, type Denoiser, rowCount, selectRows } from '../models/denoiser.js';
import { GenerateError } from './errors.js';
import { RunStats, StepRecord, addTimes, emptyTimes } from './stats.js';
import { type BatchMember, type GuidanceChannels, runJointBatch } from './joint-batch.js';

export type SamplerName = 'ddim' | 'dpmpp-2m' | 'flow-euler' | 'ddpm';

export type { GuidanceChannels };

export interface GenerateOptions {
  /** one class label per sample (class-conditional models) */
  labels?: readonly number[];
  /**
   * Text-conditioned models: the conditioning of each sample (rows = samples: text embeddings, pooled
   * vector, guidance as the family needs); the CFG branch is the model's `unconditional` of it.
   */
  conditioning?: Conditioning;
  /**
   * The CFG unconditional branch's conditioning, used instead of the model's `unconditional` when given:
   * one row per sample, or one row for every sample (e.g. Wan's negative_prompt_embeds, which the caller
   * encodes since the model owns no text encoder). Ignored at cfgScale 1.
   */
  negativeConditioning?: Conditioning;
  seed: number;
  steps: number;
  sampler: SamplerName;
  /** A plan spec (and DDPM schedule) made from a pipeline's scheduler config; replaces sampler, spacing, eta, flowShift. */
  schedulerPlan?: { spec: PlanSpec; schedule: DdpmSchedule | null };
  cfgScale: number; // 1 = no guidance (one branch)
  /** channels guidance mixes (default 'all') */
  guidanceChannels?: GuidanceChannels;
  /** ancestral DDPM's variance (default: learned-range for a model with a learned variance, else fixed-small) */
  ddpmVariance?: DdpmVariance;
  cache?: CacheMethod; // absent = compute everything
  batchSize?: number; // samples per model batch (each sample's result does not depend on it)
  eta?: number;
  /** Clip DDIM/DPM x₀ estimates to ±clipX0. Default: 1 for pixel-space models (1 or 3 channels, as ADM's
   * clip_denoised), none for latent models (as DiT). */
  clipX0?: number | null;
  spacing?: TimestepSpacing | 'dit';
  flowShift?: number;
  /** Sample indices start here (noise of sample k depends only on seed and k). */
  firstSampleIndex?: number;
  onStep?: (p: { batch: number; batches: number; step: number; steps: number }) => void;
}

export interface GenerateResult {
  /** final x, [N, …latentShape] (e.g. [N, C, H, W]) in the model's data space ([−1, 1] for our pixel models) */
  samples: Float32Array;
  shape: number[];
  stats: RunStats;
  plan: SamplerPlan;
}

export { GenerateError };

export function makePlan(o: Pick<GenerateOptions, 'sampler' | 'steps' | 'eta' | 'clipX0' | 'spacing' | 'flowShift' | 'schedulerPlan' | 'ddpmVariance'>): SamplerPlan {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new GenerateError(`steps must be a positive integer, got ${o.steps}`);
  if (o.schedulerPlan) return createPlan(o.schedulerPlan.spec, o.schedulerPlan.schedule ?? undefined);
  const spacing = o.spacing === 'dit' ? undefined : o.spacing;
  if (o.spacing === 'dit' && o.sampler !== 'ddpm') throw new GenerateError(`spacing 'dit' (DiT's respacing) belongs to the ddpm sampler; ${o.sampler} takes leading, trailing or linspace`);
  switch (o.sampler) {
    case 'ddim':
      return createPlan({ kind: 'ddim', steps: o.steps, eta: o.eta, clipX0: o.clipX0 ?? null, spacing });
    case 'dpmpp-2m':
      return createPlan({ kind: 'dpmpp-2m', steps: o.steps, clipX0: o.clipX0 ?? null, spacing });
    case 'flow-euler':
      return createPlan({ kind: 'flow-euler', steps: o.steps, shift: o.flowShift });
    case 'ddpm':
      return createPlan({ kind: 'ddpm', steps: o.steps, variance: o.ddpmVariance ?? 'fixed-small', clipX0: o.clipX0 ?? null, spacing: o.spacing });
    default:
      throw new GenerateError(`unknown sampler "${String(o.sampler)}"; use ddim, dpmpp-2m, ddpm or flow-euler`);
  }
}

/**
 * The sampler plan `generate` runs for `model` with these options: x₀ clipped to ±1 for pixel-space models
 * unless `clipX0` says otherwise, DDPM's learned-range variance for a learn_sigma model; a sampler that
 * does not fit the model's objective or variance is refused.
 */
export function modelPlan(model: Denoiser, o: Pick<GenerateOptions, 'sampler' | 'steps' | 'eta' | 'clipX0' | 'spacing' | 'flowShift' | 'schedulerPlan' | 'ddpmVariance'>): SamplerPlan {
  const pixelSpace = model.latentShape[0] === 1 || model.latentShape[0] === 3;
  const plan = makePlan({ ...o, clipX0: o.clipX0 === undefined ? (pixelSpace ? 1 : null) : o.clipX0, ddpmVariance: o.ddpmVariance ?? (model.learnedVariance ? 'learned-range' : 'fixed-small') });
  if (readsVarianceChannels(plan) && !model.learnedVariance) throw new GenerateError(`the learned-range DDPM variance needs a model that predicts its variance (learn_sigma); this one does not — use fixed-small or fixed-large`);
  if ((planObjective(plan) === 'flow') !== (model.objective === 'flow')) throw new GenerateError(`the ${plan.kind} sampler does not fit a model trained with the ${model.objective} objective`);
  return plan;
}

/** The conditioning of every sample: class labels (checked against the model's classes) or the given rows. */
function sampleConditioning(model: Denoiser, o: GenerateOptions): Conditioning {
  if (!!o.labels === !!o.conditioning) throw new GenerateError('give either labels (class-conditional models) or conditioning (text-conditioned models), not both or neither');
  if (o.conditioning) {
    if (model.classes) throw new GenerateError(`this ${model.family} model is class-conditional: pass labels, not a text conditioning`);
    return o.conditioning;
  }
  const classes = model.classes;
  if (!classes) throw new GenerateError(`this ${model.family} model is not class-conditional; pass its conditioning (text embeddings …) instead of labels`);
  o.labels!.forEach((l) => {
    if (!Number.isInteger(l) || l < 0 || (l >= classes.count && l !== classes.nullLabel)) {
      throw new GenerateError(`class ${l} is not in [0, ${classes.count - 1}] (or ${classes.nullLabel} for unconditional)`);
    }
  });
  return { classLabels: o.labels! };
}

/** Samples one image per conditioning row; each sample's result depends only on (seed, its index, options). */
export async function generate(model: Denoiser, o: GenerateOptions): Promise<GenerateResult> {
  if (!Number.isFinite(o.cfgScale) || o.cfgScale < 0) throw new GenerateError(`cfg scale must be ≥ 0, got ${o.cfgScale}`);
  const sampleCond = sampleConditioning(model, o);
  const latent = model.latentShape;
  const plan = modelPlan(model, o);
  const N = rowCount(sampleCond);
  const negative = o.cfgScale === 1 ? undefined : o.negativeConditioning;
  const negativeRows = negative ? rowCount(negative) : 0;
  if (negative && negativeRows !== N && negativeRows !== 1) throw new GenerateError(`the negative conditioning has ${negativeRows} rows; give one per sample (${N}) or one for all`);
  const bs = o.batchSize ?? N;
  if (!Number.isInteger(bs) || bs < 1) throw new GenerateError(`batch size must be a positive integer, got ${bs}`);
  const px = latent.reduce((a, b) => a * b, 1);
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
    const cond = selectRows(sampleCond, idx.map((i) => i - first));
    const uncond = negative && selectRows(negative, idx.map((i) => (negativeRows === 1 ? 0 : i - first)));
    const member: BatchMember = {
      sampleIndices: idx,
      seed: o.seed,
      cond,
      ...(uncond ? { uncond } : {}),
      cfgScale: o.cfgScale,
      guidanceChannels: o.guidanceChannels ?? 'all',
      onStep: (s) => o.onStep?.({ batch: b, batches, step: s, steps: plan.steps }),
    };
    const r = await runJointBatch(model, plan, o.cache, [member]);
    const [m] = r.members;
    samples.set(m.x, b * bs * px);
    times = addTimes(times, r.times);
    blockEvals += m.blockEvals;
    computed += m.computedRows;
    predicted += m.predictedRows;
    peak = Math.max(peak, r.cacheBytesPeak);
    perStep.push(...m.perStep);
  }
  const setupMs = model.compileMs - compiledBefore;
  const rows = N * (o.cfgScale === 1 ? 1 : 2);
  const fullEvals = rows * plan.steps * model.depth;
  const fpb = model.blockFlops;
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
  return { samples, shape: [N, ...latent], stats, plan };
}
