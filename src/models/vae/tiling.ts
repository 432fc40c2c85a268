// Tiled decoding (the idea of diffusers' tiled_decode): the latent is cut into overlapping tiles of one
// size, each tile is decoded alone, and neighbouring tiles are cross-faded linearly across the middle of
// their overlap, so memory is bounded by the tile size, not the image. Free of ORT: the tile decoder is passed in.
import { VAEInputError } from './errors.js';

/** A tile of latentSize×latentSize latent pixels; neighbouring tiles share at least `overlap` latent pixels. */
export interface TileOptions {
  readonly latentSize: number;
  readonly overlap: number;
}

/** Smallest tile accepted: below it most of a tile's pixels are within the decoder's border effects. */
export const MIN_TILE_LATENT = 8;

/** Checks tile options; VAEInputError saying which value is wrong and what is allowed. */
export function checkTileOptions(t: TileOptions): void {
  const { latentSize, overlap } = t;
  if (!Number.isInteger(latentSize) || latentSize < MIN_TILE_LATENT) {
    throw new VAEInputError(`tile.latentSize must be an integer ≥ ${MIN_TILE_LATENT} latent pixels, got ${latentSize}`);
  }
  if (!Number.isInteger(overlap) || overlap < 1) {
    throw new VAEInputError(`tile.overlap must be an integer ≥ 1 latent pixel (the seams are blended over it), got ${overlap}`);
  }
  if (2 * overlap > latentSize) {
    throw new VAEInputError(
      `tile.overlap ${overlap} is more than half of tile.latentSize ${latentSize}: each tile would be mostly overlap. Use overlap ≤ ${Math.floor(latentSize / 2)}.`,
    );
  }
}

/**
 * Start offsets of tiles of `tile` pixels covering [0, length) with neighbours sharing ≥ `overlap`
 * pixels: the fewest tiles that do, spread evenly so every tile has the same size (one compiled graph).
 */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const n = Math.ceil((length - overlap) / (tile - overlap));
  // Even spacing (length − tile)/(n − 1) ≤ tile − overlap, and rounding keeps each step ≤ tile − overlap.
  return Array.from({ length: n }, (_, k) => Math.round((k * (length - tile)) / (n - 1)));
}

/**
 * Share of each overlap, at the overlapping tile's edge, that gets no weight: there the tile's decode is
 * distorted by the zero padding its convolutions see at the cut. On the tiny random-weight fixture,
 * blending over the whole overlap (as diffusers does) left a 12× gradient-energy bump near tile edges
 * on a smooth latent; leaving out the outer quarter on each side brought it to 2.6× (a hard cut: 52×).
 */
export const EDGE_MARGIN_FRACTION = 0.25;

/**
 * Blend weights along one axis, per tile, over its `tileLength` output pixels: 0 over the outer quarter
 * of each overlap with a neighbour, a linear ramp over its middle half, 1 elsewhere; then divided by the
 * total at each image pixel, so the weights of the tiles covering a pixel sum to 1 (this also handles
 * pixels three tiles cover). `starts`, `tileLength` and `length` are in output pixels.
 */
export function blendWeights(starts: readonly number[], tileLength: number, length: number): Float32Array[] {
  const ramp = (distanceFromEdge: number, overlap: number): number => {
    if (overlap <= 0) return 1;
    const margin = EDGE_MARGIN_FRACTION * overlap;
    return Math.min(1, Math.max(0, (distanceFromEdge + 0.5 - margin) / (overlap - 2 * margin)));
  };
  const raw = starts.map((s, k) => {
    const rise = k > 0 ? starts[k - 1] + tileLength - s : 0; // overlap with the previous tile
    const fall = k < starts.length - 1 ? s + tileLength - starts[k + 1] : 0; // overlap with the next
    return Float64Array.from({ length: tileLength }, (_, p) => Math.min(ramp(p, rise), ramp(tileLength - 1 - p, fall)));
  });
  const total = new Float64Array(length);
  raw.forEach((w, k) => w.forEach((v, p) => (total[starts[k] + p] += v)));
  const uncovered = total.findIndex((t) => !(t > 0));
  if (uncovered >= 0) throw new Error(`tiled decode: no tile gives weight to pixel ${uncovered} (tiles at ${starts.join(', ')}, ${tileLength} px each)`);
  return raw.map((w, k) => Float32Array.from(w, (v, p) => v / total[starts[k] + p]));
}

/** Where each tile lies, in latent pixels; all tiles are tileH×tileW. */
export interface TilePlan {
  readonly tileH: number;
  readonly tileW: number;
  readonly rowStarts: readonly number[];
  readonly colStarts: readonly number[];
}

export function planTiles(latentH: number, latentW: number, t: TileOptions): TilePlan {
  checkTileOptions(t);
  const tileH = Math.min(t.latentSize, latentH);
  const tileW = Math.min(t.latentSize, latentW);
  return { tileH, tileW, rowStarts: tileStarts(latentH, tileH, t.overlap), colStarts: tileStarts(latentW, tileW, t.overlap) };
}

/** Decodes one latent tile [B, C, tileH, tileW] to [B, outChannels, f·tileH, f·tileW] (flat, row-major). */
export type TileDecoder = (tile: Float32Array, shape: readonly [number, number, number, number]) => Promise<Float32Array>;

/**
 * Decodes z [B, C, h, w] tile by tile and blends the tiles into [B, outChannels, f·h, f·w]. Peak memory:
 * the output, one latent tile and one decoded tile, plus whatever decodeTile needs for one tile.
 */
export async function decodeTiled(
  z: Float32Array,
  shape: readonly [number, number, number, number],
  plan: TilePlan,
  factor: number,
  outChannels: number,
  decodeTile: TileDecoder,
): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  const [b, c, h, w] = shape;
  const { tileH, tileW } = plan;
  const [outH, outW, tileOutH, tileOutW] = [h * factor, w * factor, tileH * factor, tileW * factor];
  const rowWeights = blendWeights(plan.rowStarts.map((s) => s * factor), tileOutH, outH);
  const colWeights = blendWeights(plan.colStarts.map((s) => s * factor), tileOutW, outW);
  const out = new Float32Array(b * outChannels * outH * outW);
  const tile = new Float32Array(b * c * tileH * tileW);
  for (const [r, y0] of plan.rowStarts.entries()) {
    for (const [k, x0] of plan.colStarts.entries()) {
      for (let plane = 0; plane < b * c; plane++)
        for (let i = 0; i < tileH; i++) {
          const from = (plane * h + y0 + i) * w + x0;
          tile.set(z.subarray(from, from + tileW), (plane * tileH + i) * tileW);
        }
      const decoded = await decodeTile(tile, [b, c, tileH, tileW]);
      const expected = b * outChannels * tileOutH * tileOutW;
      if (decoded.length !== expected) throw new Error(`tiled decode: a tile decoded to ${decoded.length} values, expected ${expected}`);
      const [wy, wx] = [rowWeights[r], colWeights[k]];
      const [oy, ox] = [y0 * factor, x0 * factor];
      for (let plane = 0; plane < b * outChannels; plane++)
        for (let i = 0; i < tileOutH; i++) {
          const src = (plane * tileOutH + i) * tileOutW;
          const dst = (plane * outH + oy + i) * outW + ox;
          for (let j = 0; j < tileOutW; j++) out[dst + j] += wy[i] * wx[j] * decoded[src + j];
        }
    }
  }
  return { data: out, shape: [b, outChannels, outH, outW] };
}
