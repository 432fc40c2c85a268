// The discrete β schedules exactly as diffusers' DDIM/DPM-Solver/UniPC schedulers build them: float32 betas
// (torch.linspace in float32, or Python float64 rounded once for the cosine schedule), ᾱ by torch.cumprod.
// schedule.ts keeps the float64 ADM/DiT schedules; these differ from them by float32 rounding (~1e-7 relative).
import { DiffusionConfigError } from './errors.js';
import { DEFAULT_TORCH_LINSPACE, TorchLinspaceKernel, f32, torchCumprodF32, torchLinspaceF32 } from './float32.js';
import { DdpmSchedule } from './schedule.js';

export type DiffusersBetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

export interface DiffusersScheduleOptions {
  trainSteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: DiffusersBetaSchedule;
  /** explicit betas (diffusers `trained_betas`), used instead of betaSchedule; rounded to float32 */
  trainedBetas?: readonly number[] | null;
  /** the torch linspace kernel to reproduce (TorchLinspaceKernel; default torch ≥ 2.0's) */
  torchLinspace?: TorchLinspaceKernel;
}

/** betas and ᾱ hold float32 values (in Float64Arrays, so the plans read them unchanged). */
export function diffusersSchedule(o: DiffusersScheduleOptions): DdpmSchedule {
  const { trainSteps: T, betaStart, betaEnd, torchLinspace = DEFAULT_TORCH_LINSPACE } = o;
  if (!Number.isInteger(T) || T < 2) throw new DiffusionConfigError(`diffusersSchedule: trainSteps must be an integer ≥ 2, got ${T}`);
  let betas: Float32Array;
  if (o.trainedBetas) {
    betas = Float32Array.from(o.trainedBetas);
  } else if (o.betaSchedule === 'linear') {
    betas = torchLinspaceF32(betaStart, betaEnd, T, torchLinspace);
  } else if (o.betaSchedule === 'scaled_linear') {
    betas = torchLinspaceF32(Math.sqrt(betaStart), Math.sqrt(betaEnd), T, torchLinspace).map((r) => f32(r * r));
  } else if (o.betaSchedule === 'squaredcos_cap_v2') {
    betas = Float32Array.from(cosineBetasFloat64(T));
  } else {
    throw new DiffusionConfigError(`diffusersSchedule: unknown beta schedule "${String(o.betaSchedule)}"`);
  }
  betas.forEach((b, t) => {
    if (!(b > 0 && b < 1)) throw new DiffusionConfigError(`diffusersSchedule: beta[${t}] = ${b} is not in (0, 1)`);
  });
  const alphas = betas.map((b) => f32(1 - b));
  return { trainSteps: T, betas: Float64Array.from(betas), alphasCumprod: Float64Array.from(torchCumprodF32(alphas)) };
}

/** diffusers' betas_for_alpha_bar (cosine), in Python floats: min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999). */
function cosineBetasFloat64(T: number): number[] {
  const alphaBar = (t: number): number => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  return Array.from({ length: T }, (_, i) => Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), 0.999));
}
