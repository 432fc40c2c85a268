// The input size a set of Wan graphs is built for: latent video frames × rows × cols and text tokens,
// the token grid after patching, and the layout of the per-row conditioning vector.
import { ModelInputError } from '../denoiser.js';
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
