// The input size a set of Wan graphs is built for: latent video frames × rows × cols and text tokens,
// the token grid after patching, and the layout of the per-row conditioning vector.
import { ModelInputError, type OutputSize } from '../denoiser.js';
import { nearestMultiples, nearestOffsetMultiples, orList } from '../sizes.js';
import { WanConfig, innerDim } from './config.js';

/** Latent video size (the model input's F, H, W) and text tokens per row (L). */
export interface WanGeometry {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly textTokens: number;
}

/** Tokens per axis after the patch embedding. */
export interface TokenGrid {
  readonly frames: number;
  readonly rows: number;
  readonly cols: number;
}

/**
 * diffusers' WanPipeline defaults: 81 frames at 480 × 832 through the Wan VAE (4× in time, 8× in space)
 * → 21 × 60 × 104 latents (32,760 tokens at patch 1 × 2 × 2).
 */
export const WAN_DEFAULT_LATENT_SIZE: readonly [number, number, number] = [21, 60, 104];

/**
 * The segment API's latent size when none is asked for: WanPipeline's [21, 60, 104], each axis cut down
 * to a multiple of the patch whose token count the model's RoPE table covers (small test configs have
 * rope_max_seq_len 32), so loading never fails on the default.
 */
export function defaultLatentSize(c: WanConfig): [number, number, number] {
  const fit = (n: number, p: number) => Math.max(1, Math.min(Math.floor(n / p), c.ropeMaxSeqLen)) * p;
  const [f, h, w] = WAN_DEFAULT_LATENT_SIZE;
  return [fit(f, c.patchSize[0]), fit(h, c.patchSize[1]), fit(w, c.patchSize[2])];
}

/** WanPipeline pads every prompt's umT5 hidden states with zeros to max_sequence_length = 512 tokens. */
export const WAN_DEFAULT_TEXT_TOKENS = 512;

/**
 * Refuses a size the patch embedding cannot tile exactly (diffusers would silently drop the remainder)
 * or whose token grid outruns the RoPE table.
 */
export function checkGeometry(c: WanConfig, g: WanGeometry): void {
  const [pt, ph, pw] = c.patchSize;
  const parts: [string, number, number][] = [['frames', g.frames, pt], ['height', g.height, ph], ['width', g.width, pw]];
  for (const [name, n, p] of parts) {
    if (!Number.isInteger(n) || n < 1 || n % p !== 0) throw new ModelInputError(`latent ${name} ${n} must be a positive multiple of the patch size ${p} (patch [${c.patchSize.join(', ')}])`);
  }
  const grid = tokenGrid(c, g);
  const axes: [string, number][] = [['frames', grid.frames], ['rows', grid.rows], ['cols', grid.cols]];
  for (const [name, n] of axes) {
    if (n > c.ropeMaxSeqLen) throw new ModelInputError(`${n} ${name} after patching exceed the model's RoPE table (rope_max_seq_len ${c.ropeMaxSeqLen}); use a smaller latent`);
  }
  if (!Number.isInteger(g.textTokens) || g.textTokens < 1) throw new ModelInputError(`text tokens per row must be a positive integer, got ${g.textTokens}`);
}

export function tokenGrid(c: WanConfig, g: WanGeometry): TokenGrid {
  return { frames: g.frames / c.patchSize[0], rows: g.height / c.patchSize[1], cols: g.width / c.patchSize[2] };
}

export function tokenCount(c: WanConfig, g: WanGeometry): number {
  const t = tokenGrid(c, g);
  return t.frames * t.rows * t.cols;
}

/** A stable name for graph caching. */
export function geometryKey(g: WanGeometry): string {
  return `f${g.frames}h${g.height}w${g.width}l${g.textTokens}`;
}

/**
 * The conditioning vector every block and the head read, per row (the contract passes blocks one
 * [R, condSize] array): temb [D] ‖ timestep_proj [6·D] ‖ the projected text tokens [L, D] flattened.
 * The head reads temb, a block reads timestep_proj and the text; all three depend only on the row's
 * timestep and prompt, so caches may reuse or gather them like any other per-row state.
 */
export interface CondLayout {
  /** offset and width of temb */
  readonly temb: readonly [number, number];
  /** offset and width of timestep_proj (6 modulation vectors) */
  readonly timestepProj: readonly [number, number];
  /** offset and width of the projected text (L·D) */
  readonly text: readonly [number, number];
  readonly size: number;
}

export function condLayout(c: WanConfig, g: WanGeometry): CondLayout {
  const D = innerDim(c);
  return { temb: [0, D], timestepProj: [D, 6 * D], text: [7 * D, g.textTokens * D], size: 7 * D + g.textTokens * D };
}

/** WanPipeline's defaults: 81 frames of 480 × 832 pixels, classifier-free guidance 5 against the negative prompt. */
export const WAN_PIPELINE_DEFAULTS = { heightPx: 480, widthPx: 832, frames: 81, cfgScale: 5 } as const;

/** The Wan VAE's compression: 4× in time (after the first frame), 8× in space. */
export const WAN_VAE_TEMPORAL = 4;
export const WAN_VAE_SPATIAL = 8;

/**
 * The latent [F, H, W] of a WanPipeline video: frames 4k + 1 → (frames − 1)/4 + 1 latent frames, sides ÷ 8;
 * each latent axis must tile by the patch and fit the RoPE table. Refused sizes name the nearest valid ones
 * (WanPipeline would round silently).
 */
export function latentSizeForVideo(c: WanConfig, size: OutputSize): [number, number, number] {
  const { frames, heightPx, widthPx } = size;
  if (frames === undefined) throw new ModelInputError('a Wan model makes video: give the number of frames (4k + 1, e.g. 81)');
  if (!Number.isInteger(frames) || frames < 1 || (frames - 1) % WAN_VAE_TEMPORAL !== 0) {
    const near = Number.isFinite(frames) && frames > 0 ? `; nearest valid: ${orList(nearestOffsetMultiples(frames, WAN_VAE_TEMPORAL, 1))}` : '';
    throw new ModelInputError(`Wan frames must be 4k + 1 (the VAE keeps the first frame and compresses the rest 4×), got ${frames}${near}`);
  }
  const latentFrames = (frames - 1) / WAN_VAE_TEMPORAL + 1;
  if (latentFrames % c.patchSize[0] !== 0) {
    const step = WAN_VAE_TEMPORAL * c.patchSize[0];
    throw new ModelInputError(`Wan frames ${frames} give ${latentFrames} latent frames, not a multiple of the temporal patch ${c.patchSize[0]}; nearest valid: ${orList(nearestOffsetMultiples(frames, step, 1 + WAN_VAE_TEMPORAL * (c.patchSize[0] - 1)))}`);
  }
  const sides: [string, number, number][] = [['height', heightPx, c.patchSize[1]], ['width', widthPx, c.patchSize[2]]];
  for (const [what, px, patch] of sides) {
    const step = WAN_VAE_SPATIAL * patch;
    if (!Number.isInteger(px) || px < step || px % step !== 0) {
      const near = Number.isFinite(px) && px > 0 ? `; nearest valid: ${orList(nearestMultiples(px, step))}` : '';
      throw new ModelInputError(`Wan ${what} must be a positive multiple of ${step} pixels (VAE ÷${WAN_VAE_SPATIAL}, then patch ${patch}), got ${px}${near}`);
    }
    const tokens = px / step;
    if (tokens > c.ropeMaxSeqLen) throw new ModelInputError(`Wan ${what} ${px} px gives ${tokens} token ${what === 'height' ? 'rows' : 'columns'}, more than the model's RoPE table (rope_max_seq_len ${c.ropeMaxSeqLen}): at most ${c.ropeMaxSeqLen * step} px`);
  }
  if (latentFrames / c.patchSize[0] > c.ropeMaxSeqLen) {
    throw new ModelInputError(`Wan frames ${frames} give ${latentFrames / c.patchSize[0]} token frames, more than the model's RoPE table (rope_max_seq_len ${c.ropeMaxSeqLen}): at most ${(c.ropeMaxSeqLen * c.patchSize[0] - 1) * WAN_VAE_TEMPORAL + 1} frames`);
  }
  if (!Number.isInteger(size.textTokens) || size.textTokens < 1) throw new ModelInputError(`Wan text tokens must be a positive integer, got ${size.textTokens}`);
  return [latentFrames, heightPx / WAN_VAE_SPATIAL, widthPx / WAN_VAE_SPATIAL];
}
