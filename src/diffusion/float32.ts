// float32 arithmetic as diffusers' schedulers run it in torch on the CPU, op for op: every +, −, ×, ÷ and √ of
// two float32 values is correctly rounded (so Math.fround of the float64 result is exact), log/exp/expm1 are
// rounded once from float64. Used where results must match diffusers to float32 precision, not only closely.

/** Round to float32. */
export const f32 = Math.fround;

/**
 * Which torch CPU linspace kernel to reproduce. Values differ only in the last float32 bit of some entries.
 * 'torch2' (torch ≥ 2.0, on x86 CPUs with FMA): one value at a time, start + step·i for the first half and
 *   end − step·(n − 1 − i) for the rest, each rounded once (the compiler fuses it into an FMA).
 * 'torch1-avx2' / 'torch1-avx512' (torch 1.x): the same bases, but filled 2 vectors of 8 / 16 floats per pass,
 *   each vector as base + fround(j·step) for j below the width, with only the tail one value at a time.
 */
export type TorchLinspaceKernel = 'torch2' | 'torch1-avx2' | 'torch1-avx512';

export const DEFAULT_TORCH_LINSPACE: TorchLinspaceKernel = 'torch2';

/** fma(a, b, c) rounded once to float32: a·b is exact in float64 when b is a small integer (< 2^29). */
function fmaIntF32(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

/**
 * torch.linspace(start, end, n, dtype=torch.float32) on the CPU, value for value: start and end rounded to
 * float32, step = (end − start)/(n − 1) in float32, the first half counted up from start and the second half
 * down from end (RangeFactoriesKernel's linspace), as `kernel` fills them.
 */
export function torchLinspaceF32(start: number, end: number, n: number, kernel: TorchLinspaceKernel = DEFAULT_TORCH_LINSPACE): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const [s, e] = [f32(start), f32(end)];
  const step = f32(f32(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  const at = (i: number): number => (i < half ? fmaIntF32(step, i, s) : fmaIntF32(-step, n - i - 1, e));
  const vectorFloats = kernel === 'torch1-avx2' ? 8 : kernel === 'torch1-avx512' ? 16 : 0;
  let i = 0;
  if (vectorFloats > 0) {
    for (; i + 2 * vectorFloats <= n; i += 2 * vectorFloats) {
      for (const first of [i, i + vectorFloats]) {
        const base = at(first);
        for (let j = 0; j < vectorFloats; j++) out[first + j] = f32(base + f32(j * step));
      }
    }
  }
  for (; i < n; i++) out[i] = at(i);
  return out;
}

/**
 * torch.cumprod of float32 values on the CPU: the running product is kept in float64 (ATen's CPU accumulate
 * type for float) and each output rounded to float32.
 */
export function torchCumprodF32(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  let product = 1;
  for (let i = 0; i < values.length; i++) {
    product *= values[i]!;
    out[i] = product;
  }
  return out;
}
