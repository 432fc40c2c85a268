// Dense symmetric linear algebra in float64 for the evaluation metrics: eigendecomposition
// (Householder tridiagonalisation + implicit QR with Wilkinson shifts), matrix products, PSD square root.

/** Thrown when a matrix argument has the wrong size or the eigen-iteration fails to converge. */
export class LinalgError extends Error {
  override name = 'LinalgError';
}

/** Eigen-decomposition of a symmetric matrix: `values` ascending; row k of `vectorsT` ([n, n]) is the unit eigenvector of values[k]. */
export interface SymmetricEigen {
  readonly values: Float64Array;
  readonly vectorsT: Float64Array | null;
}

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new LinalgError(`${what}: dimension must be a positive integer, got ${n}`);
  if (a.length !== n * n) throw new LinalgError(`${what}: expected ${n}x${n} = ${n * n} values, got ${a.length}`);
}

/**
 * Eigenvalues (and optionally eigenvectors) of the symmetric [n, n] row-major matrix `a`
 * (only its upper triangle is trusted; the input is not modified). O(n³); n = 512 takes well under a second.
 */
export function symmetricEigen(a: ArrayLike<number>, n: number, wantVectors = true): SymmetricEigen {
  checkSquare(a, n, 'symmetricEigen');
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = a[i * n + j];
      if (!Number.isFinite(v)) throw new LinalgError(`symmetricEigen: entry (${i}, ${j}) is ${v}; the matrix must be finite`);
      m[i * n + j] = v;
      m[j * n + i] = v;
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  const qT = tridiagonalise(m, n, d, e, wantVectors);
  const zT = wantVectors ? qT : null;
  tridiagonalQr(d, e, n, zT);
  return sortEigen(d, zT, n);
}

/**
 * Householder reduction A = Q T Qᵀ. Fills the diagonal `d` and off-diagonal `e` of T and returns Qᵀ
 * (row-major; empty when !wantQ), whose rows the QR sweeps rotate into the eigenvectors. Overwrites `m`.
 */
function tridiagonalise(m: Float64Array, n: number, d: Float64Array, e: Float64Array, wantQ: boolean): Float64Array {
  const qT = new Float64Array(wantQ ? n * n : 0);
  if (wantQ) for (let i = 0; i < n; i++) qT[i * n + i] = 1;
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  let matrixMax = 0;
  for (let i = 0; i < n * n; i++) matrixMax = Math.max(matrixMax, Math.abs(m[i]));
  for (let k = 0; k < n - 2; k++) {
    // x = column k below the diagonal (equal to row k right of it, which is contiguous).
    const row = k * n;
    d[k] = m[row + k];
    const x0 = m[row + k + 1];
    // Below x0 the column is already zero to working precision: T's entry is x0 itself, no reflection.
    // (Reflecting a column of subnormal entries would divide by a subnormal vᵀv and spread Inf/NaN.)
    let tailMax = 0;
    for (let j = k + 2; j < n; j++) tailMax = Math.max(tailMax, Math.abs(m[row + j]));
    if (tailMax <= 1e-15 * matrixMax) {
      e[k] = x0;
      continue;
    }
    let norm2 = 0;
    for (let j = k + 1; j < n; j++) norm2 += m[row + j] * m[row + j];
    const norm = Math.sqrt(norm2);
    // alpha has the opposite sign of x0 so that v0 = x0 - alpha does not cancel.
    const alpha = x0 >= 0 ? -norm : norm;
    e[k] = alpha;
    for (let j = k + 1; j < n; j++) v[j] = m[row + j];
    v[k + 1] = x0 - alpha;
    const beta = 1 / (norm2 - x0 * alpha); // = 2 / (vᵀv)
    // Trailing block S ← H S H = S − v wᵀ − w vᵀ with p = β S v, w = p − (β/2)(pᵀv) v.
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      const ri = i * n;
      for (let j = k + 1; j < n; j++) s += m[ri + j] * v[j];
      w[i] = beta * s;
      pv += w[i] * v[i];
    }
    const half = 0.5 * beta * pv;
    for (let i = k + 1; i < n; i++) w[i] -= half * v[i];
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const vi = v[i];
      const wi = w[i];
      for (let j = k + 1; j < n; j++) m[ri + j] -= vi * w[j] + wi * v[j];
    }
    if (wantQ) {
      // Qᵀ ← H_k Qᵀ: rows k+1..n-1 change by −β v (vᵀ Qᵀ).
      w.fill(0);
      for (let i = k + 1; i < n; i++) {
        const vi = v[i];
        const ri = i * n;
        for (let j = 0; j < n; j++) w[j] += vi * qT[ri + j];
      }
      for (let i = k + 1; i < n; i++) {
        const f = beta * v[i];
        const ri = i * n;
        for (let j = 0; j < n; j++) qT[ri + j] -= f * w[j];
      }
    }
  }
  if (n >= 2) {
    d[n - 2] = m[(n - 2) * n + n - 2];
    e[n - 2] = m[(n - 2) * n + n - 1];
  }
  d[n - 1] = m[n * n - 1];
  return qT;
}

/**
 * Implicit symmetric QR with Wilkinson shifts on the tridiagonal (d, e), deflating from the bottom.
 * Each Givens rotation is also applied to the rows of `zT` (when given) so they end as eigenvectors.
 */
function tridiagonalQr(d: Float64Array, e: Float64Array, n: number, zT: Float64Array | null): void {
  const eps = Number.EPSILON;
  const negligible = (i: number): boolean => Math.abs(e[i]) <= eps * (Math.abs(d[i]) + Math.abs(d[i + 1])) || Math.abs(e[i]) < 1e-300;
  const maxSweeps = 50 * Math.max(n, 1);
  let sweeps = 0;
  let hi = n - 1;
  while (hi > 0) {
    if (negligible(hi - 1)) {
      e[hi - 1] = 0;
      hi--;
      continue;
    }
    let lo = hi - 1;
    while (lo > 0 && !negligible(lo - 1)) lo--;
    if (++sweeps > maxSweeps) throw new LinalgError(`symmetricEigen: QR iteration did not converge after ${maxSweeps} sweeps (n=${n}); is the input finite?`);
    // Wilkinson shift: the eigenvalue of the trailing 2x2 block closer to d[hi].
    const delta = 0.5 * (d[hi - 1] - d[hi]);
    const b = e[hi - 1];
    const mu = d[hi] - (b * b) / (delta + (delta >= 0 ? 1 : -1) * Math.hypot(delta, b));
    let x = d[lo] - mu;
    let z = e[lo];
    for (let k = lo; k < hi; k++) {
      const r = Math.hypot(x, z);
      const c = r === 0 ? 1 : x / r;
      const s = r === 0 ? 0 : z / r;
      if (k > lo) e[k - 1] = r;
      // Rotate the 2x2 block [[a, bk], [bk, dk1]] by R = [[c, s], [-s, c]]: R B Rᵀ.
      const a = d[k];
      const bk = e[k];
      const dk1 = d[k + 1];
      d[k] = c * c * a + 2 * c * s * bk + s * s * dk1;
      d[k + 1] = s * s * a - 2 * c * s * bk + c * c * dk1;
      e[k] = c * s * (dk1 - a) + (c * c - s * s) * bk;
      x = e[k];
      if (k + 1 < hi) {
        z = s * e[k + 1]; // the bulge at (k, k+2), chased down by the next rotation
        e[k + 1] *= c;
      }
      if (zT) {
        const r0 = k * n;
        const r1 = r0 + n;
        for (let j = 0; j < n; j++) {
          const p = zT[r0 + j];
          const q = zT[r1 + j];
          zT[r0 + j] = c * p + s * q;
          zT[r1 + j] = c * q - s * p;
        }
      }
    }
  }
}

function sortEigen(d: Float64Array, zT: Float64Array | null, n: number): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  const values = Float64Array.from(order, (i) => d[i]);
  if (!zT) return { values, vectorsT: null };
  const vectorsT = new Float64Array(n * n);
  order.forEach((src, dst) => vectorsT.set(zT.subarray(src * n, src * n + n), dst * n));
  return { values, vectorsT };
}

/** C = A B for row-major A [m, k] and B [k, n]; i-k-j loop order keeps the inner loop contiguous. */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  if (a.length !== m * k || b.length !== k * n) {
    throw new LinalgError(`matmul: expected A ${m}x${k} (${m * k}) and B ${k}x${n} (${k * n}), got ${a.length} and ${b.length} values`);
  }
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
    }
  }
  return c;
}

/**
 * Principal square root of a symmetric positive semi-definite matrix, V diag(√max(λ, 0)) Vᵀ.
 * Eigenvalues below zero can only come from rounding (or a non-PSD input) and are clamped to 0.
 */
export function sqrtPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectorsT } = symmetricEigen(a, n, true);
  const vt = vectorsT as Float64Array;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    const rk = k * n;
    for (let i = 0; i < n; i++) {
      const f = s * vt[rk + i];
      if (f === 0) continue;
      const ri = i * n;
      for (let j = 0; j < n; j++) out[ri + j] += f * vt[rk + j];
    }
  }
  return out;
}

/** Trace of a square row-major matrix. */
export function trace(a: ArrayLike<number>, n: number): number {
  checkSquare(a, n, 'trace');
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}
