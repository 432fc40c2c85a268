// Ancestral DDPM sampling (Ho et al. 2020) on a respaced schedule, as DiT's sample.py runs it: each step
// draws x' from the Gaussian posterior q(x' | x, x0) with x0 predicted from ε, and a variance that is the
// model's learned interpolation between β̃ and β (Nichol & Dhariwal 2021, "learned range") or fixed to one.
import { DiffusionConfigError, DiffusionShapeError, checkSameLength, checkStepIndex } from './errors.js';
import { PlanCommon, checkClip, checkSteps, clip } from './plan.js';
import { NoiseSource } from './rng.js';
import { DdpmSchedule } from './schedule.js';
import { SpacingOptions, TimestepSpacing, ditSpaceTimesteps, spaceTimesteps } from './spacing.js';

/**
 * The per-step noise variance σ²:
 * 'learned-range': exp(frac·log β + (1 − frac)·log β̃), frac = (v + 1)/2, v the model's variance channels
 *   (DiT and ADM models trained with learn_sigma; diffusers `variance_type: "learned_range"`);
 * 'fixed-small': β̃, the posterior variance (diffusers "fixed_small", DiT sigma_small);
 * 'fixed-large': β (diffusers "fixed_large", ADM's default without learned σ).
 */
export type DdpmVariance = 'learned-range' | 'fixed-small' | 'fixed-large';

export const DDPM_VARIANCES: readonly DdpmVariance[] = ['learned-range', 'fixed-small', 'fixed-large'];

/** diffusers' spacings, or 'dit': DiT's `space_timesteps(T, [N])` (ditSpaceTimesteps), what its sample.py runs. */
export type DdpmSpacing = TimestepSpacing | 'dit';

export interface DdpmOptions extends Omit<SpacingOptions, 'convention'> {
  variance: DdpmVariance;
  /** Default 'dit' (DiT's sample.py); diffusers' DDPMScheduler defaults to 'leading'. stepsOffset applies to 'leading' only. */
  spacing?: DdpmSpacing;
  /** clamp the x0 prediction to [−clipX0, clipX0]; default null (DiT samples latents with clip_denoised=False) */
  clipX0?: number | null;
}

export interface DdpmPlan extends PlanCommon {
  readonly kind: 'ddpm';
  readonly spacing: DdpmSpacing;
  readonly variance: DdpmVariance;
  readonly clipX0: number | null;
  /** true for 'learned-range': step() reads the model output [B, 2C, H, W] = ε ‖ variance channels, else [B, C, H, W] = ε */
  readonly readsVarianceChannels: boolean;
  /** [steps] ᾱ at timesteps[s] */
  readonly alphasCumprod: Float64Array;
  /** [steps] ᾱ step s lands on: ᾱ at timesteps[s + 1], and 1 for the last step (DiT's respaced chain ends on a clean sample) */
  readonly alphasCumprodPrev: Float64Array;
  /** [steps] β of the respaced chain, 1 − ᾱ_s/ᾱ_{s, prev}, as SpacedDiffusion recomputes it from the kept ᾱ */
  readonly betas: Float64Array;
  /** [steps] β̃ = β·(1 − ᾱ_prev)/(1 − ᾱ), the variance of q(x' | x, x0); 0 on the last step */
  readonly posteriorVariances: Float64Array;
  /** [steps] upper end of the learned range, log β */
  readonly logVarianceMax: Float64Array;
  /**
   * [steps] lower end, log β̃; on the last step (β̃ = 0) the previous step's value, as DiT clips it
   * (log β on a one-step plan). The last step adds no noise, so its bounds never reach a sample.
   */
  readonly logVarianceMin: Float64Array;
  /** [steps] posterior mean μ = coefX0·x0 + coefXt·x: β·√ᾱ_prev/(1 − ᾱ) */
  readonly meanCoefX0: Float64Array;
  /** [steps] (1 − ᾱ_prev)·√(1 − β)/(1 − ᾱ) */
  readonly meanCoefXt: Float64Array;
}

export function ddpmPlan(schedule: DdpmSchedule, steps: number, opts: DdpmOptions): DdpmPlan {
  const { variance, spacing = 'dit', clipX0 = null, stepsOffset } = opts;
  checkSteps('ddpmPlan', steps);
  checkClip('ddpmPlan', clipX0);
  if (!DDPM_VARIANCES.includes(variance)) {
    throw new DiffusionConfigError(`ddpmPlan: variance must be one of ${DDPM_VARIANCES.join(', ')}, got ${String(variance)}`);
  }
  const timesteps =
    spacing === 'dit' ? ditSpaceTimesteps(schedule.trainSteps, steps) : spaceTimesteps(schedule.trainSteps, steps, spacing, { stepsOffset, convention: 'ddim' });
  const acp = schedule.alphasCumprod;
  const alphasCumprod = Float64Array.from(timesteps, (t) => acp[t]!);
  const alphasCumprodPrev = Float64Array.from(timesteps, (_, s) => (s + 1 < steps ? acp[timesteps[s + 1]!]! : 1));
  const betas = alphasCumprod.map((a, s) => 1 - a / alphasCumprodPrev[s]!);
  const posteriorVariances = betas.map((b, s) => (b * (1 - alphasCumprodPrev[s]!)) / (1 - alphasCumprod[s]!));
  const logVarianceMax = betas.map(Math.log);
  const logVarianceMin = posteriorVariances.map(Math.log);
  // β̃ = 0 on the last step; DiT's posterior_log_variance_clipped repeats the neighbouring step's value there
  logVarianceMin[steps - 1] = steps > 1 ? logVarianceMin[steps - 2]! : logVarianceMax[steps - 1]!;
  return {
    kind: 'ddpm',
    steps,
    timesteps,
    stepDistances: timesteps.map((t, s) => t - (timesteps[s + 1] ?? -1)),
    spacing,
    variance,
    clipX0,
    readsVarianceChannels: variance === 'learned-range',
    alphasCumprod,
    alphasCumprodPrev,
    betas,
    posteriorVariances,
    logVarianceMax,
    logVarianceMin,
    meanCoefX0: betas.map((b, s) => (b * Math.sqrt(alphasCumprodPrev[s]!)) / (1 - alphasCumprod[s]!)),
    meanCoefXt: betas.map((b, s) => ((1 - alphasCumprodPrev[s]!) * Math.sqrt(1 - b)) / (1 - alphasCumprod[s]!)),
  };
}

/**
 * log σ² of step s. `varianceValue` is one value v of the model's variance channels; only 'learned-range'
 * reads it: frac·log β + (1 − frac)·log β̃ with frac = (v + 1)/2 (v = 1 → β, v = −1 → β̃; not clamped, as in DiT).
 */
export function ddpmLogVariance(plan: DdpmPlan, stepIndex: number, varianceValue = 0): number {
  const [logMin, logMax] = [plan.logVarianceMin[stepIndex]!, plan.logVarianceMax[stepIndex]!];
  switch (plan.variance) {
    case 'fixed-small':
      return logMin;
    case 'fixed-large':
      return logMax;
    case 'learned-range': {
      const frac = (varianceValue + 1) / 2;
      return frac * logMax + (1 - frac) * logMin;
    }
  }
}

export interface DdpmStepInputs {
  /** the per-step noise z (not drawn on the last step); e.g. batchNoiseSource(seed, sampleIndices) */
  noise?: NoiseSource;
  /** rows B of x; 'learned-range' needs it to find each row's variance channels in [B, 2C, H, W] */
  batchSize?: number;
}

/**
 * One ancestral step from ᾱ = a (timesteps[s]) to ᾱ' (the next timestep, or 1 after the last):
 *   x0 = (x − √(1 − a)·ε)/√a                     (clipped if clipX0; the mean then uses the clipped x0)
 *   x' = coefX0·x0 + coefXt·x + σ·z,  σ = exp(½·ddpmLogVariance), z ~ N(0, I) from `noise`
 * with no noise on the last step (DiT: none at t = 0 of the respaced chain).
 * x: [B, C, H, W] flattened; modelOut: [B, 2C, H, W] (ε then variance channels, per row) when
 * plan.readsVarianceChannels, else [B, C, H, W] = ε. Returns a new array the size of x.
 */
export function ddpmStep(plan: DdpmPlan, stepIndex: number, x: Float32Array, modelOut: Float32Array, inputs: DdpmStepInputs = {}): Float32Array {
  checkStepIndex('ddpmStep', stepIndex, plan.steps);
  const rowValues = ddpmRowValues(plan, x.length, modelOut.length, inputs.batchSize);
  const lastStep = stepIndex === plan.steps - 1;
  let z: Float32Array | null = null;
  if (!lastStep) {
    if (!inputs.noise) throw new DiffusionConfigError('ddpmStep: ancestral sampling needs a noise source (e.g. batchNoiseSource(seed, samples))');
    z = inputs.noise(x.length);
    checkSameLength('ddpmStep noise', x.length, z.length);
  }
  const a = plan.alphasCumprod[stepIndex]!;
  const [sqrtA, sqrtOneMinusA] = [Math.sqrt(a), Math.sqrt(1 - a)];
  const [coefX0, coefXt] = [plan.meanCoefX0[stepIndex]!, plan.meanCoefXt[stepIndex]!];
  const fixedStd = plan.readsVarianceChannels ? 0 : Math.exp(0.5 * ddpmLogVariance(plan, stepIndex));
  // ε of x[i] sits at modelOut[i] without variance channels; with them, row b's ε block starts at 2·b·rowValues
  const stride = plan.readsVarianceChannels ? 2 : 1;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const row = Math.floor(i / rowValues);
    const epsAt = row * rowValues * stride + (i - row * rowValues);
    const x0 = clip((x[i]! - sqrtOneMinusA * modelOut[epsAt]!) / sqrtA, plan.clipX0);
    const mean = coefX0 * x0 + coefXt * x[i]!;
    if (z === null) {
      out[i] = mean;
      continue;
    }
    const std = plan.readsVarianceChannels ? Math.exp(0.5 * ddpmLogVariance(plan, stepIndex, modelOut[epsAt + rowValues]!)) : fixedStd;
    out[i] = mean + std * z[i]!;
  }
  return out;
}

/** Values per row of x ([C, H, W] of one sample); checks the model output is ε (‖ variance channels) for x. */
function ddpmRowValues(plan: DdpmPlan, xValues: number, outValues: number, batchSize: number | undefined): number {
  if (!plan.readsVarianceChannels) {
    checkSameLength(`ddpmStep ε (variance '${plan.variance}' reads no variance channels)`, xValues, outValues);
    return xValues;
  }
  if (outValues !== 2 * xValues) {
    throw new DiffusionShapeError(
      `ddpmStep: variance 'learned-range' reads [B, 2C, H, W] = ε ‖ variance channels, ${2 * xValues} values for x of ${xValues}; got ${outValues}`,
    );
  }
  if (batchSize === undefined) {
    throw new DiffusionConfigError("ddpmStep: variance 'learned-range' needs batchSize (rows of x) to find each row's variance channels");
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || xValues % batchSize !== 0) {
    throw new DiffusionShapeError(`ddpmStep: batchSize must be a positive integer dividing x's ${xValues} values, got ${batchSize}`);
  }
  return xValues / batchSize;
}
