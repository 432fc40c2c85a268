// Element-wise helpers over one sample's flattened tensor ([T*D] Float32Array) for the cache math.
// Reductions accumulate in float64 (JS numbers) so norms of large tensors do not lose precision.

import { CacheUsageError } from './contract.js';

export function checkSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) {
    throw new CacheUsageError(`${what}: length mismatch, expected ${a.length} elements, got ${b.length}`);
  }
}

export function allFinite(a: Float32Array): boolean {
  // Fast path: NaN or ±Inf anywhere makes the sum non-finite. A finite sum proves every element finite;
  // a non-finite one (possibly only overflow) is settled element by element.
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i];
  if (Number.isFinite(sum)) return true;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** out = a − b (out may alias a or b). */
export function subInto(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = a[i] - b[i];
  return out;
}

/** out = a + b (out may alias a or b). */
export function addInto(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
  return out;
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
  let num = 0;
  let den = 0;
  for (let i = 0; i < cur.length; i++) {
    num += Math.abs(cur[i] - ref[i]);
    den += Math.abs(ref[i]);
  }
  if (Number.isNaN(num) || Number.isNaN(den)) return NaN;
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}

/**
 * out = base + Σ_j weights[j]·terms[j] (base optional), accumulated in float64 per element. Up to five
 * terms run as one unrolled pass (the extrapolation kernels of every predictor); more terms are added on
 * in further passes. `out` may alias `base` but not a term.
 */
export function linearCombinationInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): Float32Array {
  if (terms.length !== weights.length || terms.length === 0) {
    throw new CacheUsageError(`linearCombinationInto: ${terms.length} terms and ${weights.length} weights; need the same positive count`);
  }
  for (const t of terms) checkSameLength(out, t, 'linearCombinationInto term');
  if (base) checkSameLength(out, base, 'linearCombinationInto base');
  const n = Math.min(terms.length, 5);
  const a0 = terms[0];
  const w0 = weights[0];
  // One dedicated loop per term count: V8 keeps each monomorphic and does no work for unused terms.
  if (n === 1) {
    if (base) for (let i = 0; i < out.length; i++) out[i] = base[i] + w0 * a0[i];
    else for (let i = 0; i < out.length; i++) out[i] = w0 * a0[i];
  } else if (n === 2) {
    const a1 = terms[1];
    const w1 = weights[1];
    if (base) for (let i = 0; i < out.length; i++) out[i] = base[i] + w0 * a0[i] + w1 * a1[i];
    else for (let i = 0; i < out.length; i++) out[i] = w0 * a0[i] + w1 * a1[i];
  } else if (n === 3) {
    const a1 = terms[1];
    const a2 = terms[2];
    const w1 = weights[1];
    const w2 = weights[2];
    if (base) for (let i = 0; i < out.length; i++) out[i] = base[i] + w0 * a0[i] + w1 * a1[i] + w2 * a2[i];
    else for (let i = 0; i < out.length; i++) out[i] = w0 * a0[i] + w1 * a1[i] + w2 * a2[i];
  } else if (n === 4) {
    const a1 = terms[1];
    const a2 = terms[2];
    const a3 = terms[3];
    const w1 = weights[1];
    const w2 = weights[2];
    const w3 = weights[3];
    if (base) for (let i = 0; i < out.length; i++) out[i] = base[i] + w0 * a0[i] + w1 * a1[i] + w2 * a2[i] + w3 * a3[i];
    else for (let i = 0; i < out.length; i++) out[i] = w0 * a0[i] + w1 * a1[i] + w2 * a2[i] + w3 * a3[i];
  } else {
    const a1 = terms[1];
    const a2 = terms[2];
    const a3 = terms[3];
    const a4 = terms[4];
    const w1 = weights[1];
    const w2 = weights[2];
    const w3 = weights[3];
    const w4 = weights[4];
    if (base) for (let i = 0; i < out.length; i++) out[i] = base[i] + w0 * a0[i] + w1 * a1[i] + w2 * a2[i] + w3 * a3[i] + w4 * a4[i];
    else for (let i = 0; i < out.length; i++) out[i] = w0 * a0[i] + w1 * a1[i] + w2 * a2[i] + w3 * a3[i] + w4 * a4[i];
  }
  for (let j = 5; j < terms.length; j++) {
    const t = terms[j];
    const w = weights[j];
    for (let i = 0; i < out.length; i++) out[i] += w * t[i];
  }
  return out;
}
