// Fréchet distance between Gaussian fits of two feature sets (the maths behind FID), in float64.
// Feature statistics use a two-pass mean/covariance; the matrix square root uses symmetric eigensolves only.
import { LinalgError, matmul, symmetricEigen } from './linalg.js';

/** Gaussian fit of `n` feature vectors: mean [dim] and unbiased covariance [dim, dim] (row-major). */
export interface FeatureStats {
  readonly mean: Float64Array;
  readonly cov: Float64Array;
  readonly n: number;
}

/** The part of FeatureStats the distance needs (so stats loaded from disk without `n` work too). */
export type GaussianStats = Pick<FeatureStats, 'mean' | 'cov'>;

/**
 * Mean and unbiased (n−1) covariance of `features` laid out [n, dim]. Two passes (mean first, then
 * centred products accumulated in float64) so that large feature offsets do not cancel catastrophically.
 */
export function featureStats(features: Float32Array | Float64Array, n: number, dim: number): FeatureStats {
  if (!Number.isInteger(n) || !Number.isInteger(dim) || dim < 1) throw new LinalgError(`featureStats: n and dim must be integers, dim ≥ 1 (got n=${n}, dim=${dim})`);
  if (n < 2) throw new LinalgError(`featureStats: need at least 2 feature vectors for an unbiased covariance, got n=${n}`);
  if (features.length !== n * dim) throw new LinalgError(`featureStats: expected [${n}, ${dim}] = ${n * dim} values, got ${features.length}`);
  const mean = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    const o = s * dim;
    for (let i = 0; i < dim; i++) mean[i] += features[o + i];
  }
  for (let i = 0; i < dim; i++) mean[i] /= n;
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(mean[i])) throw new LinalgError(`featureStats: feature ${i} has a non-finite mean (${mean[i]}); the features contain NaN or Infinity`);
  }
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    const o = s * dim;
    for (let i = 0; i < dim; i++) c[i] = features[o + i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = c[i];
      if (ci === 0) continue; // constant features (a ReLU unit that never fires) centre to exactly 0
      const ri = i * dim;
      for (let j = i; j < dim; j++) cov[ri + j] += ci * c[j];
    }
  }
  const inv = 1 / (n - 1);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] * inv;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return { mean, cov, n };
}

/**
 * d² = ‖μa−μb‖² + tr Σa + tr Σb − 2·tr √(√Σa Σb √Σa).
 *
 * Why this form: the textbook tr √(Σa Σb) takes the square root of a non-symmetric product, which
 * general sqrtm routines return with spurious imaginary parts and which can fail outright for the
 * singular covariances of small samples (n < dim). √Σa Σb √Σa is similar to Σa Σb (same eigenvalues)
 * but symmetric positive semi-definite, so two symmetric eigensolves give a real answer: one for
 * √Σa = V Λ^½ Vᵀ and one for the eigenvalues of W Σb Wᵀ with W = Λ^½ Vᵀ (similar to √Σa Σb √Σa).
 * Eigenvalues a hair below zero are rounding noise and are clamped to 0; the result is clamped to ≥ 0.
 */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  const dim = a.mean.length;
  if (b.mean.length !== dim) throw new LinalgError(`frechetDistance: feature dims differ (${dim} vs ${b.mean.length}); both sets must come from the same feature extractor`);
  for (const [name, s] of [['a', a], ['b', b]] as const) {
    if (s.cov.length !== dim * dim) throw new LinalgError(`frechetDistance: stats ${name} has a covariance of ${s.cov.length} values, expected ${dim}x${dim}`);
  }
  let meanTerm = 0;
  for (let i = 0; i < dim; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let traceA = 0;
  let traceB = 0;
  for (let i = 0; i < dim; i++) {
    traceA += a.cov[i * dim + i];
    traceB += b.cov[i * dim + i];
  }
  const eigA = symmetricEigen(a.cov, dim, true);
  const w = eigA.vectorsT as Float64Array; // rows: eigenvectors of Σa, scaled below to W = Λ^½ Vᵀ
  for (let k = 0; k < dim; k++) {
    const s = Math.sqrt(Math.max(eigA.values[k], 0));
    for (let j = 0; j < dim; j++) w[k * dim + j] *= s;
  }
  const wb = matmul(w, b.cov, dim, dim, dim);
  const inner = new Float64Array(dim * dim); // W Σb Wᵀ, symmetric: fill the upper triangle only
  for (let i = 0; i < dim; i++) {
    const ri = i * dim;
    for (let j = i; j < dim; j++) {
      const rj = j * dim;
      let s = 0;
      for (let p = 0; p < dim; p++) s += wb[ri + p] * w[rj + p];
      inner[ri + j] = s;
    }
  }
  const eigInner = symmetricEigen(inner, dim, false);
  let traceSqrt = 0;
  for (const v of eigInner.values) traceSqrt += Math.sqrt(Math.max(v, 0));
  const d2 = meanTerm + traceA + traceB - 2 * traceSqrt;
  if (!Number.isFinite(d2)) throw new LinalgError(`frechetDistance: result is not finite (${d2}); check the statistics for NaN/Infinity`);
  return Math.max(d2, 0);
}
