// Rectified-flow / flow-matching sampling: x_σ = (1 − σ)·x0 + σ·ε, the model predicts v = ε − x0, and
// Euler steps along σ from 1 to 0 (SD3/FLUX-style timestep shift optional).
import { DiffusionConfigError, checkSameLength, checkStepIndex } from './errors.js';
import { PlanCommon, checkSteps } from './plan.js';

export interface FlowMatchOptions {
  /** timestep shift s: σ' = s·σ / (1 + (s − 1)·σ); 1 disables it, SD3 uses 3. Default 1. */
  shift?: number;
  /** model timestep = σ·timestepScale. Default 1000. */
  timestepScale?: number;
}

export interface FlowMatchPlan extends PlanCommon {
  readonly kind: 'flow-euler';
  readonly shift: number;
  readonly timestepScale: number;
  /** [steps + 1] shifted σ, from 1 down to 0 */
  readonly sigmas: Float64Array;
}

/** Shift σ toward 1 (s > 1 spends more steps at high noise); fixes σ = 0 and σ = 1. */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/**
 * σ_k = shift(1 − k/steps), k = 0 … steps (linspace(1, 0, steps + 1)). diffusers' FlowMatchEulerDiscreteScheduler
 * instead spaces `steps` points from 1 to 1/1000 and appends 0; ours follows the rectified-flow papers.
 */
export function flowMatchPlan(steps: number, opts: FlowMatchOptions = {}): FlowMatchPlan {
  const { shift = 1, timestepScale = 1000 } = opts;
  checkSteps('flowMatchPlan', steps);
  if (!(shift > 0 && Number.isFinite(shift))) throw new DiffusionConfigError(`flowMatchPlan: shift must be a positive number, got ${shift}`);
  if (!(timestepScale > 0 && Number.isFinite(timestepScale))) {
    throw new DiffusionConfigError(`flowMatchPlan: timestepScale must be a positive number, got ${timestepScale}`);
  }
  const sigmas = Float64Array.from({ length: steps + 1 }, (_, k) => shiftSigma(1 - k / steps, shift));
  const timesteps = Array.from(sigmas.subarray(0, steps), (sigma) => sigma * timestepScale);
  return {
    kind: 'flow-euler',
    steps,
    timesteps,
    stepDistances: timesteps.map((_, s) => (sigmas[s]! - sigmas[s + 1]!) * timestepScale),
    shift,
    timestepScale,
    sigmas,
  };
}

/** Euler: x' = x + (σ_{s+1} − σ_s)·v. x, velocity: same size; returns a new array. */
export function flowEulerStep(plan: FlowMatchPlan, stepIndex: number, x: Float32Array, velocity: Float32Array): Float32Array {
  checkStepIndex('flowEulerStep', stepIndex, plan.steps);
  checkSameLength('flowEulerStep velocity', x.length, velocity.length);
  const dSigma = plan.sigmas[stepIndex + 1]! - plan.sigmas[stepIndex]!;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + dSigma * velocity[i]!;
  return out;
}
