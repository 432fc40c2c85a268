// The last stage of a latent pipeline: diffusion-space latents → VAE decode → RGB images in [0, 1].
// Family-neutral: any decoder with the AutoencoderKL face (scaling/shift factors, decode of raw latents).
import type { Tensor } from '../models/tensor.js';
import { GenerateError } from './errors.js';

/** What decoding needs from a VAE (loadVAE's AutoencoderKL has it). */
export interface LatentDecoder {
  readonly latentChannels: number;
  readonly scalingFactor: number;
  readonly shiftFactor: number;
  /** raw latent [B, C, h, w] → image [B, 3, H, W] in ≈[−1, 1] */
  decode(z: Tensor): Promise<Tensor>;
}

export interface DecodedImages {
  /** [N, 3, H, W] in [0, 1] */
  images: Float32Array;
  shape: [number, number, number, number];
  /** wall time of the decoder (ms) */
  vaeMs: number;
}

/**
 * Decodes sampled latents [N, C, h, w] (the diffusion model's space) `batch` at a time: z = latents /
 * scaling_factor + shift_factor, as diffusers' pipelines do, then [−1, 1] → [0, 1] clamped.
 */
export async function decodeLatents(vae: LatentDecoder, latents: Float32Array, shape: readonly number[], batch = 4): Promise<DecodedImages> {
  const [N, C, h, w] = shape;
  if (shape.length !== 4 || C !== vae.latentChannels) {
    throw new GenerateError(`the VAE decodes ${vae.latentChannels}-channel latents, but the samples are [${shape.join(', ')}]`);
  }
  const per = C * h * w;
  let images: Float32Array | undefined;
  let outShape: [number, number, number, number] = [N, 3, 0, 0];
  let vaeMs = 0;
  for (let a = 0; a < N; a += batch) {
    const b = Math.min(N, a + batch);
    const z = new Float32Array((b - a) * per);
    for (let i = 0; i < z.length; i++) z[i] = latents[a * per + i] / vae.scalingFactor + vae.shiftFactor;
    const t0 = performance.now();
    const out = await vae.decode({ data: z, shape: [b - a, C, h, w] });
    vaeMs += performance.now() - t0;
    const [, oc, H, W] = out.shape;
    if (!images) {
      outShape = [N, oc, H, W];
      images = new Float32Array(N * oc * H * W);
    }
    const x = out.data as Float32Array;
    const o = a * oc * H * W;
    for (let i = 0; i < x.length; i++) images[o + i] = Math.min(1, Math.max(0, (x[i] + 1) / 2));
  }
  return { images: images ?? new Float32Array(0), shape: outShape, vaeMs };
}
