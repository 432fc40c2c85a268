// Frame ranges of flat row-major video tensors [B, C, T, H, W]: cut a chunk out, put a chunk in. The
// chunked decode and encode move every chunk through these, so they are kept small and checked.

export type Shape5 = readonly [number, number, number, number, number];

/** Frames [t0, t0 + n) of `data` [B, C, T, H, W] as a new [B, C, n, H, W] array. */
export function sliceFrames(data: Float32Array, shape: Shape5, t0: number, n: number): Float32Array {
  const [b, c, t, h, w] = shape;
  if (!(t0 >= 0 && n >= 1 && t0 + n <= t)) throw new RangeError(`sliceFrames: frames [${t0}, ${t0 + n}) are outside 0..${t}`);
  const plane = h * w;
  const out = new Float32Array(b * c * n * plane);
  for (let bc = 0; bc < b * c; bc++) {
    const from = (bc * t + t0) * plane;
    out.set(data.subarray(from, from + n * plane), bc * n * plane);
  }
  return out;
}

/** Writes `chunk` [B, C, n, H, W] into frames [t0, t0 + n) of `out` [B, C, T, H, W]. */
export function putFrames(out: Float32Array, shape: Shape5, chunk: Float32Array, t0: number): void {
  const [b, c, t, h, w] = shape;
  const plane = h * w;
  const n = chunk.length / (b * c * plane);
  if (!Number.isInteger(n) || t0 < 0 || t0 + n > t) throw new RangeError(`putFrames: a chunk of ${chunk.length} values does not fit frames from ${t0} of [${shape.join(', ')}]`);
  for (let bc = 0; bc < b * c; bc++) out.set(chunk.subarray(bc * n * plane, (bc + 1) * n * plane), (bc * t + t0) * plane);
}
