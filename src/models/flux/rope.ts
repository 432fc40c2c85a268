// FLUX's rotary position tables, computed on the host from position ids: per id axis, cos/sin of
// pos · θ^(−2j/dim) in float64 (as diffusers' FluxPosEmbed), each value repeated for its channel pair.
import { ModelInputError } from '../denoiser.js';

/** cos and sin tables [T, headDim] (row-major), one row per token, for graph inputs rope_cos / rope_sin. */
export interface RopeTables {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  readonly tokens: number;
  readonly headDim: number;
}

/**
 * Tables for `ids` [T, axes] (row-major; axes = axesDims.length). The ids are rounded to float32 first,
 * as diffusers casts them (`ids.float()`), then everything runs in float64 and is rounded once at the end:
 * the image ids reach the hundreds, where float32 angles would lose the low frequencies' precision.
 */
export function ropeTables(ids: ArrayLike<number>, tokens: number, axesDims: readonly number[], theta: number): RopeTables {
  const axes = axesDims.length;
  if (ids.length !== tokens * axes) throw new ModelInputError(`position ids: ${ids.length} values, expected [${tokens}, ${axes}] (${tokens * axes})`);
  const headDim = axesDims.reduce((a, b) => a + b, 0);
  const cos = new Float32Array(tokens * headDim);
  const sin = new Float32Array(tokens * headDim);
  // Inverse frequencies per axis: 1 / θ^(2j/dim), j < dim/2 (float64, as torch with freqs_dtype float64).
  const inv = axesDims.map((dim) => Float64Array.from({ length: dim / 2 }, (_, j) => 1 / theta ** ((2 * j) / dim)));
  for (let n = 0; n < tokens; n++) {
    let at = n * headDim;
    for (let a = 0; a < axes; a++) {
      const v = ids[n * axes + a];
      if (!Number.isFinite(v)) throw new ModelInputError(`position id [${n}, ${a}] is ${v}, not a finite number`);
      const pos = Math.fround(v);
      for (const f of inv[a]) {
        const angle = pos * f;
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        // interleaved pairs: channels 2j and 2j+1 share frequency j
        cos[at] = c;
        cos[at + 1] = c;
        sin[at] = s;
        sin[at + 1] = s;
        at += 2;
      }
    }
  }
  return { cos, sin, tokens, headDim };
}

/** FluxPipeline's text ids: [L_txt, 3] zeros (every text token at position 0 on every axis). */
export function textIds(textTokens: number): Float32Array {
  return new Float32Array(textTokens * 3);
}

/** FluxPipeline's image ids for a packed grid of rows × cols tokens: (0, row, col) per token, row-major → [rows·cols, 3]. */
export function imageIds(rows: number, cols: number): Float32Array {
  const ids = new Float32Array(rows * cols * 3);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const o = (r * cols + c) * 3;
      ids[o + 1] = r;
      ids[o + 2] = c;
    }
  return ids;
}

/** ids = cat(txt_ids, img_ids) along the token axis, text first (as the model concatenates its streams). */
export function jointIds(txt: Float32Array, img: Float32Array): Float32Array {
  const out = new Float32Array(txt.length + img.length);
  out.set(txt, 0);
  out.set(img, txt.length);
  return out;
}
