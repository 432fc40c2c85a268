// Float64 least-squares polynomial fitting (Householder QR on a column-scaled Vandermonde matrix) and
// evaluation. Coefficients are lowest degree first: p(x) = c[0] + c[1]·x + … (TeaCache's rescale).

import { CacheConfigError } from './contract.js';

/** p(x) = Σ c[i]·x^i, lowest degree first (Horner). */
export function polyval(coefficients: readonly number[], x: number): number {
  let p = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) p = p * x + coefficients[i];
  return p;
}

/**
 * Least-squares fit of a degree-`degree` polynomial to (x[i], y[i]); returns degree+1 coefficients,
 * lowest degree first (note: numpy.polyfit returns highest first). `weights` (optional, ≥ 0) weight
 * each squared residual.
 */
export function polyfit(x: readonly number[], y: readonly number[], degree: number, weights?: readonly number[]): number[] {
  if (!Number.isInteger(degree) || degree < 0) throw new CacheConfigError(`polyfit: degree must be a non-negative integer, got ${degree}`);
  if (x.length !== y.length) throw new CacheConfigError(`polyfit: x has ${x.length} values, y has ${y.length}; they must pair up`);
  if (weights !== undefined && weights.length !== x.length) {
    throw new CacheConfigError(`polyfit: weights has ${weights.length} values, x has ${x.length}`);
  }
  const n = x.length;
  const m = degree + 1;
  if (n < m) throw new CacheConfigError(`polyfit: degree ${degree} needs at least ${m} points, got ${n}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) throw new CacheConfigError(`polyfit: point ${i} is (${x[i]}, ${y[i]}), expected finite numbers`);
    if (weights !== undefined && !(weights[i] >= 0 && Number.isFinite(weights[i]))) {
      throw new CacheConfigError(`polyfit: weight ${i} is ${weights[i]}, expected a finite number ≥ 0`);
    }
  }
  // A[i][j] = sqrt(w_i)·x_i^j, stored column-major; b[i] = sqrt(w_i)·y_i.
  const a: Float64Array[] = [];
  const b = new Float64Array(n);
  for (let j = 0; j < m; j++) a.push(new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const sw = weights === undefined ? 1 : Math.sqrt(weights[i]);
    let p = sw;
    for (let j = 0; j < m; j++) {
      a[j][i] = p;
      p *= x[i];
    }
    b[i] = sw * y[i];
  }
  // Column scaling keeps high powers of small x (TeaCache's relative changes ~0.01) well conditioned.
  const scale = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[j][i] * a[j][i];
    scale[j] = s > 0 ? Math.sqrt(s) : 1;
    for (let i = 0; i < n; i++) a[j][i] /= scale[j];
  }
  // Householder QR: after step k, column k is zero below the diagonal and b holds Qᵀb.
  const rDiag = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const col = a[k];
    let norm = 0;
    for (let i = k; i < n; i++) norm += col[i] * col[i];
    norm = Math.sqrt(norm);
    if (norm < 1e-11) {
      throw new CacheConfigError(`polyfit: the points do not determine a degree-${degree} polynomial (need at least ${m} distinct x with weight > 0)`);
    }
    const alpha = col[k] > 0 ? -norm : norm;
    const v = new Float64Array(n);
    v[k] = col[k] - alpha;
    for (let i = k + 1; i < n; i++) v[i] = col[i];
    let vv = 0;
    for (let i = k; i < n; i++) vv += v[i] * v[i];
    const reflect = (c: Float64Array): void => {
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i] * c[i];
      const f = (2 * dot) / vv;
      for (let i = k; i < n; i++) c[i] -= f * v[i];
    };
    for (let j = k; j < m; j++) reflect(a[j]);
    reflect(b);
    rDiag[k] = a[k][k];
  }
  const c = new Array<number>(m).fill(0);
  for (let k = m - 1; k >= 0; k--) {
    let s = b[k];
    for (let j = k + 1; j < m; j++) s -= a[j][k] * c[j];
    c[k] = s / rDiag[k];
  }
  return c.map((v, j) => v / scale[j]);
}
