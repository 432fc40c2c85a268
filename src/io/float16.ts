// float32 → IEEE 754 half precision (the bits safetensors' F16 stores), rounded to nearest, ties to even —
// the inverse of the F16 widening in safetensors-format.ts. Used to publish a model at half the bytes.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The F16 bit pattern nearest to `v` (ties to even); beyond the F16 range ±∞, NaN stays NaN. */
export function float16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // ±∞, NaN (quiet)
  const e = exponent - 127 + 15; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±∞
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-1 mantissa right, round to nearest even
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const kept = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (kept + (rest > half || (rest === half && kept & 1) ? 1 : 0));
  }
  const kept = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // a carry out of the mantissa bumps the exponent, up to ∞ (0x7c00), as rounding should
  return sign | (kept + (rest > 0x1000 || (rest === 0x1000 && kept & 1) ? 1 : 0));
}

/** Every value of `a` as F16 bits. */
export function toFloat16Bits(a: Float32Array): Uint16Array {
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = float16Bits(a[i]);
  return out;
}
