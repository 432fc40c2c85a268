// Wan's 3-D rotary position embedding, computed on the host in float64 (as diffusers' WanRotaryPosEmbed
// and the original rope_params do) and fed to the block graphs as inputs, one rotation per channel pair.
import { WAN_ROPE_THETA, WanConfig, ropeAxisDims } from './config.js';
import type { TokenGrid } from './geometry.js';

/** cos and sin of every token's rotation angle per channel pair: [T, headDim/2] each, tokens in (frame, row, col) order. */
export interface RopeTables {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
}

/**
 * Pair j of an axis with `dim` channels turns by position · θ^(−2j/dim). A head's pairs are the frame
 * axis's, then the row axis's, then the col axis's; the channels of a pair are adjacent (x[2j], x[2j+1]),
 * so the tables hold one value per pair where diffusers' hold it twice (repeat-interleaved). Positions
 * must stay below rope_max_seq_len (checkGeometry), where diffusers' precomputed table ends.
 */
export function ropeTables(c: WanConfig, grid: TokenGrid): RopeTables {
  const axisDims = ropeAxisDims(c);
  // Frequencies per pair, axis after axis (float64, like the reference tables).
  const pairAxis: number[] = [];
  const pairFreq: number[] = [];
  axisDims.forEach((dim, a) => {
    for (let j = 0; j < dim / 2; j++) {
      pairAxis.push(a);
      pairFreq.push(1 / WAN_ROPE_THETA ** ((2 * j) / dim));
    }
  });
  const pairs = c.headDim / 2;
  const tokens = grid.frames * grid.rows * grid.cols;
  const cos = new Float32Array(tokens * pairs);
  const sin = new Float32Array(tokens * pairs);
  let at = 0;
  for (let f = 0; f < grid.frames; f++)
    for (let h = 0; h < grid.rows; h++)
      for (let w = 0; w < grid.cols; w++) {
        const pos = [f, h, w];
        for (let j = 0; j < pairs; j++) {
          const angle = pos[pairAxis[j]] * pairFreq[j];
          cos[at] = Math.cos(angle);
          sin[at] = Math.sin(angle);
          at++;
        }
      }
  return { cos, sin };
}
