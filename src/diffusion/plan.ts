// What every sampling plan exposes to the loop and to feature caches: the step count, the model
// timestep to pass at each step, and how far each step moves (caches extrapolate over these distances).
import { DiffusionConfigError } from './errors.js';

export type SamplerKind = 'ddim' | 'dpmpp-2m' | 'flow-euler' | 'ddpm' | 'unipc';

/** How a plan's step computes: float64 formulas, or diffusers' scheduler step in float32, op for op as torch runs it. */
export type Numerics = 'float64' | 'diffusers';

export interface PlanCommon {
  readonly kind: SamplerKind;
  readonly steps: number;
  /**
   * [steps] model timestep to pass with step s (DDPM: integer 0 … T−1; flow Euler: σ·timestepScale, float32 σ·T for
   * diffusers' FlowMatchEuler — FluxPipeline hands the transformer t/1000, SD3's passes t; UniPC: trunc(σ·T), as Wan gets it)
   */
  readonly timesteps: readonly number[];
  /**
   * [steps] distance step s travels, in model-timestep units: t_s − t_landing. DDPM plans land the final
   * step on "t = −1" when it goes to ᾱ = 1 (diffusers' prev_timestep < 0); flow plans on σ = 0 (t = 0).
   */
  readonly stepDistances: readonly number[];
}

export function checkSteps(what: string, steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new DiffusionConfigError(`${what}: steps must be a positive integer, got ${steps}`);
}

export function checkClip(what: string, clipX0: number | null): void {
  if (clipX0 !== null && !(clipX0 > 0 && Number.isFinite(clipX0))) {
    throw new DiffusionConfigError(`${what}: clipX0 must be null (no clipping) or a positive bound like 1, got ${clipX0}`);
  }
}

/** Clamp to [−bound, bound]; `null` leaves the value alone. */
export function clip(value: number, bound: number | null): number {
  return bound === null ? value : Math.min(bound, Math.max(-bound, value));
}
