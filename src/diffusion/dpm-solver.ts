// DPM-Solver++(2M) (Lu et al. 2022), data-prediction multistep solver for ε-models on the discrete DDPM
// schedule, as diffusers' DPMSolverMultistepScheduler (midpoint variant). Its one memory, the previous x0, lives in DpmSolverState.
import { DiffusionConfigError, checkSameLength, checkStepIndex } from './errors.js';
import { f32 } from './float32.js';
import { Numerics, PlanCommon, checkClip, checkSteps, clip } from './plan.js';
import { DdpmSchedule, logSnr } from './schedule.js';
import { SpacingOptions, TimestepSpacing, spaceTimesteps } from './spacing.js';

export interface DpmSolverOptions extends Omit<SpacingOptions, 'convention'> {
  spacing?: TimestepSpacing; // default 'linspace' (diffusers' default for this scheduler; N + 1 points minus the 0)
  /** the final step lands on σ = 0 ('zero', diffusers' default) or on ᾱ_0 ('min'). Default 'zero'. */
  finalSigma?: 'zero' | 'min';
  /** first-order final step when steps < 15 (it is always first order when landing on σ = 0). Default true. */
  lowerOrderFinal?: boolean;
  clipX0?: number | null; // clamp the x0 prediction; default null
  /**
   * 'float64' (default): α = √ᾱ, σ = √(1−ᾱ), λ and the step in float64. 'diffusers': DPMSolverMultistepScheduler
   * op for op in float32 as torch runs it — its σ/α ratios, α = 1/√(ratio² + 1), σ = ratio·α, λ = log α − log σ,
   * and each update's tensor ops; give it diffusersSchedule's float32 ᾱ to match diffusers.
   */
  numerics?: Numerics;
}

export interface DpmSolverPlan extends PlanCommon {
  readonly kind: 'dpmpp-2m';
  readonly spacing: TimestepSpacing;
  readonly clipX0: number | null;
  readonly numerics: Numerics;
  /** [steps + 1] σ/α = √((1 − ᾱ)/ᾱ) at timesteps[s], then at the final point (diffusers' scheduler.sigmas); 0 with finalSigma 'zero' */
  readonly noiseRatios: Float64Array;
  /** [steps + 1] α = √ᾱ at timesteps[s], then at the final point */
  readonly alphas: Float64Array;
  /** [steps + 1] σ = √(1 − ᾱ); the last is 0 with finalSigma 'zero' */
  readonly sigmas: Float64Array;
  /** [steps + 1] λ = log(α/σ); +Infinity at σ = 0 */
  readonly lambdas: Float64Array;
  /** [steps] solver order of each step: 1 for the first (no history) and a lowered final step, else 2 */
  readonly orders: readonly (1 | 2)[];
}

/** The solver's memory for one request (and one batch): x0 of the previous step. Create one per run. */
export interface DpmSolverState {
  prevX0: Float32Array | null;
  prevStepIndex: number; // −1 before the first step
}

export function createDpmSolverState(): DpmSolverState {
  return { prevX0: null, prevStepIndex: -1 };
}

export function dpmSolverPlan(schedule: DdpmSchedule, steps: number, opts: DpmSolverOptions = {}): DpmSolverPlan {
  const { spacing = 'linspace', finalSigma = 'zero', lowerOrderFinal = true, clipX0 = null, stepsOffset, numerics = 'float64' } = opts;
  checkSteps('dpmSolverPlan', steps);
  checkClip('dpmSolverPlan', clipX0);
  const timesteps = spaceTimesteps(schedule.trainSteps, steps, spacing, { stepsOffset, convention: 'dpmsolver' });
  const acp = [...timesteps.map((t) => schedule.alphasCumprod[t]!), finalSigma === 'zero' ? 1 : schedule.alphasCumprod[0]!];
  const landing = finalSigma === 'zero' ? -1 : 0;
  if (finalSigma === 'min' && timesteps[steps - 1] === 0) {
    throw new DiffusionConfigError(`dpmSolverPlan: finalSigma 'min' lands on t = 0, which is already the last timestep; use 'zero'`);
  }
  const lastFirstOrder = finalSigma === 'zero' || (lowerOrderFinal && steps < 15);
  if (numerics === 'diffusers' && clipX0 !== null) throw new DiffusionConfigError(`dpmSolverPlan: diffusers' DPMSolverMultistepScheduler has no x0 clipping; clipX0 must be null, got ${clipX0}`);
  const levels = numerics === 'diffusers' ? diffusersNoiseLevels(acp) : null;
  return {
    kind: 'dpmpp-2m',
    steps,
    timesteps,
    stepDistances: timesteps.map((t, s) => t - (timesteps[s + 1] ?? landing)),
    spacing,
    clipX0,
    numerics,
    noiseRatios: levels?.noiseRatios ?? Float64Array.from(acp, (a) => Math.sqrt((1 - a) / a)),
    alphas: levels?.alphas ?? Float64Array.from(acp, Math.sqrt),
    sigmas: levels?.sigmas ?? Float64Array.from(acp, (a) => Math.sqrt(1 - a)),
    lambdas: levels?.lambdas ?? Float64Array.from(acp, logSnr),
    orders: timesteps.map((_, s) => (s === 0 || (s === steps - 1 && lastFirstOrder) ? 1 : 2)),
  };
}

/**
 * One step from s to s+1, with h = λ_{s+1} − λ_s, x0 = (x − σ_s·ε)/α_s and D = x0 (order 1) or
 * D = x0 + (x0 − x0_prev)/(2·r), r = (λ_s − λ_{s−1})/h (order 2, midpoint):
 *   x' = (σ_{s+1}/σ_s)·x − α_{s+1}·(e^{−h} − 1)·D
 * Steps must come in order 0, 1, 2, … with the same state; returns a new array.
 */
export function dpmSolverStep(plan: DpmSolverPlan, state: DpmSolverState, stepIndex: number, x: Float32Array, eps: Float32Array): Float32Array {
  checkStepIndex('dpmSolverStep', stepIndex, plan.steps);
  checkSameLength('dpmSolverStep eps', x.length, eps.length);
  if (state.prevStepIndex !== stepIndex - 1) {
    throw new DiffusionConfigError(
      `dpmSolverStep: step ${stepIndex} after step ${state.prevStepIndex}; steps must run in order, with a fresh createDpmSolverState() per request`,
    );
  }
  const s = stepIndex;
  const out = plan.numerics === 'diffusers' ? dpmSolverStepDiffusers(plan, state, s, x, eps) : dpmSolverStepFloat64(plan, state, s, x, eps);
  state.prevStepIndex = s;
  return out;
}

function dpmSolverStepFloat64(plan: DpmSolverPlan, state: DpmSolverState, s: number, x: Float32Array, eps: Float32Array): Float32Array {
  const [alphaS, sigmaS, alphaT, sigmaT] = [plan.alphas[s]!, plan.sigmas[s]!, plan.alphas[s + 1]!, plan.sigmas[s + 1]!];
  const h = plan.lambdas[s + 1]! - plan.lambdas[s]!;
  const prevX0 = plan.orders[s] === 2 ? state.prevX0 : null;
  if (prevX0) checkSameLength('dpmSolverStep (x changed size between steps)', prevX0.length, x.length);
  const halfOverR = prevX0 ? (0.5 * h) / (plan.lambdas[s]! - plan.lambdas[s - 1]!) : 0;
  const xCoef = sigmaT / sigmaS; // 0 when landing on σ = 0
  const dCoef = -alphaT * Math.expm1(-h); // α_{s+1}·(1 − e^{−h}); exact α_{s+1} when h = ∞
  const x0 = new Float32Array(x.length);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0i = clip((x[i]! - sigmaS * eps[i]!) / alphaS, plan.clipX0);
    x0[i] = x0i;
    const d = prevX0 ? x0i + halfOverR * (x0i - prevX0[i]!) : x0i;
    out[i] = xCoef * x[i]! + dCoef * d;
  }
  state.prevX0 = x0;
  return out;
}

/**
 * diffusers' convert_model_output, then dpm_solver_first_order_update or multistep_dpm_solver_second_order_update
 * (dpmsolver++, midpoint), in float32 with torch's operation order:
 *   x' = (σ_t/σ_s)·x − (α_t·(e^{−h} − 1))·D0 − ½·(α_t·(e^{−h} − 1))·D1,  D1 = (1/r0)·(x0 − x0_prev)
 */
function dpmSolverStepDiffusers(plan: DpmSolverPlan, state: DpmSolverState, s: number, x: Float32Array, eps: Float32Array): Float32Array {
  const [alphaS, sigmaS, alphaT, sigmaT] = [plan.alphas[s]!, plan.sigmas[s]!, plan.alphas[s + 1]!, plan.sigmas[s + 1]!];
  const h = f32(plan.lambdas[s + 1]! - plan.lambdas[s]!);
  const xCoef = f32(sigmaT / sigmaS);
  const dCoef = f32(alphaT * f32(f32(Math.exp(-h)) - 1));
  const prevX0 = plan.orders[s] === 2 ? state.prevX0 : null;
  if (prevX0) checkSameLength('dpmSolverStep (x changed size between steps)', prevX0.length, x.length);
  const invR0 = prevX0 ? f32(1 / f32(f32(plan.lambdas[s]! - plan.lambdas[s - 1]!) / h)) : 0;
  const d1Coef = f32(0.5 * dCoef);
  const x0 = new Float32Array(x.length);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    x0[i] = f32(x[i]! - f32(sigmaS * eps[i]!)) / alphaS;
    const firstOrder = f32(f32(xCoef * x[i]!) - f32(dCoef * x0[i]!));
    out[i] = prevX0 ? firstOrder - f32(d1Coef * f32(invR0 * f32(x0[i]! - prevX0[i]!))) : firstOrder;
  }
  state.prevX0 = x0;
  return out;
}

/** diffusers' per-point noise levels from float32 ᾱ: ratio = √((1−ᾱ)/ᾱ), α = 1/√(ratio² + 1), σ = ratio·α, λ = log α − log σ. */
function diffusersNoiseLevels(acp: readonly number[]): { noiseRatios: Float64Array; alphas: Float64Array; sigmas: Float64Array; lambdas: Float64Array } {
  const noiseRatios = Float64Array.from(acp, (a) => (a === 1 ? 0 : f32(Math.sqrt(f32(f32(1 - a) / a)))));
  const alphas = noiseRatios.map((r) => f32(1 / f32(Math.sqrt(f32(f32(r * r) + 1)))));
  const sigmas = noiseRatios.map((r, k) => f32(r * alphas[k]!));
  const lambdas = alphas.map((a, k) => f32(f32(Math.log(a)) - f32(Math.log(sigmas[k]!))));
  return { noiseRatios, alphas, sigmas, lambdas };
}
