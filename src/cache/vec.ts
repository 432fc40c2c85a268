// Element-wise helpers over one sample's flattened tensor ([T*D] Float32Array) for the cache math.
// Reductions accumulate in float64 (JS numbers) so norms of large tensors do not lose precision.

import { CacheUsageError } from './contract.js';
import { kernels } from './simd/kernels.js';

export function checkSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) {
    throw new CacheUsageError(`${what}: length mismatch, expected ${a.length} elements, got ${b.length}`);
  }
}

export function allFinite(a: Float32Array): boolean {
  return kernels.allFinite(a);
}

/** out = a − b (out may alias a or b). */
export function subInto(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  checkSameLength(out, a, 'subInto a');
  checkSameLength(out, b, 'subInto b');
  return kernels.subInto(out, a, b);
}

/** out = a + b (out may alias a or b). */
export function addInto(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  checkSameLength(out, a, 'addInto a');
  checkSameLength(out, b, 'addInto b');
  kernels.addCheckedInto(out, a, b); // the two-input kernel; its finiteness flag comes with the pass
  return out;
}

/** addInto, returning whether every element of `out` is finite (checked as it is made, no second read). */
export function addCheckedInto(out: Float32Array, a: Float32Array, b: Float32Array): boolean {
  checkSameLength(out, a, 'addCheckedInto a');
  checkSameLength(out, b, 'addCheckedInto b');
  return kernels.addCheckedInto(out, a, b);
}

/** out = a·wa + b·wb. */
export function combineInto(out: Float32Array, a: Float32Array, wa: number, b: Float32Array, wb: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}

/** L2 norm in float64. */
export function norm2(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ‖a − b‖ and ‖a + b‖ in one float64 pass. */
export function diffAndSumNorms(a: Float32Array, b: Float32Array): { diff: number; sum: number } {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    d += (x - y) * (x - y);
    s += (x + y) * (x + y);
  }
  return { diff: Math.sqrt(d), sum: Math.sqrt(s) };
}

/**
 * Relative L1 change Σ|cur − ref| / Σ|ref| (= mean/mean, TeaCache and FBCache's signal).
 * A zero reference gives 0 when nothing changed and +Infinity otherwise (forces a compute).
 */
export function relativeL1(cur: Float32Array, ref: Float32Array): number {
  checkSameLength(ref, cur, 'relativeL1');
  const [num, den] = kernels.relativeL1Sums(cur, ref);
  if (Number.isNaN(num) || Number.isNaN(den)) return NaN;
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}

/**
 * out = base + Σ_j weights[j]·terms[j] (base optional): the extrapolation kernel of every predictor, one
 * fused SIMD pass where wasm is available (simd/kernels.ts). `out` may alias `base` but not a term.
 */
export function linearCombinationInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): Float32Array {
  checkCombination(out, terms, weights, base);
  return kernels.linearCombinationInto(out, terms, weights, base);
}

/** linearCombinationInto, returning whether every element of `out` is finite (checked as it is made). */
export function linearCombinationCheckedInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): boolean {
  checkCombination(out, terms, weights, base);
  return kernels.linearCombinationCheckedInto(out, terms, weights, base);
}

function checkCombination(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): void {
  if (terms.length !== weights.length || terms.length === 0) {
    throw new CacheUsageError(`linearCombinationInto: ${terms.length} terms and ${weights.length} weights; need the same positive count`);
  }
  for (const t of terms) checkSameLength(out, t, 'linearCombinationInto term');
  if (base) checkSameLength(out, base, 'linearCombinationInto base');
}
