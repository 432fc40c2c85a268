// Discrete DDPM noise schedules as plain data: betas and ᾱ_t = Π_{i≤t} (1 − β_i), all in float64
// (as ADM/DiT compute them; diffusers builds "linear" betas in float32, which moves ᾱ by ~1e-7 relative).
import { DiffusionConfigError } from './errors.js';

export interface DdpmSchedule {
  /** number of training timesteps T; model timesteps are 0 … T−1 */
  readonly trainSteps: number;
  /** β_t, [trainSteps] */
  readonly betas: Float64Array;
  /** ᾱ_t = Π_{i≤t} (1 − β_i), [trainSteps]; decreasing from ≈1 to ≈0 */
  readonly alphasCumprod: Float64Array;
}

export interface LinearBetaOptions {
  trainSteps?: number; // default 1000
  betaStart?: number; // default 1e-4
  betaEnd?: number; // default 0.02
}

/**
 * numpy.linspace(start, stop, num) value for value: start + k·((stop − start)/(num − 1)), last = stop.
 * Used for betas and spacings so the rounding matches the Python references bit for bit.
 */
export function numpyLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let k = 0; k < num; k++) out[k] = k * step + start;
  out[num - 1] = stop;
  return out;
}

/** A schedule from explicit betas, each in (0, 1). */
export function scheduleFromBetas(betas: Float64Array): DdpmSchedule {
  if (betas.length < 2) throw new DiffusionConfigError(`schedule: need at least 2 betas, got ${betas.length}`);
  const alphasCumprod = new Float64Array(betas.length);
  let prod = 1;
  for (let t = 0; t < betas.length; t++) {
    const beta = betas[t]!;
    if (!(beta > 0 && beta < 1)) throw new DiffusionConfigError(`schedule: beta[${t}] = ${beta} is not in (0, 1)`);
    prod *= 1 - beta;
    alphasCumprod[t] = prod;
  }
  return { trainSteps: betas.length, betas, alphasCumprod };
}

/**
 * ADM/DiT "linear" schedule: β linear from 1e-4 to 0.02 over 1000 steps. (ADM rescales both ends by
 * 1000/T for other T; pass the rescaled betaStart/betaEnd yourself if you want that.)
 */
export function linearBetaSchedule(opts: LinearBetaOptions = {}): DdpmSchedule {
  const { trainSteps = 1000, betaStart = 1e-4, betaEnd = 0.02 } = opts;
  checkTrainSteps('linearBetaSchedule', trainSteps);
  return scheduleFromBetas(numpyLinspace(betaStart, betaEnd, trainSteps));
}

/**
 * "scaled_linear" (Stable Diffusion, diffusers): √β linear from √betaStart to √betaEnd, squared. The defaults
 * are DDPM's (1e-4, 0.02) as in diffusers' constructors; SD configs pass 0.00085 and 0.012.
 */
export function scaledLinearBetaSchedule(opts: LinearBetaOptions = {}): DdpmSchedule {
  const { trainSteps = 1000, betaStart = 1e-4, betaEnd = 0.02 } = opts;
  checkTrainSteps('scaledLinearBetaSchedule', trainSteps);
  if (!(betaStart > 0 && betaEnd > 0)) {
    throw new DiffusionConfigError(`scaledLinearBetaSchedule: betaStart and betaEnd must be positive, got ${betaStart}, ${betaEnd}`);
  }
  return scheduleFromBetas(numpyLinspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), trainSteps).map((r) => r * r));
}

/**
 * "squaredcos_cap_v2" (improved DDPM's cosine schedule, Nichol & Dhariwal 2021): ᾱ(τ) = cos²((τ + 0.008)/1.008·π/2)
 * on τ ∈ [0, 1], discretised as β_i = min(1 − ᾱ((i + 1)/T)/ᾱ(i/T), maxBeta). The cap (0.999) keeps the last β
 * below 1, where ᾱ(1) = cos²(π/2) ≈ 0. ADM/DiT keep these in float64; diffusers rounds them to float32.
 */
export function squaredCosCapV2BetaSchedule(opts: { trainSteps?: number; maxBeta?: number } = {}): DdpmSchedule {
  const { trainSteps = 1000, maxBeta = 0.999 } = opts;
  checkTrainSteps('squaredCosCapV2BetaSchedule', trainSteps);
  if (!(maxBeta > 0 && maxBeta < 1)) throw new DiffusionConfigError(`squaredCosCapV2BetaSchedule: maxBeta must be in (0, 1), got ${maxBeta}`);
  const alphaBar = (tau: number): number => {
    const c = Math.cos((((tau + 0.008) / 1.008) * Math.PI) / 2); // the reference's operation order, for bit-equal betas
    return c * c;
  };
  const betas = Float64Array.from({ length: trainSteps }, (_, i) => Math.min(1 - alphaBar((i + 1) / trainSteps) / alphaBar(i / trainSteps), maxBeta));
  return scheduleFromBetas(betas);
}

function checkTrainSteps(what: string, trainSteps: number): void {
  if (!Number.isInteger(trainSteps) || trainSteps < 2) throw new DiffusionConfigError(`${what}: trainSteps must be an integer ≥ 2, got ${trainSteps}`);
}

/** Log signal-to-noise half-ratio λ = log(α/σ) = ½·log(ᾱ/(1 − ᾱ)); +Infinity at ᾱ = 1. */
export function logSnr(alphaCumprod: number): number {
  return 0.5 * (Math.log(alphaCumprod) - Math.log1p(-alphaCumprod));
}
