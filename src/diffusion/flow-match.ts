// diffusers' FlowMatchEulerDiscreteScheduler σ list, as set_timesteps builds it for SD3 (static shift, no σ
// passed) and for FluxPipeline (σ = linspace(1, 1/N, N) passed in, shifted by μ from the image token count):
// numpy float64 where diffusers computes in numpy float64, float32 where it computes in float32, so the
// values match scheduler.sigmas / scheduler.timesteps to the last float32 bit.
import { DiffusionConfigError } from './errors.js';
import { f32 } from './float32.js';
import { checkSteps } from './plan.js';
import { numpyLinspace } from './schedule.js';

export type TimeShiftType = 'exponential' | 'linear';

/** The fields of a FlowMatchEulerDiscreteScheduler config that shape its σ list. */
export interface FlowMatchEulerSettings {
  trainSteps: number; // num_train_timesteps, default 1000
  shift: number; // static shift s: σ' = s·σ/(1 + (s − 1)·σ); default 1
  useDynamicShifting: boolean; // shift by μ at set_timesteps instead (FLUX)
  timeShiftType: TimeShiftType; // dynamic shift: 'exponential' e^μ/(e^μ + (1/σ − 1)), 'linear' μ/(μ + (1/σ − 1))
}

/** FluxPipeline's calculate_shift inputs, read from the scheduler config (these are diffusers' defaults). */
export interface ImageSeqLenShift {
  baseImageSeqLen: number; // 256
  maxImageSeqLen: number; // 4096
  baseShift: number; // 0.5
  maxShift: number; // 1.15
}

export const DEFAULT_IMAGE_SEQ_LEN_SHIFT: ImageSeqLenShift = { baseImageSeqLen: 256, maxImageSeqLen: 4096, baseShift: 0.5, maxShift: 1.15 };

/**
 * μ for an image of `imageSeqLen` latent tokens (FLUX: (H/16)·(W/16) for an H×W image; 4096 at 1024²): linear
 * from baseShift at baseImageSeqLen to maxShift at maxImageSeqLen, extrapolated beyond (diffusers' calculate_shift).
 */
export function calculateShift(imageSeqLen: number, o: ImageSeqLenShift = DEFAULT_IMAGE_SEQ_LEN_SHIFT): number {
  if (!(Number.isFinite(imageSeqLen) && imageSeqLen > 0)) throw new DiffusionConfigError(`calculateShift: imageSeqLen must be a positive number of tokens, got ${imageSeqLen}`);
  if (o.maxImageSeqLen === o.baseImageSeqLen) {
    throw new DiffusionConfigError(`calculateShift: base_image_seq_len and max_image_seq_len are both ${o.baseImageSeqLen}; the shift's slope is undefined`);
  }
  const m = (o.maxShift - o.baseShift) / (o.maxImageSeqLen - o.baseImageSeqLen);
  const b = o.baseShift - m * o.baseImageSeqLen;
  return imageSeqLen * m + b;
}

/**
 * The σ set_timesteps starts from: 'scheduler' — none passed (SD3's pipeline): N values from the scheduler's own
 * σ_max to σ_min, where σ_min = shift(1/T) is shifted again afterwards; 'flux' — FluxPipeline's
 * numpy.linspace(1, 1/N, N); or an explicit list of N values (diffusers' `sigmas=` argument).
 */
export type FlowSigmaSource = 'scheduler' | 'flux' | readonly number[];

export interface FlowMatchEulerSchedule {
  /** [N + 1] scheduler.sigmas: float32 values, descending, the appended final 0 included */
  readonly sigmas: Float64Array;
  /** [N] scheduler.timesteps: float32 σ·T (not rounded to integers) */
  readonly timesteps: readonly number[];
}

/**
 * FlowMatchEulerDiscreteScheduler.set_timesteps(N, sigmas?, mu?) for `steps` = N. `mu` is required with
 * useDynamicShifting (and unused without it). The static shift applies to whatever σ start the list, so with
 * 'scheduler' the already-shifted σ_min is shifted a second time (SD3, shift 3, N = 28: last σ ≈ 0.0089 → timestep ≈ 8.93).
 */
export function flowMatchEulerSchedule(s: FlowMatchEulerSettings, steps: number, source: FlowSigmaSource, mu?: number): FlowMatchEulerSchedule {
  checkSteps('flowMatchEulerSchedule', steps);
  checkSettings(s);
  if (s.useDynamicShifting && !(typeof mu === 'number' && Number.isFinite(mu))) {
    throw new DiffusionConfigError(`flowMatchEulerSchedule: use_dynamic_shifting needs μ (e.g. calculateShift(imageSeqLen)), got ${mu}`);
  }
  let shifted: Float64Array;
  if (source === 'scheduler') {
    const [sigmaMax, sigmaMin] = initialSigmaRange(s);
    const sigmas = numpyLinspace(sigmaMax * s.trainSteps, sigmaMin * s.trainSteps, steps).map((t) => t / s.trainSteps);
    shifted = s.useDynamicShifting ? sigmas.map((sigma) => timeShiftF64(s.timeShiftType, mu!, sigma)) : sigmas.map((sigma) => staticShiftF64(s.shift, sigma));
  } else {
    const given = source === 'flux' ? numpyLinspace(1, 1 / steps, steps) : Float64Array.from(source);
    if (given.length !== steps) throw new DiffusionConfigError(`flowMatchEulerSchedule: ${given.length} σ given for ${steps} steps`);
    const sigmas = given.map(f32); // np.array(sigmas).astype(np.float32): float32 from here on
    shifted = s.useDynamicShifting ? sigmas.map((sigma) => timeShiftF32(s.timeShiftType, mu!, sigma)) : sigmas.map((sigma) => staticShiftF32(s.shift, sigma));
  }
  const sigmas = new Float64Array(steps + 1);
  shifted.forEach((sigma, k) => (sigmas[k] = f32(sigma)));
  sigmas[steps] = 0;
  return { sigmas, timesteps: Array.from(sigmas.subarray(0, steps), (sigma) => f32(sigma * s.trainSteps)) };
}

/**
 * FlowMatchEulerDiscreteScheduler.step (deterministic): x' = x + (σ_{s+1} − σ_s)·v, in float32 as torch computes
 * it: dt = fround(σ_{s+1} − σ_s), then x + fround(dt·v). x, velocity: same size; returns a new array.
 */
export function flowMatchEulerStepF32(sigma: number, sigmaNext: number, x: Float32Array, velocity: Float32Array): Float32Array {
  const dt = f32(sigmaNext - sigma);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + f32(dt * velocity[i]!); // Float32Array store rounds the sum
  return out;
}

/** σ_max and σ_min of the scheduler's training σ (its __init__, in torch float32): 1 and 1/T, shifted unless dynamic. */
function initialSigmaRange(s: FlowMatchEulerSettings): [number, number] {
  const [top, bottom] = [f32(s.trainSteps / s.trainSteps), f32(1 / s.trainSteps)];
  return s.useDynamicShifting ? [top, bottom] : [staticShiftF32(s.shift, top), staticShiftF32(s.shift, bottom)];
}

/** shift·σ/(1 + (shift − 1)·σ) on float64 σ (numpy float64). */
function staticShiftF64(shift: number, sigma: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** The same on a float32 σ (numpy float32 array or torch float32 tensor with Python-float scalars). */
function staticShiftF32(shift: number, sigma: number): number {
  return f32(f32(f32(shift) * sigma) / f32(1 + f32(f32(shift - 1) * sigma)));
}

/** time_shift(μ, 1.0, σ) on float64 σ. */
function timeShiftF64(type: TimeShiftType, mu: number, sigma: number): number {
  const top = type === 'exponential' ? Math.exp(mu) : mu;
  return top / (top + (1 / sigma - 1));
}

/** time_shift(μ, 1.0, σ) on a float32 array: the Python float e^μ (or μ) rounds to float32, as every step does. */
function timeShiftF32(type: TimeShiftType, mu: number, sigma: number): number {
  const top = f32(type === 'exponential' ? Math.exp(mu) : mu);
  return f32(top / f32(top + f32(f32(1 / sigma) - 1)));
}

function checkSettings(s: FlowMatchEulerSettings): void {
  if (!(Number.isInteger(s.trainSteps) && s.trainSteps >= 1)) throw new DiffusionConfigError(`flowMatchEulerSchedule: trainSteps must be a positive integer, got ${s.trainSteps}`);
  if (!(s.shift > 0 && Number.isFinite(s.shift))) throw new DiffusionConfigError(`flowMatchEulerSchedule: shift must be a positive number, got ${s.shift}`);
}
