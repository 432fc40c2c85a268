// Layers every family's graphs share, written with the graph DSL: a parameter source and PyTorch's Linear.
import { GraphBuilder } from '../graph/builder.js';
import { Value } from '../graph/ir.js';

/** Supplies a parameter by its checkpoint key with its PyTorch shape. */
export type ParamSource = (g: GraphBuilder, key: string, shape: readonly number[]) => Value;

/** y = x·Wᵀ + b for x [..., in] with a PyTorch Linear weight [out, in]: one Gemm on flattened rows. */
export function linear(g: GraphBuilder, P: ParamSource, x: Value, key: string, inF: number, outF: number): Value {
  const w = P(g, `${key}.weight`, [outF, inF]);
  const b = P(g, `${key}.bias`, [outF]);
  if (x.shape.length === 2) return g.gemm(x, w, { transB: 1 }, b);
  const lead = x.shape.slice(1, -1) as number[];
  const y = g.gemm(g.reshape(x, [-1, inF]), w, { transB: 1 }, b);
  return g.reshape(y, [-1, ...lead, outF]);
}

/**
 * Bytes of attention scores [h, tq, Tk] one piece of an attention may hold per batch row. onnxruntime keeps
 * each session's memory pool at its peak, and a whole score tensor [H, T, T] is large at real sizes (FLUX
 * at 1024² px: 24 × 4608² floats = 2 GB per row, and softmax writes another; Wan at 81 × 480 × 832: 12 ×
 * 32760² = 51 GB), so attention runs in pieces of heads — and of queries when one head is too large — whose
 * scores stay under this. Heads and queries are independent, so the pieces give the same numbers.
 */
export const ATTENTION_PIECE_SCORE_BYTES = 256 * 2 ** 20;

/**
 * softmax(q·kᵀ·scale)·v for q [B, H, Tq, hd], kT [B, H, hd, Tk] (k transposed) and v [B, H, Tk, hd] →
 * [B, H, Tq, hd], in pieces whose scores stay within `pieceBytes` per row (ATTENTION_PIECE_SCORE_BYTES):
 * groups of heads, each head split into query ranges when one head alone is over it. Small attentions are one
 * piece: the graph is then exactly the unsplit product.
 */
export function pieceWiseAttention(g: GraphBuilder, q: Value, kT: Value, v: Value, dims: { heads: number; tq: number; tk: number; scale: number }, pieceBytes = ATTENTION_PIECE_SCORE_BYTES): Value {
  const { heads: H, tq, tk, scale } = dims;
  const one = (qq: Value, kk: Value, vv: Value): Value => g.matmul(g.softmax(g.matmul(g.mul(qq, g.scalar(scale)), kk), -1), vv);
  const headScoreBytes = 4 * tq * tk;
  if (H * headScoreBytes <= pieceBytes) return one(q, kT, v);
  const group = Math.max(1, Math.floor(pieceBytes / headScoreBytes));
  const headSizes = sizesOf(H, group);
  const [qs, ks, vs] = [q, kT, v].map((x) => (headSizes.length > 1 ? g.split(x, 1, headSizes) : [x]));
  const queryRows = Math.max(1, Math.floor(pieceBytes / (4 * tk)));
  const pieces = qs.map((qh, i) => {
    if (headSizes[i] > 1 || queryRows >= tq) return one(qh, ks[i], vs[i]);
    const querySizes = sizesOf(tq, queryRows);
    return g.concat(g.split(qh, 2, querySizes).map((qc) => one(qc, ks[i], vs[i])), 2);
  });
  return pieces.length > 1 ? g.concat(pieces, 1) : pieces[0];
}

/** `total` cut into parts of `size` (the last one shorter). */
function sizesOf(total: number, size: number): number[] {
  const out = new Array<number>(Math.floor(total / size)).fill(size);
  if (total % size) out.push(total % size);
  return out;
}
