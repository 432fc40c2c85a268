// Rectified-flow / flow-matching sampling: x_σ = (1 − σ)·x0 + σ·ε, the model predicts v = ε − x0, and
// Euler steps along σ from 1 to 0 (SD3/FLUX-style timestep shift optional).
import { DiffusionConfigError, checkSameLength, checkStepIndex } from './errors.js';
import { f32 } from './float32.js';
import { flowMatchEulerStepF32 } from './flow-match.js';
import { Numerics, PlanCommon, checkSteps } from './plan.js';

export interface FlowMatchOptions {
  /** timestep shift s: σ' = s·σ / (1 + (s − 1)·σ); 1 disables it, SD3 uses 3. Default 1. */
  shift?: number;
  /** model timestep = σ·timestepScale. Default 1000. */
  timestepScale?: number;
  /**
   * [steps + 1] explicit σ, descending to 0, instead of the shifted linspace (shift is then not applied): e.g.
   * flowMatchEulerSchedule's, diffusers' FlowMatchEulerDiscreteScheduler.sigmas.
   */
  sigmas?: readonly number[];
  /**
   * 'float64' (default): timesteps σ·timestepScale and the Euler step in float64. 'diffusers': as
   * FlowMatchEulerDiscreteScheduler in float32 — timesteps fround(σ·timestepScale), dt = fround(σ' − σ), x + fround(dt·v).
   */
  numerics?: Numerics;
}

export interface FlowMatchPlan extends PlanCommon {
  readonly kind: 'flow-euler';
  readonly shift: number;
  readonly timestepScale: number;
  readonly numerics: Numerics;
  /** [steps + 1] σ from (shifted) 1 down to 0 */
  readonly sigmas: Float64Array;
}

/** Shift σ toward 1 (s > 1 spends more steps at high noise); fixes σ = 0 and σ = 1. */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/**
 * σ_k = shift(1 − k/steps), k = 0 … steps (linspace(1, 0, steps + 1)), as the rectified-flow papers lay them out;
 * or the explicit `sigmas`, e.g. diffusers' FlowMatchEulerDiscreteScheduler list from flowMatchEulerSchedule
 * (N points from 1 toward shift(1/T), shifted, then 0).
 */
export function flowMatchPlan(steps: number, opts: FlowMatchOptions = {}): FlowMatchPlan {
  const { shift = 1, timestepScale = 1000, numerics = 'float64' } = opts;
  checkSteps('flowMatchPlan', steps);
  if (opts.sigmas && shift !== 1) throw new DiffusionConfigError(`flowMatchPlan: give shift (${shift}) or explicit sigmas, not both; shift the σ before passing them`);
  if (!(shift > 0 && Number.isFinite(shift))) throw new DiffusionConfigError(`flowMatchPlan: shift must be a positive number, got ${shift}`);
  if (!(timestepScale > 0 && Number.isFinite(timestepScale))) {
    throw new DiffusionConfigError(`flowMatchPlan: timestepScale must be a positive number, got ${timestepScale}`);
  }
  const sigmas = opts.sigmas ? explicitSigmas(opts.sigmas, steps) : Float64Array.from({ length: steps + 1 }, (_, k) => shiftSigma(1 - k / steps, shift));
  const timesteps = Array.from(sigmas.subarray(0, steps), (sigma) => (numerics === 'diffusers' ? f32(sigma * timestepScale) : sigma * timestepScale));
  return {
    kind: 'flow-euler',
    steps,
    timesteps,
    stepDistances: timesteps.map((_, s) => (sigmas[s]! - sigmas[s + 1]!) * timestepScale),
    shift,
    timestepScale,
    numerics,
    sigmas,
  };
}

/** Euler: x' = x + (σ_{s+1} − σ_s)·v. x, velocity: same size; returns a new array. */
export function flowEulerStep(plan: FlowMatchPlan, stepIndex: number, x: Float32Array, velocity: Float32Array): Float32Array {
  checkStepIndex('flowEulerStep', stepIndex, plan.steps);
  checkSameLength('flowEulerStep velocity', x.length, velocity.length);
  if (plan.numerics === 'diffusers') return flowMatchEulerStepF32(plan.sigmas[stepIndex]!, plan.sigmas[stepIndex + 1]!, x, velocity);
  const dSigma = plan.sigmas[stepIndex + 1]! - plan.sigmas[stepIndex]!;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + dSigma * velocity[i]!;
  return out;
}

function explicitSigmas(given: readonly number[], steps: number): Float64Array {
  if (given.length !== steps + 1) throw new DiffusionConfigError(`flowMatchPlan: sigmas must hold steps + 1 = ${steps + 1} values (the last 0), got ${given.length}`);
  given.forEach((sigma, k) => {
    if (!(sigma >= 0 && sigma <= 1) || (k > 0 && !(sigma <= given[k - 1]!))) {
      throw new DiffusionConfigError(`flowMatchPlan: sigmas must descend within [0, 1]; sigmas[${k}] = ${sigma}`);
    }
  });
  if (given[steps] !== 0) throw new DiffusionConfigError(`flowMatchPlan: the last σ must be 0, got ${given[steps]}`);
  return Float64Array.from(given);
}
