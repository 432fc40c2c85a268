// Specification of PSNR and SSIM: exact values for known MSE and luminance-only shifts, a reference
// value from scipy's gaussian_filter (the filter skimage uses), symmetry, range and shape errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FidelityError, meanPsnr, meanSsim, psnr, psnrPerImage, ssim, ssimPerImage } from '../../src/eval/fidelity.js';
import { seededRandom } from '../support/prng.js';

test('psnr: identical images give Infinity', () => {
  const a = Float32Array.from({ length: 64 }, (_, i) => i / 64);
  assert.equal(psnr(a, a), Infinity);
  assert.deepEqual(Array.from(psnrPerImage(a, a, 4)), [Infinity, Infinity, Infinity, Infinity]);
});

test('psnr: a known MSE gives the exact dB value, per image and over the set', () => {
  const n = 2;
  const size = 100;
  const a = new Float32Array(n * size).fill(0.5);
  const b = Float32Array.from(a);
  for (let i = 0; i < size; i++) b[i] = 0.5 + (i % 2 ? 0.1 : -0.1); // image 0: MSE 0.01 → 20 dB
  for (let i = size; i < 2 * size; i++) b[i] = 0.5 + 0.01; // image 1: MSE 1e-4 → 40 dB
  const per = psnrPerImage(a, b, n);
  assert.ok(Math.abs(per[0] - 20) < 1e-4 && Math.abs(per[1] - 40) < 1e-4, `per-image ${Array.from(per)}`);
  assert.ok(Math.abs(meanPsnr(a, b, n) - 30) < 1e-4);
  // Over the set: MSE = (0.01 + 1e-4)/2.
  assert.ok(Math.abs(psnr(a, b) - 10 * Math.log10(1 / ((0.01 + 1e-4) / 2))) < 1e-4);
  // Data range 255 on the same (scaled) difference gives the same dB.
  const a255 = Float64Array.from(a, (v) => v * 255);
  const b255 = Float64Array.from(b, (v) => v * 255);
  assert.ok(Math.abs(psnrPerImage(a255, b255, n, 255)[0] - 20) < 1e-3);
});

test('ssim: an image against itself is exactly 1', () => {
  const r = seededRandom(1);
  const a = Float32Array.from({ length: 3 * 28 * 28 }, () => r());
  assert.ok(Math.abs(ssim(a, a, 28, 28, 3) - 1) < 1e-12);
});

test('ssim: a constant image vs the same image + δ equals the hand-derived luminance term', () => {
  // Local means are c and c+δ everywhere, variances and covariance are 0, so the contrast-structure
  // term is C2/C2 = 1 and SSIM = (2c(c+δ) + C1) / (c² + (c+δ)² + C1) with C1 = 0.01².
  const c = 0.3;
  const delta = 0.2;
  const a = new Float64Array(28 * 28).fill(c);
  const b = new Float64Array(28 * 28).fill(c + delta);
  const c1 = 0.01 ** 2;
  const expected = (2 * c * (c + delta) + c1) / (c * c + (c + delta) ** 2 + c1);
  assert.ok(Math.abs(ssim(a, b, 28, 28) - expected) < 1e-6, `${ssim(a, b, 28, 28)} vs ${expected}`);
});

test('ssim: matches scipy gaussian_filter(σ=1.5, truncate=3.5) cropped to the valid region (skimage’s definition)', () => {
  // Reference computed offline with numpy/scipy for exactly these formulas: 0.9494430746914976.
  const h = 28;
  const w = 32;
  const a = new Float64Array(h * w);
  const b = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 0.5 + 0.4 * Math.sin(0.7 * x + 0.3 * y) * Math.cos(0.05 * x * y);
      a[y * w + x] = v;
      b[y * w + x] = 0.8 * v + 0.1 + 0.05 * Math.cos(1.3 * x - 0.5 * y);
    }
  }
  assert.ok(Math.abs(ssim(a, b, h, w) - 0.9494430746914976) < 1e-9, `ssim = ${ssim(a, b, h, w)}`);
});

test('ssim: symmetric, within [−1, 1], and negative for an inverted image', () => {
  const r = seededRandom(2);
  const n = 4;
  const a = Float32Array.from({ length: n * 28 * 28 }, () => r());
  const b = Float32Array.from(a, (v, i) => Math.min(1, Math.max(0, v + 0.3 * (r() - 0.5) + (i % 7) * 0.01)));
  const ab = ssimPerImage(a, b, n, 1, 28, 28);
  const ba = ssimPerImage(b, a, n, 1, 28, 28);
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(ab[i] - ba[i]) < 1e-12, 'SSIM(a, b) = SSIM(b, a)');
    assert.ok(ab[i] > -1 && ab[i] < 1, `SSIM ${ab[i]} in (−1, 1)`);
  }
  assert.ok(Math.abs(meanSsim(a, b, n, 1, 28, 28) - ab.reduce((s, v) => s + v, 0) / n) < 1e-12);
  const inverted = Float32Array.from(a, (v) => 1 - v);
  const inv = ssim(a.subarray(0, 784), inverted.subarray(0, 784), 28, 28);
  assert.ok(inv < 0 && inv >= -1, `inverted image SSIM ${inv} is negative`);
});

test('fidelity: shape mismatches give a FidelityError', () => {
  assert.throws(() => psnr(new Float32Array(3), new Float32Array(4)), (e: unknown) => e instanceof FidelityError && /3 vs 4/.test(e.message));
  assert.throws(() => psnrPerImage(new Float32Array(10), new Float32Array(10), 3), /do not split into n=3/);
  assert.throws(() => ssim(new Float32Array(100), new Float32Array(100), 10, 10), /at least 11x11/);
  assert.throws(() => ssim(new Float32Array(784), new Float32Array(784), 28, 28, 3), /expected 2352 values/);
});
