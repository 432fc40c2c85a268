// A video model's run in `tcpade generate`: its VAE (the pipeline folder's vae/ or --vae, an AutoencoderKLWan),
// the pipeline's latent de-normalisation and the decode, then per sample an animation (video.webp / .gif) with
// frames/000.png …, and samples.safetensors with frames [N, F, 3, H, W] in [0, 1].
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { isPipelineFolder, readPipelineFolder } from '../models/folders.js';
import { loadVAE, type AutoencoderKLWan } from '../models/vae/index.js';
import { writeSafetensorsSync, type StWritableTensor } from '../io/safetensors.js';
import { decodedVideoToFrames, writeVideo, type VideoFormat } from '../pipeline/video.js';

/** The video VAE for a model with `latentChannels`: --vae, else the pipeline folder's vae/; none when neither exists. */
export async function resolveVideoVae(latentChannels: number, modelPath: string, vaeOpt: string | undefined, threads: number): Promise<{ vae?: AutoencoderKLWan; from?: string }> {
  const pipelineVae = fs.statSync(modelPath).isDirectory() && isPipelineFolder(modelPath) ? readPipelineFolder(modelPath).components.vae : undefined;
  const from = vaeOpt ?? pipelineVae;
  if (!from) return {};
  const vae = await loadVAE(from, { threads, expect: 'video' });
  if (vae.latentChannels !== latentChannels) {
    await vae.release();
    throw new InvalidArgumentError(`the video VAE ${from} has ${vae.latentChannels} latent channels but the model ${modelPath} samples ${latentChannels}-channel latents; pass the VAE of the same pipeline`);
  }
  return { vae, from };
}

/**
 * Decodes sampled latents [N, C, F, h, w] (WanPipeline: de-normalised with the VAE config's latents_mean /
 * latents_std first) and writes every sample's animation and frames; returns what was written and the VAE time.
 */
export async function writeVideos(
  vae: AutoencoderKLWan,
  latents: { data: Float32Array; shape: number[] },
  out: string,
  rowTensor: Record<string, StWritableTensor>,
  format: VideoFormat,
): Promise<{ written: string[]; vaeMs: number }> {
  const t0 = performance.now();
  const video = await vae.decode(vae.denormalizeLatents({ data: latents.data, shape: latents.shape }));
  const vaeMs = performance.now() - t0;
  const { frames, shape } = decodedVideoToFrames(video.data as Float32Array, video.shape);
  const [n, f, c, h, w] = shape;
  writeSafetensorsSync(path.join(out, 'samples.safetensors'), { frames: { dtype: 'F32', shape, data: frames }, ...rowTensor });
  const per = f * c * h * w;
  const dirs: string[] = [];
  for (let k = 0; k < n; k++) {
    // one video: its files beside stats.json; several: videos/000/, videos/001/, …
    const dir = n === 1 ? out : path.join(out, 'videos', String(k).padStart(3, '0'));
    await writeVideo(dir, frames.subarray(k * per, (k + 1) * per), [f, c, h, w], { format });
    dirs.push(dir);
  }
  const where = n === 1 ? `video.${format}, frames/ (${f} PNGs)` : `videos/000 … ${String(n - 1).padStart(3, '0')}/ (video.${format} + ${f} frame PNGs each)`;
  return { written: [where, `samples.safetensors (frames [${shape.join(', ')}])`], vaeMs };
}
