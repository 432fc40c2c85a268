// Specification of featureStats and frechetDistance: closed forms, an independent matrix square
// root (Denman–Beavers on the non-symmetric product) and robustness for rank-deficient covariances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featureStats, frechetDistance } from '../../src/eval/frechet.js';
import { LinalgError, matmul } from '../../src/eval/linalg.js';
import { seededRandom } from '../support/prng.js';

function randomFeatures(n: number, dim: number, seed: number, scale = 1): Float32Array {
  const r = seededRandom(seed);
  // Correlated features: x = z·M for a random mixing M, so the covariance is far from diagonal.
  const mix = Float64Array.from({ length: dim * dim }, () => r() - 0.5);
  const out = new Float32Array(n * dim);
  const z = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < dim; i++) z[i] = r() - 0.5 + 0.1 * i;
    for (let j = 0; j < dim; j++) {
      let v = 0;
      for (let i = 0; i < dim; i++) v += z[i] * mix[i * dim + j];
      out[s * dim + j] = scale * v;
    }
  }
  return out;
}

function inverse(a: Float64Array, n: number): Float64Array {
  // Gauss–Jordan with partial pivoting; only for the small well-conditioned test matrices.
  const m = Float64Array.from(a);
  const inv = Float64Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let j = 0; j < n; j++) {
      [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [inv[c * n + j], inv[p * n + j]] = [inv[p * n + j], inv[c * n + j]];
    }
    const piv = m[c * n + c];
    for (let j = 0; j < n; j++) {
      m[c * n + j] /= piv;
      inv[c * n + j] /= piv;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (let j = 0; j < n; j++) {
        m[r * n + j] -= f * m[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

/** tr √(A B) by the Denman–Beavers iteration on the non-symmetric product: independent of our eigensolver. */
function traceSqrtProductDenmanBeavers(a: Float64Array, b: Float64Array, n: number): number {
  let y = matmul(a, b, n, n, n);
  let z = Float64Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
  for (let it = 0; it < 60; it++) {
    const yi = inverse(y, n);
    const zi = inverse(z, n);
    y = Float64Array.from(y, (v, k) => 0.5 * (v + zi[k]));
    z = Float64Array.from(z, (v, k) => 0.5 * (v + yi[k]));
  }
  let t = 0;
  for (let i = 0; i < n; i++) t += y[i * n + i];
  return t;
}

test('featureStats: mean and unbiased covariance of a hand-computed example', () => {
  const f = new Float32Array([1, 2, 3, 4, 5, 0]); // three 2-D vectors
  const s = featureStats(f, 3, 2);
  assert.deepEqual(Array.from(s.mean), [3, 2]);
  assert.deepEqual(Array.from(s.cov), [4, -2, -2, 4]);
  assert.equal(s.n, 3);
});

test('featureStats: a large common offset does not disturb the covariance (two-pass)', () => {
  const n = 500;
  const dim = 4;
  const base = randomFeatures(n, dim, 3);
  // Quantise to multiples of 1/64 so that base + 4096 is exact in float32.
  const q = Float32Array.from(base, (v) => Math.round(v * 64) / 64);
  const shifted = Float32Array.from(q, (v) => v + 4096);
  const a = featureStats(q, n, dim);
  const b = featureStats(shifted, n, dim);
  for (let k = 0; k < dim * dim; k++) assert.ok(Math.abs(a.cov[k] - b.cov[k]) < 1e-12, `cov[${k}]: ${a.cov[k]} vs ${b.cov[k]}`);
  for (let i = 0; i < dim; i++) assert.ok(Math.abs(b.mean[i] - a.mean[i] - 4096) < 1e-9);
});

test('frechetDistance: identical statistics give 0', () => {
  const s = featureStats(randomFeatures(300, 16, 1), 300, 16);
  let tr = 0;
  for (let i = 0; i < 16; i++) tr += s.cov[i * 16 + i];
  const d = frechetDistance(s, s);
  assert.ok(d >= 0 && d <= 1e-9 * tr, `d(s, s) = ${d} (trace ${tr})`);
});

test('frechetDistance: 1-D Gaussians give (μ1−μ2)² + (σ1−σ2)²', () => {
  const a = { mean: new Float64Array([0.7]), cov: new Float64Array([2.25]) }; // σ = 1.5
  const b = { mean: new Float64Array([-1.3]), cov: new Float64Array([0.16]) }; // σ = 0.4
  const expected = 2 ** 2 + (1.5 - 0.4) ** 2;
  assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-12, `${frechetDistance(a, b)} vs ${expected}`);
});

test('frechetDistance: diagonal covariances give ‖Δμ‖² + Σ(√a_i − √b_i)²', () => {
  const dim = 6;
  const va = [1, 4, 0.25, 9, 2, 0];
  const vb = [4, 1, 1, 0.5, 2, 3];
  const diag = (v: number[]) => Float64Array.from({ length: dim * dim }, (_, k) => (Math.floor(k / dim) === k % dim ? v[k % dim] : 0));
  const a = { mean: Float64Array.from([1, 2, 3, 4, 5, 6]), cov: diag(va) };
  const b = { mean: Float64Array.from([1, 0, 3, 4, 7, 6]), cov: diag(vb) };
  let expected = 4 + 4;
  for (let i = 0; i < dim; i++) expected += (Math.sqrt(va[i]) - Math.sqrt(vb[i])) ** 2;
  const d = frechetDistance(a, b);
  assert.ok(Math.abs(d - expected) < 1e-12, `${d} vs ${expected}`);
});

test('frechetDistance: random SPD case matches tr √(Σa Σb) from an independent Denman–Beavers iteration', () => {
  const dim = 7;
  const a = featureStats(randomFeatures(200, dim, 11), 200, dim);
  const b = featureStats(randomFeatures(150, dim, 12, 1.7), 150, dim);
  let meanTerm = 0;
  let traces = 0;
  for (let i = 0; i < dim; i++) {
    meanTerm += (a.mean[i] - b.mean[i]) ** 2;
    traces += a.cov[i * dim + i] + b.cov[i * dim + i];
  }
  const expected = meanTerm + traces - 2 * traceSqrtProductDenmanBeavers(a.cov, b.cov, dim);
  const d = frechetDistance(a, b);
  assert.ok(expected > 0.1, 'the two sets are genuinely different');
  assert.ok(Math.abs(d - expected) < 1e-9 * Math.max(1, expected), `ours ${d} vs Denman–Beavers ${expected}`);
  assert.ok(Math.abs(frechetDistance(b, a) - d) < 1e-9 * d, 'symmetric in its arguments');
});

test('frechetDistance: rank-deficient covariances (n < dim) stay finite and ≥ 0', () => {
  const dim = 32;
  const few = featureStats(randomFeatures(5, dim, 21), 5, dim);
  const many = featureStats(randomFeatures(400, dim, 22), 400, dim);
  for (const d of [frechetDistance(few, many), frechetDistance(many, few), frechetDistance(few, few)]) {
    assert.ok(Number.isFinite(d) && d >= 0, `d = ${d}`);
  }
  let tr = 0;
  for (let i = 0; i < dim; i++) tr += few.cov[i * dim + i];
  assert.ok(frechetDistance(few, few) < 1e-6 * tr, `singular self-distance ${frechetDistance(few, few)} is rounding-level`);
  assert.ok(frechetDistance(few, many) > 1, 'a 5-sample fit is far from a 400-sample one');
});

test('frechetDistance / featureStats: bad input gives a LinalgError', () => {
  const s2 = { mean: new Float64Array(2), cov: new Float64Array(4) };
  const s3 = { mean: new Float64Array(3), cov: new Float64Array(9) };
  assert.throws(() => frechetDistance(s2, s3), (e: unknown) => e instanceof LinalgError && /feature dims differ \(2 vs 3\)/.test(e.message));
  assert.throws(() => featureStats(new Float32Array(5), 2, 3), (e: unknown) => e instanceof LinalgError && /expected \[2, 3\] = 6 values, got 5/.test(e.message));
  assert.throws(() => featureStats(new Float32Array(3), 1, 3), /at least 2 feature vectors/);
  assert.throws(() => featureStats(new Float32Array([1, NaN, 2, 3]), 2, 2), /non-finite mean/);
});

test('bootstrapFidStd: 0 when every sample is the same, falls with the sample count, reproducible', async () => {
  const { bootstrapFidStd } = await import('../../src/eval/metrics.js');
  const dim = 6;
  const ref = featureStats(randomFeatures(500, dim, 1), 500, dim);
  const one = randomFeatures(1, dim, 2);
  const same = new Float32Array(40 * dim);
  for (let k = 0; k < 40; k++) same.set(one, k * dim);
  assert.equal(bootstrapFidStd(same, 40, dim, ref, 20), 0);
  const many = randomFeatures(400, dim, 3);
  const small = bootstrapFidStd(many.subarray(0, 50 * dim), 50, dim, ref, 40);
  const large = bootstrapFidStd(many, 400, dim, ref, 40);
  assert.ok(small > 1.5 * large, `n = 50: ${small}, n = 400: ${large} (expected roughly √8 apart)`);
  assert.equal(bootstrapFidStd(many, 400, dim, ref, 40), large);
});
