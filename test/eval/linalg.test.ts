// Specification of the symmetric eigensolver and PSD square root behind FID.
// Checks residuals, orthogonality, closed-form spectra and error reporting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinalgError, matmul, sqrtPsd, symmetricEigen, trace } from '../../src/eval/linalg.js';
import { seededRandom } from '../support/prng.js';

function randomSymmetric(n: number, seed: number): Float64Array {
  const r = seededRandom(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = r() - 0.5;
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

for (const n of [1, 2, 3, 7, 64]) {
  test(`symmetricEigen(n=${n}): A v = λ v and the eigenvectors are orthonormal`, () => {
    const a = randomSymmetric(n, n);
    const { values, vectorsT } = symmetricEigen(a, n);
    const v = vectorsT as Float64Array;
    let maxResidual = 0;
    let maxOrth = 0;
    for (let k = 0; k < n; k++) {
      if (k > 0) assert.ok(values[k] >= values[k - 1], 'eigenvalues are sorted ascending');
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += a[i * n + j] * v[k * n + j];
        maxResidual = Math.max(maxResidual, Math.abs(s - values[k] * v[k * n + i]));
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += v[k * n + j] * v[l * n + j];
        maxOrth = Math.max(maxOrth, Math.abs(dot - (k === l ? 1 : 0)));
      }
    }
    assert.ok(maxResidual < 1e-12, `max |Av − λv| = ${maxResidual}`);
    assert.ok(maxOrth < 1e-12, `max |VᵀV − I| = ${maxOrth}`);
    const sum = values.reduce((s, x) => s + x, 0);
    assert.ok(Math.abs(sum - trace(a, n)) < 1e-12, 'sum of eigenvalues equals the trace');
  });
}

test('symmetricEigen: 1-D Laplacian tridiag(−1, 2, −1) has eigenvalues 2 − 2cos(kπ/(n+1))', () => {
  const n = 40;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 2;
    if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
  }
  const { values, vectorsT } = symmetricEigen(a, n, false);
  assert.equal(vectorsT, null, 'no eigenvectors when not asked for');
  for (let k = 1; k <= n; k++) {
    const expected = 2 - 2 * Math.cos((k * Math.PI) / (n + 1));
    assert.ok(Math.abs(values[k - 1] - expected) < 1e-12, `λ${k} = ${values[k - 1]}, expected ${expected}`);
  }
});

test('symmetricEigen: repeated eigenvalues (rotated diag(3, 3, 1, 1, 1)) are found exactly', () => {
  const n = 5;
  // Q = I − 2uuᵀ/uᵀu is orthogonal; A = Q D Qᵀ.
  const u = [1, -2, 0.5, 3, 1];
  const uu = u.reduce((s, x) => s + x * x, 0);
  const q = Float64Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0) - (2 * u[Math.floor(k / n)] * u[k % n]) / uu);
  const d = [3, 3, 1, 1, 1];
  const qd = Float64Array.from(q, (x, k) => x * d[k % n]);
  const qt = Float64Array.from({ length: n * n }, (_, k) => q[(k % n) * n + Math.floor(k / n)]);
  const a = matmul(qd, qt, n, n, n);
  const { values } = symmetricEigen(a, n);
  assert.deepEqual(Array.from(values, (x) => Math.round(x * 1e10) / 1e10), [1, 1, 1, 3, 3]);
});

test('sqrtPsd: the square root squares back to the matrix and clamps a PSD matrix’s rounding negatives', () => {
  const n = 12;
  const r = seededRandom(5);
  const b = Float64Array.from({ length: n * 4 }, () => r() - 0.5); // rank 4: B Bᵀ is singular
  const bt = Float64Array.from({ length: n * 4 }, (_, k) => b[(k % n) * 4 + Math.floor(k / n)]);
  const a = matmul(b, bt, n, 4, n);
  const s = sqrtPsd(a, n);
  const s2 = matmul(s, s, n, n, n);
  const err = Math.max(...Array.from(a, (x, k) => Math.abs(x - s2[k])));
  assert.ok(err < 1e-12, `max |√A·√A − A| = ${err}`);
  assert.ok(s.every(Number.isFinite), 'no NaN from tiny negative eigenvalues');
});

test('linalg: wrong sizes give a LinalgError naming expected and actual', () => {
  assert.throws(() => symmetricEigen(new Float64Array(5), 2), (e: unknown) => e instanceof LinalgError && /2x2 = 4 values, got 5/.test(e.message));
  assert.throws(() => matmul(new Float64Array(6), new Float64Array(6), 2, 3, 3), LinalgError);
  assert.throws(() => symmetricEigen([NaN, 0, 0, NaN, 1, 0, 0, 0, 1], 3), LinalgError);
});

test('symmetricEigen converges when a trailing column holds subnormal-squared entries (rank-deficient covariances)', () => {
  const t = 1e-160; // t² = 1e-320 is subnormal: a naive Householder step divides by it
  const a = Float64Array.from([1, t, t, 0, t, 2, 0, 0, t, 0, 3, 0, 0, 0, 0, 4]);
  const { values } = symmetricEigen(a, 4, true);
  assert.deepEqual(Array.from(values, (x) => Math.round(x * 1e12) / 1e12), [1, 2, 3, 4]);
});
