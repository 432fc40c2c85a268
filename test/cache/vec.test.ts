import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CacheUsageError } from '../../src/cache/contract.js';
import { linearCombinationInto } from '../../src/cache/vec.js';

// out[i] = base[i] + Σ_j w_j·t_j[i], computed naively in float64 for comparison.
function naive(terms: Float32Array[], weights: number[], base?: Float32Array): number[] {
  return Array.from(terms[0], (_, i) => (base ? base[i] : 0) + terms.reduce((s, t, j) => s + weights[j] * t[i], 0));
}

test('linearCombinationInto matches the naive sum for 1–7 terms, with and without base', () => {
  const n = 37;
  const terms = Array.from({ length: 7 }, (_, j) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (j + 1) + j)));
  const weights = [1, -0.5, 0.25, 2, -3, 0.125, 7];
  const base = Float32Array.from({ length: n }, (_, i) => i / 10);
  for (let m = 1; m <= 7; m++) {
    for (const b of [undefined, base]) {
      const out = linearCombinationInto(new Float32Array(n), terms.slice(0, m), weights.slice(0, m), b);
      const want = naive(terms.slice(0, m), weights.slice(0, m), b);
      out.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `m=${m} base=${!!b} i=${i}: ${v} vs ${want[i]}`));
    }
  }
});

test('linearCombinationInto may write into its base', () => {
  const base = Float32Array.from([1, 2, 3]);
  linearCombinationInto(base, [Float32Array.from([1, 1, 1])], [2], base);
  assert.deepEqual([...base], [3, 4, 5]);
});

test('linearCombinationInto rejects mismatched terms, weights and lengths', () => {
  const a = new Float32Array(3);
  assert.throws(() => linearCombinationInto(a, [a], [1, 2]), CacheUsageError);
  assert.throws(() => linearCombinationInto(a, [], []), CacheUsageError);
  assert.throws(() => linearCombinationInto(a, [new Float32Array(4)], [1]), /length mismatch/);
});
