// Quality of one row's N samples: fidelity to the full run of the same seeds (PSNR capped per image,
// SSIM) and distribution quality (FID with its real-data floor, class accuracy) from the classifier.
import { createHash } from 'node:crypto';
import { meanSsim, psnrPerImage } from '../fidelity.js';
import { LinalgError } from '../linalg.js';
import type { MnistReference } from '../metrics.js';
import { PSNR_CAP_DB } from './rows.js';

export interface Fidelity {
  /** Mean over images of min(PSNR, PSNR_CAP_DB) in dB. */
  readonly psnr: number;
  readonly ssim: number;
}

/** images [n, c, h, w] in [0, 1] vs the full run's images of the same seeds. */
export function fidelity(images: Float32Array, fullImages: Float32Array, n: number, c: number, h: number, w: number): Fidelity {
  const per = psnrPerImage(images, fullImages, n);
  let sum = 0;
  for (const p of per) sum += Math.min(p, PSNR_CAP_DB);
  return { psnr: sum / n, ssim: meanSsim(images, fullImages, n, c, h, w) };
}

export interface Distribution {
  readonly fid: number;
  /** FID's bootstrap standard deviation over the row's samples (absent when FID failed). */
  readonly fidStd?: number;
  readonly fidReal: number;
  readonly classAcc: number;
  /** Why FID is missing (NaN), when the Fréchet distance could not be computed. */
  readonly fidError?: string;
}

/** Bootstrap resamples behind a row's FID spread (~16 ms each at 128 features: ~0.6 s a row). */
export const FID_BOOTSTRAP = 40;

/**
 * FID (with its bootstrap spread), its real-data floor and class accuracy. A failing Fréchet computation (LinalgError) does not end
 * the benchmark: FID becomes NaN (null in JSON) with the reason, class accuracy is still measured.
 */
export async function distribution(ref: MnistReference, images: Float32Array, labels: readonly number[], bootstrap = FID_BOOTSTRAP): Promise<Distribution> {
  try {
    const m = await ref.evaluate(images, labels, labels.length, { bootstrap });
    return { fid: m.fid, ...(m.fidStd !== undefined ? { fidStd: m.fidStd } : {}), fidReal: m.fidReal, classAcc: m.classAcc };
  } catch (e) {
    if (!(e instanceof LinalgError)) throw e;
    const f = await ref.classifier.run(images, labels.length);
    let correct = 0;
    labels.forEach((l, i) => (correct += f.predicted[i] === l ? 1 : 0));
    let fidReal = NaN;
    try {
      fidReal = await ref.fidReal(labels.length);
    } catch (e2) {
      if (!(e2 instanceof LinalgError)) throw e2;
    }
    return { fid: NaN, fidReal, classAcc: correct / labels.length, fidError: `${e.name}: ${e.message}` };
  }
}

/** sha256 of the bytes of a Float32Array (to check that a resumed run reproduces the full samples). */
export function sha256Of(a: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}
