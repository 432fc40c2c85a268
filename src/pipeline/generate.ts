// The sampling loop: batches of samples, classifier-free guidance, the sampler, and the run's stats. Each
// step's model evaluation with feature caching (every row decides for itself) is step-eval.ts.
import type { CacheMethod, StepInfo } from '../cache/contract.js';
import { applyGuidance, epsChannels, guideLeadingChannels } from '../diffusion/guidance.js';
import type { DdpmVariance } from '../diffusion/ddpm.js';
import type { DdpmSchedule } from '../diffusion/schedule.js';
import { noiseForSample, batchNoiseSource } from '../diffusion/rng.js';
import { type PlanSpec, SamplerPlan, createPlan, createSampler, planObjective, readsVarianceChannels } from '../diffusion/sampler.js';
import type { TimestepSpacing } from '../diffusion/spacing.js';
import { type Conditioning, type Denoiser, concatRows, rowCount, selectRows } from '../models/denoiser.js';
import { GenerateError } from './errors.js';
import { PhaseTimes, RunStats, SampleDecisionRecord, StepRecord, addTimes, emptyTimes } from './stats.js';
import { BatchEvaluator } from './step-eval.js';

export type SamplerName = 'ddim' | 'dpmpp-2m' | 'flow-euler' | 'ddpm';

/**
 * Which output channels classifier-free guidance mixes. 'all': every prediction channel (diffusers'
 * DiTPipeline, and every other pipeline). 'dit': the first 3 channels only, the rest from the conditional
 * branch — DiT's forward_with_cfg, kept to reproduce the DiT paper's samples.
 */
export type GuidanceChannels = 'all' | 'dit';

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
async function runBatch(model: Denoiser, o: GenerateOptions, plan: SamplerPlan, sampleIdx: number[], condRows: Conditioning, uncondRows: Conditioning | undefined, onStep: (s: number) => void): Promise<BatchRun> {
  const B = sampleIdx.length;
  const latent = model.latentShape;
  const C = latent[0];
  const px = latent.reduce((a, b) => a * b, 1);
  const branches = o.cfgScale === 1 ? ['cond'] : ['cond', 'uncond'];
  const rows = {
    cond: branches.length === 1 ? condRows : concatRows(condRows, uncondRows ?? model.unconditional(condRows)),
    samples: branches.flatMap(() => sampleIdx),
    branches: branches.flatMap((b) => sampleIdx.map(() => b)),
  };
  const taus = plan.timesteps.map((t) => t / 1000);
  // A clock that stops while the model compiles a graph on first use (reported apart as setupMs).
  const now = (): number => performance.now() - model.compileMs;
  const evaluator = new BatchEvaluator(model, o.cache, rows, { totalSteps: plan.steps, taus }, now);
  // η-noise of DDIM and the ancestral DDPM noise: per sample, so a sample's result does not depend on its batch
  const stochastic = !!o.eta || plan.kind === 'ddpm';
  const sampler = createSampler(plan, { noise: stochastic ? batchNoiseSource(o.seed + 7919, sampleIdx) : undefined, batchSize: B });
  const withVariance = readsVarianceChannels(plan);
  let x: Float32Array = new Float32Array(B * px);
  sampleIdx.forEach((s, k) => x.set(noiseForSample(o.seed, s, [...latent]), k * px));
  let cacheBytesPeak = 0;
  const perStep: StepRecord[] = [];

  for (let s = 0; s < plan.steps; s++) {
    const tModel = plan.timesteps[s];
    const step: StepInfo = { stepIndex: s, totalSteps: plan.steps, tau: taus[s] };
    // every CFG branch evaluates the same x_t
    const xRows = branches.length === 1 ? x : (() => {
      const xx = new Float32Array(branches.length * B * px);
      for (let b = 0; b < branches.length; b++) xx.set(x, b * B * px);
      return xx;
    })();
    const { out, decisions, blocksComputed } = await evaluator.evaluate(step, tModel, xRows);

    // Guidance on the ε/v channels, then the sampler step.
    const t0 = now();
    // the prediction is the first C output channels; a learned variance follows them (read by ancestral DDPM)
    const pred = model.learnedVariance && !withVariance ? epsChannels(out, [rows.samples.length, model.outputChannels, px / C, 1]) : out;
    const predC = withVariance ? model.outputChannels : C;
    const guidedC = o.guidanceChannels === 'dit' ? Math.min(3, C) : C;
    const half = B * predC * (px / C);
    const guided =
      branches.length === 1
        ? pred
        : guidedC === predC
          ? applyGuidance(pred.subarray(0, half), pred.subarray(half), o.cfgScale)
          : guideLeadingChannels(pred.subarray(0, half), pred.subarray(half), o.cfgScale, [B, predC, px / C, 1], guidedC);
    x = sampler.step(s, x, guided);
    evaluator.times.samplerMs += now() - t0;

    cacheBytesPeak = Math.max(cacheBytesPeak, evaluator.cacheBytes());
    branches.forEach((b, bi) => {
      const recs: SampleDecisionRecord[] = [];
      for (let k = 0; k < B; k++) {
        const d = decisions[bi * B + k];
        recs.push({ sample: sampleIdx[k], compute: d.compute, reason: d.reason, signal: d.signal, threshold: d.threshold, stage: d.stage, blocksComputed: blocksComputed?.[bi * B + k] });
      }
      perStep.push({ step: s, tModel, branch: b, computed: recs.filter((d) => d.compute).length, predicted: recs.filter((d) => !d.compute).length, decisions: recs });
    });
    onStep(s);
  }
  const { times, blockEvals, computedRows, predictedRows } = evaluator;
  return { x, times, blockEvals, computedRows, predictedRows, cacheBytesPeak, perStep };
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
  const pixelSpace = latent[0] === 1 || latent[0] === 3;
  const plan = makePlan({ ...o, clipX0: o.clipX0 === undefined ? (pixelSpace ? 1 : null) : o.clipX0, ddpmVariance: o.ddpmVariance ?? (model.learnedVariance ? 'learned-range' : 'fixed-small') });
  if (readsVarianceChannels(plan) && !model.learnedVariance) throw new GenerateError(`the learned-range DDPM variance needs a model that predicts its variance (learn_sigma); this one does not — use fixed-small or fixed-large`);
  if ((planObjective(plan) === 'flow') !== (model.objective === 'flow')) throw new GenerateError(`the ${plan.kind} sampler does not fit a model trained with the ${model.objective} objective`);
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
    const r = await runBatch(model, o, plan, idx, cond, uncond, (s) => o.onStep?.({ batch: b, batches, step: s, steps: plan.steps }));
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
