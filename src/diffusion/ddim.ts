// DDIM (Song et al. 2021) on a discrete DDPM schedule, for ε-prediction models: η = 0 is the
// deterministic probability-flow sampler DiT uses; η = 1 reproduces DDPM's ancestral step.
import { DiffusionConfigError, checkSameLength, checkStepIndex } from './errors.js';
import { f32 } from './float32.js';
import { Numerics, PlanCommon, checkClip, checkSteps, clip } from './plan.js';
import { NoiseSource } from './rng.js';
import { DdpmSchedule } from './schedule.js';
import { SpacingOptions, TimestepSpacing, spaceTimesteps } from './spacing.js';

export interface DdimOptions extends Omit<SpacingOptions, 'convention'> {
  spacing?: TimestepSpacing; // default 'leading' (diffusers DDIMScheduler's default)
  eta?: number; // default 0
  /** clamp the x0 prediction to [−clipX0, clipX0]; default null (DiT latents are not clipped; pixel models may use 1) */
  clipX0?: number | null;
  /**
   * ᾱ the final step lands on (diffusers `set_alpha_to_one`): true → 1, a clean sample, as DiT's respacing
   * does; false → ᾱ_0, leaving the t = 0 noise level in. Default true.
   */
  setAlphaToOne?: boolean;
  /**
   * Where step s lands. 'next': the plan's next timestep (DiT's respaced DDIM; consistent for every spacing).
   * 'step-ratio': t − T // N (diffusers DDIMScheduler.step), which for 'linspace'/'trailing' can land between
   * plan timesteps. They agree for 'leading'. Default 'next'.
   */
  prevTimestep?: 'next' | 'step-ratio';
  /**
   * 'float64' (default): the formulas below in float64, ε re-derived from a clipped x0 (ADM/DiT's ddim_sample).
   * 'diffusers': DDIMScheduler.step op for op in float32 as torch runs it, keeping the model's ε after clipping x0
   * (its default use_clipped_model_output=False); give it diffusersSchedule's float32 ᾱ to match diffusers.
   */
  numerics?: Numerics;
}

export interface DdimPlan extends PlanCommon {
  readonly kind: 'ddim';
  readonly spacing: TimestepSpacing;
  readonly eta: number;
  readonly clipX0: number | null;
  readonly numerics: Numerics;
  /** [steps] timestep each step lands on; −1 means the final ᾱ (see setAlphaToOne) */
  readonly prevTimesteps: readonly number[];
  /** [steps] ᾱ at timesteps[s] */
  readonly alphasCumprod: Float64Array;
  /** [steps] ᾱ the step lands on */
  readonly alphasCumprodPrev: Float64Array;
}

export function ddimPlan(schedule: DdpmSchedule, steps: number, opts: DdimOptions = {}): DdimPlan {
  const { spacing = 'leading', eta = 0, clipX0 = null, setAlphaToOne = true, prevTimestep = 'next', stepsOffset, numerics = 'float64' } = opts;
  checkSteps('ddimPlan', steps);
  checkClip('ddimPlan', clipX0);
  if (!(eta >= 0 && eta <= 1)) throw new DiffusionConfigError(`ddimPlan: eta must be in [0, 1], got ${eta}`);
  const T = schedule.trainSteps;
  const timesteps = spaceTimesteps(T, steps, spacing, { stepsOffset, convention: 'ddim' });
  const ratio = Math.floor(T / steps);
  const prevTimesteps = timesteps.map((t, s) => (prevTimestep === 'step-ratio' ? t - ratio : (timesteps[s + 1] ?? -1)));
  const acp = schedule.alphasCumprod;
  const finalAlphaCumprod = setAlphaToOne ? 1 : acp[0]!;
  return {
    kind: 'ddim',
    steps,
    timesteps,
    stepDistances: timesteps.map((t, s) => t - Math.max(-1, prevTimesteps[s]!)),
    spacing,
    eta,
    clipX0,
    numerics,
    prevTimesteps: prevTimesteps.map((t) => Math.max(-1, t)),
    alphasCumprod: Float64Array.from(timesteps, (t) => acp[t]!),
    alphasCumprodPrev: Float64Array.from(prevTimesteps, (t) => (t >= 0 ? acp[t]! : finalAlphaCumprod)),
  };
}

/**
 * One DDIM step from ᾱ = a (at timesteps[s]) to ᾱ' = a':
 *   x0 = (x − √(1−a)·ε) / √a                       (clipped if clipX0; ε is then re-derived from x0)
 *   σ  = η·√((1−a')/(1−a))·√(1 − a/a')
 *   x' = √a'·x0 + √(1 − a' − σ²)·ε + σ·z,   z ~ N(0, I) from `noise` (needed only when σ > 0)
 * x, eps: same size ([B, C, H, W] flattened); returns a new array.
 */
export function ddimStep(plan: DdimPlan, stepIndex: number, x: Float32Array, eps: Float32Array, noise?: NoiseSource): Float32Array {
  checkStepIndex('ddimStep', stepIndex, plan.steps);
  checkSameLength('ddimStep eps', x.length, eps.length);
  if (plan.numerics === 'diffusers') return ddimStepDiffusers(plan, stepIndex, x, eps, noise);
  const a = plan.alphasCumprod[stepIndex]!;
  const aPrev = plan.alphasCumprodPrev[stepIndex]!;
  const sigma = plan.eta * Math.sqrt((1 - aPrev) / (1 - a)) * Math.sqrt(1 - a / aPrev);
  const dirCoef = Math.sqrt(Math.max(0, 1 - aPrev - sigma * sigma));
  const [sqrtA, sqrtOneMinusA, sqrtAPrev] = [Math.sqrt(a), Math.sqrt(1 - a), Math.sqrt(aPrev)];
  let z: Float32Array | null = null;
  if (sigma > 0) {
    if (!noise) throw new DiffusionConfigError(`ddimStep: eta = ${plan.eta} needs a noise source (e.g. batchNoiseSource(seed, samples))`);
    z = noise(x.length);
    checkSameLength('ddimStep noise', x.length, z.length);
  }
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0Raw = (x[i]! - sqrtOneMinusA * eps[i]!) / sqrtA;
    const x0 = clip(x0Raw, plan.clipX0);
    const e = x0 === x0Raw ? eps[i]! : (x[i]! - sqrtA * x0) / sqrtOneMinusA;
    out[i] = sqrtAPrev * x0 + dirCoef * e + (z ? sigma * z[i]! : 0);
  }
  return out;
}

/**
 * DDIMScheduler.step(ε, t, x, eta) as torch computes it in float32 (0-dim tensors for the coefficients):
 *   x0 = (x − √(1−a)·ε)/√a, clamped;  σ = η·√((1−a')/(1−a)·(1 − a/a'));  x' = √a'·x0 + √(1 − a' − σ²)·ε (+ σ·z)
 */
function ddimStepDiffusers(plan: DdimPlan, stepIndex: number, x: Float32Array, eps: Float32Array, noise?: NoiseSource): Float32Array {
  const a = plan.alphasCumprod[stepIndex]!;
  const aPrev = plan.alphasCumprodPrev[stepIndex]!;
  const betaProd = f32(1 - a);
  const betaProdPrev = f32(1 - aPrev);
  const [sqrtBetaProd, sqrtA, sqrtAPrev] = [f32(Math.sqrt(betaProd)), f32(Math.sqrt(a)), f32(Math.sqrt(aPrev))];
  const variance = f32(f32(betaProdPrev / betaProd) * f32(1 - f32(a / aPrev)));
  const std = f32(f32(plan.eta) * f32(Math.sqrt(variance)));
  const dirCoef = f32(Math.sqrt(f32(betaProdPrev - f32(std * std))));
  let z: Float32Array | null = null;
  if (plan.eta > 0) {
    if (!noise) throw new DiffusionConfigError(`ddimStep: eta = ${plan.eta} needs a noise source (e.g. batchNoiseSource(seed, samples))`);
    z = noise(x.length);
    checkSameLength('ddimStep noise', x.length, z.length);
  }
  const bound = plan.clipX0 === null ? null : f32(plan.clipX0); // clamp's Python-float bounds become float32
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = clip(f32(f32(x[i]! - f32(sqrtBetaProd * eps[i]!)) / sqrtA), bound);
    const prev = f32(f32(sqrtAPrev * x0) + f32(dirCoef * eps[i]!));
    out[i] = z ? prev + f32(std * z[i]!) : prev;
  }
  return out;
}
