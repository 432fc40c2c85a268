// The cache's element-wise kernels over one sample's [T*D] float32 vectors, as WebAssembly SIMD (four
// float32 lanes; kernels.wat) with a plain-JS twin. JS loops cost ~0.5–1 ns per element and array
// touched, which on a small DiT is several per cent of a step; the wasm kernels, copies in and out
// included, a fraction of that. Both implementations are exported so tests hold them to each other.
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

/** Constants of the released code's element-wise prediction (tcpade-reference.ts), β already per stage. */
export interface ReferenceKernelParams {
  readonly lambda: number;
  readonly sigmaEpsilon: number;
  readonly denominatorScale: number;
  readonly epsilon: number;
  readonly avgWeight: number;
  readonly deviationFactor: number;
  readonly magnitudeFactor: number;
  readonly blendSigmaWeight: number;
  readonly blendBase: number;
  readonly beta: number;
  readonly fallbackFactor: number;
}

export interface Kernels {
  readonly name: 'wasm-simd' | 'js';
  /** out = base + Σ_j weights[j]·terms[j] (base optional; `out` may alias `base`, not a term). */
  linearCombinationInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): Float32Array;
  /** linearCombinationInto, returning whether every element of `out` is finite (checked where it is made). */
  linearCombinationCheckedInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): boolean;
  /** out = a + b (out may alias a or b), returning whether every element of `out` is finite. */
  addCheckedInto(out: Float32Array, a: Float32Array, b: Float32Array): boolean;
  /** out = a − b (out may alias a or b). */
  subInto(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array;
  /** subInto, returning whether every element of `out` is finite. */
  subCheckedInto(out: Float32Array, a: Float32Array, b: Float32Array): boolean;
  /**
   * For each row of `coefs`: Σ_i (Σ_j row[j]·arrays[j][i])², up to four arrays, all in float64 (the
   * combinations cancel, as in the TSI).
   */
  sumSquaresOfCombinations(arrays: readonly Float32Array[], coefs: readonly (readonly number[])[]): number[];
  /**
   * For each (p, q): Σ_i (p·(a0[i] − a1[i]) + q·(a1[i] − a2[i]))² in float64, differences first (exact for
   * float32 inputs): ‖R1 − R2‖², ‖R2 − R3‖² and the TSI's ‖u1 − u2‖² without cancellation.
   */
  sumSquaresOfMoves(a0: Float32Array, a1: Float32Array, a2: Float32Array, pq: readonly (readonly [number, number])[]): number[];
  /**
   * One float64 pass over three trajectory points with d1 = a0 − a1, d2 = a1 − a2:
   * [‖d1‖², ‖d2‖², ⟨d1, d2⟩, ‖a0 + a1‖²] (the TSI and σ of TC-Padé).
   */
  trajectorySums(a0: Float32Array, a1: Float32Array, a2: Float32Array): [number, number, number, number];
  /** [Σ_i |a[i] − b[i]|, Σ_i |b[i]|] in float64, one pass (the relative L1 change of TeaCache and FBCache). */
  relativeL1Sums(a: Float32Array, b: Float32Array): [number, number];
  allFinite(a: Float32Array): boolean;
  /**
   * The released code's element-wise prediction in float32 (wasm only; tcpade-reference.ts holds the
   * float64 JS form): writes `out`, returns how many elements took the non-finite fallback.
   */
  referencePredictionInto?(out: Float32Array, r1: Float32Array, r2: Float32Array, k: ReferenceKernelParams): number;
  /**
   * The paper's Padé [2/1] in float32 (wasm only; tcpade-math.ts holds the JS loop):
   * out = base + (b0·r1 + b1·r2) / guard(1 + a1·r1) + β·(r1 − r2), guard |den| ≥ ε keeping its sign.
   */
  padePaperInto?(out: Float32Array, r1: Float32Array, r2: Float32Array, k: PadeKernelParams, base?: Float32Array): Float32Array;
}

export interface PadeKernelParams {
  readonly b0: number;
  readonly b1: number;
  readonly a1: number;
  readonly epsilon: number;
  /** late-stage increment β·(R1 − R2); 0 otherwise */
  readonly beta: number;
}

export const jsKernels: Kernels = {
  name: 'js',
  linearCombinationInto(out, terms, weights, base) {
    const n = out.length;
    if (terms.length === 3) {
      // the common case (three history entries), one pass
      const [a0, a1, a2] = terms;
      const [w0, w1, w2] = weights;
      if (base) for (let i = 0; i < n; i++) out[i] = base[i] + w0 * a0[i] + w1 * a1[i] + w2 * a2[i];
      else for (let i = 0; i < n; i++) out[i] = w0 * a0[i] + w1 * a1[i] + w2 * a2[i];
      return out;
    }
    if (base) out.set(base);
    else out.fill(0);
    for (let j = 0; j < terms.length; j++) {
      const t = terms[j];
      const w = weights[j];
      for (let i = 0; i < n; i++) out[i] += w * t[i];
    }
    return out;
  },
  linearCombinationCheckedInto(out, terms, weights, base) {
    return jsKernels.allFinite(jsKernels.linearCombinationInto(out, terms, weights, base));
  },
  addCheckedInto(out, a, b) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
    return jsKernels.allFinite(out);
  },
  subInto(out, a, b) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] - b[i];
    return out;
  },
  subCheckedInto(out, a, b) {
    return jsKernels.allFinite(jsKernels.subInto(out, a, b));
  },
  sumSquaresOfCombinations(arrays, coefs) {
    const n = arrays[0].length;
    const a = [0, 1, 2, 3].map((j) => (j < arrays.length ? arrays[j] : arrays[0]));
    return coefs.map((row) => {
      const c = [0, 1, 2, 3].map((j) => (j < arrays.length ? row[j] : 0));
      let s = 0;
      for (let i = 0; i < n; i++) {
        const x = c[0] * a[0][i] + c[1] * a[1][i] + c[2] * a[2][i] + c[3] * a[3][i];
        s += x * x;
      }
      return s;
    });
  },
  sumSquaresOfMoves(a0, a1, a2, pq) {
    return pq.map(([p, q]) => {
      let s = 0;
      for (let i = 0; i < a0.length; i++) {
        const y = p * (a0[i] - a1[i]) + q * (a1[i] - a2[i]);
        s += y * y;
      }
      return s;
    });
  },
  trajectorySums(a0, a1, a2) {
    let n1 = 0;
    let n2 = 0;
    let dot = 0;
    let sum2 = 0;
    for (let i = 0; i < a0.length; i++) {
      const d1 = a0[i] - a1[i];
      const d2 = a1[i] - a2[i];
      const s = a0[i] + a1[i];
      n1 += d1 * d1;
      n2 += d2 * d2;
      dot += d1 * d2;
      sum2 += s * s;
    }
    return [n1, n2, dot, sum2];
  },
  relativeL1Sums(a, b) {
    let diff = 0;
    let ref = 0;
    for (let i = 0; i < a.length; i++) {
      diff += Math.abs(a[i] - b[i]);
      ref += Math.abs(b[i]);
    }
    return [diff, ref];
  },
  allFinite(a) {
    // A finite sum proves every element finite; a non-finite one (NaN/Inf, or overflow) is settled per element.
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += a[i];
    if (Number.isFinite(sum)) return true;
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
    return true;
  },
};

interface KernelExports {
  memory: WebAssembly.Memory;
  axpy(dst: number, src: number, w: number, n4: number): void;
  lincomb4(dst: number, b: number, a0: number, a1: number, a2: number, a3: number, wb: number, w0: number, w1: number, w2: number, w3: number, n4: number): void;
  add(dst: number, a: number, b: number, n4: number): number;
  sub(dst: number, a: number, b: number, n4: number): number;
  sumsq4(a0: number, a1: number, a2: number, a3: number, c0: number, c1: number, c2: number, c3: number, n4: number): number;
  sumsqMoves(a0: number, a1: number, a2: number, p: number, q: number, n4: number): number;
  relativeL1Sums(a: number, b: number, n4: number, out: number): void;
  trajectorySums(a0: number, a1: number, a2: number, n4: number, out: number): void;
  allFinite(a: number, n4: number): number;
  padePaper(out: number, a: number, b: number, base: number, n4: number, b0: number, b1: number, a1: number, eps: number, beta: number, wb: number): void;
  referencePrediction(
    out: number, a: number, b: number, n4: number, lambda: number, sigmaEps: number, denScale: number, eps: number, avgW: number,
    devF: number, halfMag: number, blendW: number, blendBase: number, beta: number, fallback: number,
  ): number;
}

const PAGE_BYTES = 65536;

/** Vectors are copied into fixed slots of the module's memory (memcpy speed), processed, copied out. */
class WasmKernels implements Kernels {
  readonly name = 'wasm-simd' as const;
  private f32: Float32Array;

  constructor(private readonly k: KernelExports) {
    this.f32 = new Float32Array(k.memory.buffer);
  }

  /** Slot stride in floats for vectors of n elements, with memory for `slots` of them. */
  private layout(n: number, slots: number): number {
    const stride = (n + 3) & ~3;
    const bytes = stride * 4 * slots;
    const have = this.k.memory.buffer.byteLength;
    if (bytes > have) {
      this.k.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
      this.f32 = new Float32Array(this.k.memory.buffer);
    }
    return stride;
  }

  /** Copy `a` into slot `slot`, filling the padding lanes with `pad`. */
  private put(a: Float32Array, slot: number, stride: number, pad = 0): number {
    const at = slot * stride;
    this.f32.set(a, at);
    for (let i = a.length; i < stride; i++) this.f32[at + i] = pad;
    return at * 4;
  }

  linearCombinationInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): Float32Array {
    this.combine(out, terms, weights, base);
    out.set(this.f32.subarray(0, out.length));
    return out;
  }

  linearCombinationCheckedInto(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): boolean {
    const n4 = this.combine(out, terms, weights, base);
    out.set(this.f32.subarray(0, out.length));
    // checked in wasm memory while the result is still in cache, instead of copying it in again
    return this.k.allFinite(0, n4) === 1;
  }

  /** The combination into slot 0; returns its lane-group count. */
  private combine(out: Float32Array, terms: readonly Float32Array[], weights: readonly number[], base?: Float32Array): number {
    const n = out.length;
    const stride = this.layout(n, terms.length + 2);
    const n4 = stride >> 2;
    const p = terms.map((t, j) => this.put(t, j + 1, stride));
    const pb = base ? this.put(base, terms.length + 1, stride) : p[0];
    // The first four terms and the base in one pass; unused slots read term 0 with weight 0.
    const w = [0, 1, 2, 3].map((j) => (j < terms.length ? weights[j] : 0));
    const q = [0, 1, 2, 3].map((j) => (j < terms.length ? p[j] : p[0]));
    this.k.lincomb4(0, pb, q[0], q[1], q[2], q[3], base ? 1 : 0, w[0], w[1], w[2], w[3], n4);
    for (let j = 4; j < terms.length; j++) this.k.axpy(0, p[j], weights[j], n4);
    return n4;
  }

  addCheckedInto(out: Float32Array, a: Float32Array, b: Float32Array): boolean {
    return this.pairwise(this.k.add, out, a, b);
  }

  subInto(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
    this.pairwise(this.k.sub, out, a, b);
    return out;
  }

  subCheckedInto(out: Float32Array, a: Float32Array, b: Float32Array): boolean {
    return this.pairwise(this.k.sub, out, a, b);
  }

  /** out = op(a, b) through slot 0; returns whether every element is finite (checked by the kernel). */
  private pairwise(op: KernelExports['add'], out: Float32Array, a: Float32Array, b: Float32Array): boolean {
    const stride = this.layout(out.length, 3);
    const pa = this.put(a, 1, stride);
    const pb = this.put(b, 2, stride);
    const finite = op(0, pa, pb, stride >> 2) === 1;
    out.set(this.f32.subarray(0, out.length));
    return finite;
  }

  sumSquaresOfCombinations(arrays: readonly Float32Array[], coefs: readonly (readonly number[])[]): number[] {
    const stride = this.layout(arrays[0].length, 4);
    const p = arrays.map((a, j) => this.put(a, j, stride));
    while (p.length < 4) p.push(p[0]);
    return coefs.map((row) => {
      const c = [0, 1, 2, 3].map((j) => (j < arrays.length ? row[j] : 0));
      return this.k.sumsq4(p[0], p[1], p[2], p[3], c[0], c[1], c[2], c[3], stride >> 2);
    });
  }

  sumSquaresOfMoves(a0: Float32Array, a1: Float32Array, a2: Float32Array, pq: readonly (readonly [number, number])[]): number[] {
    const stride = this.layout(a0.length, 3);
    const [p0, p1, p2] = [a0, a1, a2].map((a, j) => this.put(a, j, stride));
    return pq.map(([p, q]) => this.k.sumsqMoves(p0, p1, p2, p, q, stride >> 2));
  }

  trajectorySums(a0: Float32Array, a1: Float32Array, a2: Float32Array): [number, number, number, number] {
    const stride = this.layout(a0.length, 4); // slot 3 holds the four f64 results
    const [p0, p1, p2] = [a0, a1, a2].map((a, j) => this.put(a, j, stride));
    const out = 3 * stride * 4;
    this.k.trajectorySums(p0, p1, p2, stride >> 2, out);
    const r = new Float64Array(this.k.memory.buffer, out, 4);
    return [r[0], r[1], r[2], r[3]];
  }

  relativeL1Sums(a: Float32Array, b: Float32Array): [number, number] {
    const stride = this.layout(a.length, 3); // slot 2 holds the two f64 results
    const [pa, pb] = [this.put(a, 0, stride), this.put(b, 1, stride)];
    const out = 2 * stride * 4;
    this.k.relativeL1Sums(pa, pb, stride >> 2, out);
    const r = new Float64Array(this.k.memory.buffer, out, 2);
    return [r[0], r[1]];
  }

  referencePredictionInto(out: Float32Array, r1: Float32Array, r2: Float32Array, k: ReferenceKernelParams): number {
    const stride = this.layout(out.length, 3);
    // padding lanes hold 1s: zeros could make 0/0 (σ with ε_σ = 0) and count as fallbacks
    const [pa, pb] = [this.put(r1, 1, stride, 1), this.put(r2, 2, stride, 1)];
    const fallbacks = this.k.referencePrediction(
      0, pa, pb, stride >> 2, k.lambda, k.sigmaEpsilon, k.denominatorScale, k.epsilon, k.avgWeight,
      k.deviationFactor, 0.5 * k.magnitudeFactor, k.blendSigmaWeight, k.blendBase, k.beta, k.fallbackFactor,
    );
    out.set(this.f32.subarray(0, out.length));
    return fallbacks;
  }

  padePaperInto(out: Float32Array, r1: Float32Array, r2: Float32Array, k: PadeKernelParams, base?: Float32Array): Float32Array {
    const stride = this.layout(out.length, 4);
    const [pa, pb] = [this.put(r1, 1, stride), this.put(r2, 2, stride)];
    const pbase = base ? this.put(base, 3, stride) : pa;
    this.k.padePaper(0, pa, pb, pbase, stride >> 2, k.b0, k.b1, k.a1, k.epsilon, k.beta, base ? 1 : 0);
    out.set(this.f32.subarray(0, out.length));
    return out;
  }

  allFinite(a: Float32Array): boolean {
    const stride = this.layout(a.length, 1);
    return this.k.allFinite(this.put(a, 0, stride), stride >> 2) === 1;
  }
}

/** The wasm kernels, or null where this runtime cannot run wasm SIMD. */
export function createWasmKernels(): Kernels | null {
  const bytes = Uint8Array.from(atob(KERNELS_WASM_BASE64), (ch) => ch.charCodeAt(0));
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  return new WasmKernels(instance.exports as unknown as KernelExports);
}

/** What the cache math uses: wasm SIMD when available, unless TCPADE_CACHE_KERNELS=js. */
export const kernels: Kernels = (globalThis.process?.env?.TCPADE_CACHE_KERNELS === 'js' ? null : createWasmKernels()) ?? jsKernels;
