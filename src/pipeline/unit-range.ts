// Model samples as pictures: data space [−1, 1] → [0, 1]. Pure (images.ts writes PNGs in Node; the browser
// app shows the same values).

/** [−1, 1] → [0, 1], clamped (our pixel models are trained on images scaled to [−1, 1]). */
export function toUnitRange(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.min(1, Math.max(0, (x[i] + 1) / 2));
  return out;
}
