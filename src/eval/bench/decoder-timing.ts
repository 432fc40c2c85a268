// The VAE decode time per sample of a synthetic latent model's decoder, measured once per model beside the
// per-step split: what a pipeline adds after sampling, never part of a sampling run's wall time.
import { noiseForSample } from '../../diffusion/rng.js';
import { syntheticDecoder } from '../../models/synthetic.js';
import { decodeLatents } from '../../pipeline/decode.js';
import type { ModelEntry } from './model-entries.js';
import { spreadOf } from './numbers.js';
import type { DecoderTiming } from './rows.js';

/**
 * Decodes one seeded latent `reps` times after a first, untimed decode that builds the graph; undefined
 * when the entry has no decoder (a pixel-space or non-synthetic model).
 */
export async function timeDecoder(entry: ModelEntry, o: { threads: number; reps: number; seed: number }): Promise<DecoderTiming | undefined> {
  const info = entry.synthetic?.decoder;
  if (!entry.synthetic || !info) return undefined;
  const vae = syntheticDecoder(entry.synthetic.name, o.threads);
  if (!vae) return undefined;
  try {
    const shape = [...info.latentShape];
    // A diffusion-space latent as a sampler would hand it over (unit variance); decodeLatents scales it.
    const latents = noiseForSample(o.seed, 0, shape.slice(1));
    const t0 = performance.now();
    const first = await decodeLatents(vae, latents, shape, 1);
    const firstRunMs = performance.now() - t0;
    const runsMs: number[] = [];
    for (let r = 0; r < o.reps; r++) runsMs.push((await decodeLatents(vae, latents, shape, 1)).vaeMs);
    return { description: info.description, latentShape: shape, imageShape: first.shape, msPerSample: spreadOf(runsMs), runsMs, firstRunMs, threads: o.threads };
  } finally {
    await vae.release();
  }
}
