// FluxPipeline's latent packing: VAE latents [B, C, 2h, 2w] ↔ token-major packed latents [B, h·w, 4C]
// (2×2 patches, channel index c·4 + dy·2 + dx), the layout the FLUX transformer reads and writes.
import { ModelInputError } from '../denoiser.js';

/** latents [B, C, H, W] (H, W even) → packed [B, (H/2)·(W/2), 4C]. */
export function packLatents(latents: Float32Array, shape: readonly number[]): { data: Float32Array; shape: [number, number, number] } {
  const [B, C, H, W] = checkLatentShape(latents.length, shape);
  const h = H / 2;
  const w = W / 2;
  const out = new Float32Array(latents.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const token = (y >> 1) * w + (x >> 1);
          const ch = c * 4 + (y & 1) * 2 + (x & 1);
          out[(b * h * w + token) * 4 * C + ch] = latents[((b * C + c) * H + y) * W + x];
        }
  return { data: out, shape: [B, h * w, 4 * C] };
}

/** packed [B, (H/2)·(W/2), 4C] → latents [B, C, H, W]: the inverse of packLatents (FluxPipeline._unpack_latents). */
export function unpackLatents(packed: Float32Array, latentShape: readonly number[]): Float32Array {
  const [B, C, H, W] = checkLatentShape(packed.length, latentShape);
  const h = H / 2;
  const w = W / 2;
  const out = new Float32Array(packed.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const token = (y >> 1) * w + (x >> 1);
          const ch = c * 4 + (y & 1) * 2 + (x & 1);
          out[((b * C + c) * H + y) * W + x] = packed[(b * h * w + token) * 4 * C + ch];
        }
  return out;
}

function checkLatentShape(values: number, shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) throw new ModelInputError(`FLUX latents must be [B, C, H, W] positive integers, got [${shape.join(', ')}]`);
  const [B, C, H, W] = shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new ModelInputError(`FLUX packs 2×2 latent patches: H and W must be even, got ${H}×${W} (image sides must be multiples of 16 pixels)`);
  if (values !== B * C * H * W) throw new ModelInputError(`latents hold ${values} values but [${shape.join(', ')}] needs ${B * C * H * W}`);
  return [B, C, H, W];
}
