// Fidelity of accelerated samples against the full-compute samples of the same seeds: PSNR and SSIM.
// SSIM follows Wang et al. 2004 as skimage computes it with gaussian_weights=True (11x11, σ=1.5, valid region).

/** Thrown when image buffers do not match the declared shapes. */
export class FidelityError extends Error {
  override name = 'FidelityError';
}

function checkPair(a: ArrayLike<number>, b: ArrayLike<number>, what: string, expected?: number): void {
  if (a.length !== b.length) throw new FidelityError(`${what}: the two image buffers differ in length (${a.length} vs ${b.length})`);
  if (expected !== undefined && a.length !== expected) throw new FidelityError(`${what}: expected ${expected} values for the declared shape, got ${a.length}`);
  if (a.length === 0) throw new FidelityError(`${what}: empty image buffers`);
}

function mseOf(a: ArrayLike<number>, b: ArrayLike<number>, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s / (end - start);
}

function psnrFromMse(mse: number, dataRange: number): number {
  return mse === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / mse);
}

/** PSNR in dB of the whole set (one MSE over every value); Infinity when identical. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, dataRange = 1): number {
  checkPair(a, b, 'psnr');
  return psnrFromMse(mseOf(a, b, 0, a.length), dataRange);
}

/** PSNR in dB of each of the `n` equally sized images in `a`/`b` ([n, ...]); Infinity for identical pairs. */
export function psnrPerImage(a: ArrayLike<number>, b: ArrayLike<number>, n: number, dataRange = 1): Float64Array {
  checkPair(a, b, 'psnrPerImage');
  if (!Number.isInteger(n) || n < 1 || a.length % n !== 0) throw new FidelityError(`psnrPerImage: ${a.length} values do not split into n=${n} equal images`);
  const size = a.length / n;
  return Float64Array.from({ length: n }, (_, i) => psnrFromMse(mseOf(a, b, i * size, (i + 1) * size), dataRange));
}

/** Mean of the per-image PSNRs (dB). Infinity as soon as one pair is identical, which is the honest mean. */
export function meanPsnr(a: ArrayLike<number>, b: ArrayLike<number>, n: number, dataRange = 1): number {
  const per = psnrPerImage(a, b, n, dataRange);
  return per.reduce((s, v) => s + v, 0) / n;
}

const SIGMA = 1.5;
const RADIUS = 5; // skimage: win_size = 2·int(3.5σ + 0.5) + 1 = 11
const K1 = 0.01;
const K2 = 0.03;

/** Normalised 1-D Gaussian taps (the 2-D window is separable). */
const TAPS: Float64Array = (() => {
  const t = Float64Array.from({ length: 2 * RADIUS + 1 }, (_, i) => Math.exp(-((i - RADIUS) ** 2) / (2 * SIGMA * SIGMA)));
  const s = t.reduce((x, y) => x + y, 0);
  return t.map((v) => v / s);
})();

/** Valid-region separable Gaussian filter of an [h, w] plane: output [h−10, w−10]. */
function gaussValid(src: Float64Array, h: number, w: number): Float64Array {
  const ow = w - 2 * RADIUS;
  const oh = h - 2 * RADIUS;
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t <= 2 * RADIUS; t++) s += TAPS[t] * src[y * w + x + t];
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t <= 2 * RADIUS; t++) s += TAPS[t] * rows[(y + t) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

function ssimPlane(a: ArrayLike<number>, b: ArrayLike<number>, offset: number, h: number, w: number, dataRange: number): number {
  const size = h * w;
  const x = new Float64Array(size);
  const y = new Float64Array(size);
  const xx = new Float64Array(size);
  const yy = new Float64Array(size);
  const xy = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const p = a[offset + i];
    const q = b[offset + i];
    x[i] = p;
    y[i] = q;
    xx[i] = p * p;
    yy[i] = q * q;
    xy[i] = p * q;
  }
  const [ux, uy, uxx, uyy, uxy] = [x, y, xx, yy, xy].map((m) => gaussValid(m, h, w));
  const c1 = (K1 * dataRange) ** 2;
  const c2 = (K2 * dataRange) ** 2;
  let total = 0;
  for (let i = 0; i < ux.length; i++) {
    const mx = ux[i];
    const my = uy[i];
    // Population (not sample) moments, as use_sample_covariance=False.
    const vx = uxx[i] - mx * mx;
    const vy = uyy[i] - my * my;
    const vxy = uxy[i] - mx * my;
    total += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
  }
  return total / ux.length;
}

function checkWindow(h: number, w: number, what: string): void {
  if (h < 2 * RADIUS + 1 || w < 2 * RADIUS + 1) throw new FidelityError(`${what}: images must be at least ${2 * RADIUS + 1}x${2 * RADIUS + 1} for the 11x11 window, got ${h}x${w}`);
}

function ssimAt(a: ArrayLike<number>, b: ArrayLike<number>, offset: number, c: number, h: number, w: number, dataRange: number): number {
  let s = 0;
  for (let ch = 0; ch < c; ch++) s += ssimPlane(a, b, offset + ch * h * w, h, w, dataRange);
  return s / c;
}

/** Mean SSIM of one image pair laid out [C, H, W] (channels averaged), data range `dataRange` (default 1). */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, h: number, w: number, c = 1, dataRange = 1): number {
  checkPair(a, b, 'ssim', c * h * w);
  checkWindow(h, w, 'ssim');
  return ssimAt(a, b, 0, c, h, w, dataRange);
}

/** SSIM of each of `n` image pairs laid out [n, C, H, W]. */
export function ssimPerImage(a: ArrayLike<number>, b: ArrayLike<number>, n: number, c: number, h: number, w: number, dataRange = 1): Float64Array {
  const size = c * h * w;
  checkPair(a, b, 'ssimPerImage', n * size);
  checkWindow(h, w, 'ssimPerImage');
  return Float64Array.from({ length: n }, (_, i) => ssimAt(a, b, i * size, c, h, w, dataRange));
}

/** Mean SSIM over `n` image pairs laid out [n, C, H, W]. */
export function meanSsim(a: ArrayLike<number>, b: ArrayLike<number>, n: number, c: number, h: number, w: number, dataRange = 1): number {
  return ssimPerImage(a, b, n, c, h, w, dataRange).reduce((s, v) => s + v, 0) / n;
}
