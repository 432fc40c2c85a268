// Closed-form test fixture: data x0 ~ N(μ_d, s_d²) independently per dimension d. The exact ε- and
// v-predictions and the exact probability-flow ODE map are known, so samplers can be checked against them.
import assert from 'node:assert/strict';
import { DdpmSchedule } from '../../src/diffusion/index.js';

export interface GaussianData {
  readonly mean: Float64Array; // [D] μ_d
  readonly std: Float64Array; // [D] s_d
}

/** The 3-dimensional data the ε-samplers' tests share, on DDPM's linear β schedule. */
export const threeDims: GaussianData = { mean: Float64Array.from([0.7, -1.5, 2]), std: Float64Array.from([0.5, 1, 2]) };

/** The exact ε-model of `data` as a sampler's model function (x, step, model timestep) → ε*. */
export function exactEpsModel(data: GaussianData, schedule: DdpmSchedule): (x: Float32Array, step: number, tModel: number) => Promise<Float32Array> {
  return async (x, _step, tModel) => exactEps(data, schedule, x, tModel);
}

/** Value at flat index i of a [B, D] tensor belongs to dimension i % D. */
const dim = (data: GaussianData, i: number): number => i % data.mean.length;

/**
 * ε*(x_t, t) = E[ε | x_t] with x_t = √a·x0 + √(1−a)·ε:  (x_t − √a·μ)·√(1−a) / (a·s² + 1 − a).
 * tModel must be an integer timestep of `schedule`.
 */
export function exactEps(data: GaussianData, schedule: DdpmSchedule, x: Float32Array, tModel: number): Float32Array {
  const a = schedule.alphasCumprod[tModel];
  if (a === undefined || !Number.isInteger(tModel)) throw new Error(`exactEps: timestep ${tModel} is not an integer in [0, ${schedule.trainSteps - 1}]`);
  return Float32Array.from(x, (xi, i) => {
    const mu = data.mean[dim(data, i)]!;
    const s = data.std[dim(data, i)]!;
    return ((xi - Math.sqrt(a) * mu) * Math.sqrt(1 - a)) / (a * s * s + 1 - a);
  });
}

/**
 * The probability-flow ODE moves x_t along the same standard score z = (x − √a·μ)/√(a·s² + 1 − a):
 * each marginal is Gaussian and the 1-D flow is monotone, so it is the affine map between them.
 */
export function exactOdeMap(data: GaussianData, x: Float32Array, aFrom: number, aTo: number): Float64Array {
  return Float64Array.from(x, (xi, i) => {
    const mu = data.mean[dim(data, i)]!;
    const s = data.std[dim(data, i)]!;
    const z = (xi - Math.sqrt(aFrom) * mu) / Math.sqrt(aFrom * s * s + 1 - aFrom);
    return Math.sqrt(aTo) * mu + z * Math.sqrt(aTo * s * s + 1 - aTo);
  });
}

/** Per-dimension sample mean and standard deviation of a [B, D] tensor. */
export function momentsPerDim(x: ArrayLike<number>, dims: number): { mean: number[]; std: number[] } {
  const n = x.length / dims;
  const mean = Array.from({ length: dims }, (_, d) => {
    let sum = 0;
    for (let b = 0; b < n; b++) sum += x[b * dims + d]!;
    return sum / n;
  });
  const std = mean.map((m, d) => {
    let sq = 0;
    for (let b = 0; b < n; b++) sq += (x[b * dims + d]! - m) ** 2;
    return Math.sqrt(sq / (n - 1));
  });
  return { mean, std };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Asserts that `x` ([batch, dims] samples) has each dimension's mean within 4 standard errors + 2 % of s
 * of μ, and its std within 4 standard errors + `stdBias`·s of s: the sampler's known bias at this step
 * count (a deterministic sampler shrinks the spread slightly).
 */
export function assertMatchesGaussian(x: ArrayLike<number>, data: GaussianData, batch: number, stdBias: number): void {
  const dims = data.mean.length;
  const { mean, std } = momentsPerDim(x, dims);
  for (let d = 0; d < dims; d++) {
    const s = data.std[d]!;
    assert.ok(Math.abs(mean[d]! - data.mean[d]!) < 4 * (s / Math.sqrt(batch)) + 0.02 * s, `dim ${d}: mean ${mean[d]} vs μ ${data.mean[d]}`);
    assert.ok(Math.abs(std[d]! - s) < 4 * (s / Math.sqrt(2 * batch)) + stdBias * s, `dim ${d}: std ${std[d]} vs s ${s}`);
  }
}
