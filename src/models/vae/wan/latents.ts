// The Wan pipelines' per-channel latent normalisation, which lives in the pipeline, not in the VAE:
// WanPipeline decodes z = latents / (1 / latents_std) + latents_mean, WanVideoToVideoPipeline encodes
// latents = (z − latents_mean) · (1 / latents_std), each in float32 with the reciprocal rounded first.
import { VAEInputError } from '../errors.js';
import { Tensor, numel } from '../../tensor.js';

/** The config's statistics, one per latent channel. */
export interface LatentStats {
  readonly latentsMean: readonly number[];
  readonly latentsStd: readonly number[];
}

function perChannel(what: string, t: Tensor, stats: LatentStats, each: (v: number, mean: number, invStd: number) => number): Tensor {
  const channels = stats.latentsMean.length;
  const shape = t?.shape;
  if (!Array.isArray(shape) || shape.length !== 5 || !(t.data instanceof Float32Array) || t.data.length !== numel(shape) || shape[1] !== channels) {
    throw new VAEInputError(`${what}: expected a float32 latent [B, ${channels}, T, h, w], got shape ${JSON.stringify(shape)} holding ${t?.data?.constructor?.name ?? typeof t?.data}`);
  }
  const plane = shape[2] * shape[3] * shape[4];
  const out = new Float32Array(t.data.length);
  // torch.tensor(list) is float32; 1.0 / it rounds the reciprocal to float32 before it is used.
  const mean = Float32Array.from(stats.latentsMean);
  const invStd = Float32Array.from(stats.latentsStd, (s) => 1 / Math.fround(s));
  for (let i = 0; i < out.length; i++) {
    const ch = Math.floor(i / plane) % channels;
    out[i] = each(t.data[i], mean[ch], invStd[ch]);
  }
  return { data: out, shape: [...shape] };
}

/** WanPipeline before vae.decode: z = latents / (1 / std) + mean (float32 steps, as the pipeline). */
export function denormalizeWanLatents(latents: Tensor, stats: LatentStats): Tensor {
  return perChannel('denormalizeWanLatents', latents, stats, (v, mean, invStd) => Math.fround(v / invStd) + mean);
}

/** WanVideoToVideoPipeline after vae.encode: latents = (z − mean) · (1 / std) (float32 steps). */
export function normalizeWanLatents(z: Tensor, stats: LatentStats): Tensor {
  return perChannel('normalizeWanLatents', z, stats, (v, mean, invStd) => Math.fround(v - mean) * invStd);
}
