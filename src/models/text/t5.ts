// The T5 v1.1 / mT5 / umT5 encoder (transformers' T5EncoderModel, UMT5EncoderModel) as graph pieces and
// host-side helpers: one encoder block over weights named relative to the block, the final RMS norm, the
// bidirectional relative-position buckets and the padding bias. T5 reads its relative-attention table from
// block 0 and every block reuses that bias; umT5 gives every block a table of its own. The tokens' embedding
// rows are looked up on the host (umT5's table is 256k × 4096).
import type { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import type { ParamSource } from '../layers.js';
import { activation } from './activation.js';
import { FLOAT32_MIN } from './clip.js';
import type { T5EncoderConfig } from './config.js';

/** Weight names of block i are `${T5_BLOCK_PREFIX}${i}.` + these. */
export const T5_BLOCK_PREFIX = 'encoder.block.';
/** The relative-attention table [buckets, heads] within a block that has one. */
export const T5_RELATIVE_BIAS = 'layer.0.SelfAttention.relative_attention_bias.weight';
export const T5_FINAL_NORM = 'encoder.final_layer_norm.weight';
/** The token embedding; `encoder.embed_tokens.weight` is its tied alias (a file may hold either or both). */
export const T5_SHARED = 'shared.weight';
export const T5_EMBED_ALIAS = 'encoder.embed_tokens.weight';

/** Width of the attention's inner projections: heads × d_kv (t5-11b: 128 × 128 on d_model 1024). */
export function innerDim(c: T5EncoderConfig): number {
  return c.numHeads * c.dKv;
}

/** One block's weights by name relative to the block, with PyTorch shapes; the relative table included. */
export function t5BlockShapes(c: T5EncoderConfig): Map<string, number[]> {
  const D = c.dModel;
  const I = innerDim(c);
  const m = new Map<string, number[]>();
  for (const p of ['q', 'k', 'v']) m.set(`layer.0.SelfAttention.${p}.weight`, [I, D]);
  m.set('layer.0.SelfAttention.o.weight', [D, I]);
  m.set('layer.0.layer_norm.weight', [D]);
  m.set(T5_RELATIVE_BIAS, [c.relativeBuckets, c.numHeads]);
  if (c.gated) {
    m.set('layer.1.DenseReluDense.wi_0.weight', [c.dFf, D]);
    m.set('layer.1.DenseReluDense.wi_1.weight', [c.dFf, D]);
  } else {
    m.set('layer.1.DenseReluDense.wi.weight', [c.dFf, D]);
  }
  m.set('layer.1.DenseReluDense.wo.weight', [D, c.dFf]);
  m.set('layer.1.layer_norm.weight', [D]);
  return m;
}

/** The block whose table block i's attention bias comes from: 0 for T5 and mT5, i for umT5. */
export function relativeBiasBlock(c: T5EncoderConfig, i: number): number {
  return c.kind === 'umt5' ? i : 0;
}

/** Every encoder weight (the embedding as `shared.weight`) with its shape. */
export function t5ParameterShapes(c: T5EncoderConfig): Map<string, number[]> {
  const m = new Map<string, number[]>([[T5_SHARED, [c.vocabSize, c.dModel]]]);
  for (let i = 0; i < c.numLayers; i++) {
    for (const [k, s] of t5BlockShapes(c)) {
      if (k === T5_RELATIVE_BIAS && relativeBiasBlock(c, i) !== i) continue;
      m.set(`${T5_BLOCK_PREFIX}${i}.${k}`, s);
    }
  }
  m.set(T5_FINAL_NORM, [c.dModel]);
  return m;
}

/** T5LayerNorm: x · rsqrt(mean(x²) + eps) · w — no mean subtracted, no bias. */
function t5Norm(g: GraphBuilder, x: Value, w: Value, eps: number): Value {
  const meanSquare = g.reduceMean(g.mul(x, x), [-1], true);
  return g.mul(w, g.div(x, g.sqrt(g.add(meanSquare, g.scalar(eps)))));
}

/** x [B, L, in] · Wᵀ for a bias-free PyTorch Linear weight [out, in]. */
function project(g: GraphBuilder, W: ParamSource, x: Value, key: string, inF: number, outF: number, L: number): Value {
  const y = g.gemm(g.reshape(x, [-1, inF]), W(g, key, [outF, inF]), { transB: 1 });
  return g.reshape(y, [-1, L, outF]);
}

/**
 * One T5Block of the encoder: h += o(attn(norm(h))); h += FF(norm(h)). The attention has no 1/√d_kv scaling
 * (folded into the trained weights) and adds the relative position bias — gathered from the block's table
 * [buckets, heads] at `buckets` [L, L] — plus the padding bias `maskBias` [B, 1, 1, L], summed first as
 * transformers does (position_bias + mask, then onto the scores).
 */
export function t5Block(g: GraphBuilder, c: T5EncoderConfig, W: ParamSource, h: Value, buckets: Value, maskBias: Value, L: number): Value {
  const D = c.dModel;
  const H = c.numHeads;
  const I = innerDim(c);
  const x = t5Norm(g, h, W(g, 'layer.0.layer_norm.weight', [D]), c.layerNormEps);
  const heads = (v: Value): Value => g.transpose(g.reshape(v, [-1, L, H, c.dKv]), [0, 2, 1, 3]); // [B, H, L, dkv]
  const q = heads(project(g, W, x, 'layer.0.SelfAttention.q.weight', D, I, L));
  const kT = g.transpose(g.reshape(project(g, W, x, 'layer.0.SelfAttention.k.weight', D, I, L), [-1, L, H, c.dKv]), [0, 2, 3, 1]);
  const v = heads(project(g, W, x, 'layer.0.SelfAttention.v.weight', D, I, L));
  const table = W(g, T5_RELATIVE_BIAS, [c.relativeBuckets, H]);
  const positionBias = g.reshape(g.transpose(g.gather(table, buckets, 0), [2, 0, 1]), [1, H, L, L]); // [1, H, L, L]
  const scores = g.add(g.matmul(q, kT), g.add(positionBias, maskBias));
  const o = g.reshape(g.transpose(g.matmul(g.softmax(scores, -1), v), [0, 2, 1, 3]), [-1, L, I]);
  const h1 = g.add(h, project(g, W, o, 'layer.0.SelfAttention.o.weight', I, D, L));

  const x2 = t5Norm(g, h1, W(g, 'layer.1.layer_norm.weight', [D]), c.layerNormEps);
  const ff = c.gated
    ? g.mul(activation(g, c.act, project(g, W, x2, 'layer.1.DenseReluDense.wi_0.weight', D, c.dFf, L)), project(g, W, x2, 'layer.1.DenseReluDense.wi_1.weight', D, c.dFf, L))
    : activation(g, c.act, project(g, W, x2, 'layer.1.DenseReluDense.wi.weight', D, c.dFf, L));
  return g.add(h1, project(g, W, ff, 'layer.1.DenseReluDense.wo.weight', c.dFf, D, L));
}

/** The encoder's final RMS norm. */
export function t5FinalNorm(g: GraphBuilder, c: T5EncoderConfig, W: ParamSource, h: Value): Value {
  return t5Norm(g, h, W(g, T5_FINAL_NORM, [c.dModel]), c.layerNormEps);
}

/**
 * The bidirectional relative-position bucket of key j for query i (relative position r = j − i), as
 * transformers computes it: half the buckets for r > 0; within a half, exact buckets for |r| below
 * max_exact = half / 2 and logarithmic ones up to max_distance beyond, in float32 as torch does it
 * (log(|r| / max_exact) / log(max_distance / max_exact) · (half − max_exact), truncated).
 */
export function relativePositionBucket(r: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  const maxExact = Math.floor(half / 2);
  const a = Math.abs(r);
  const base = r > 0 ? half : 0;
  if (a < maxExact) return base + a;
  const f = Math.fround;
  const logRatio = f(f(Math.log(f(a / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(logRatio * (half - maxExact)));
  return base + Math.min(large, half - 1);
}

/** bucket[i, j] for query i and key j < L, int64 [L, L] (a graph input). */
export function relativePositionBuckets(L: number, numBuckets: number, maxDistance: number): BigInt64Array {
  const byOffset = new Map<number, bigint>();
  const out = new BigInt64Array(L * L);
  for (let i = 0; i < L; i++)
    for (let j = 0; j < L; j++) {
      const r = j - i;
      let b = byOffset.get(r);
      if (b === undefined) byOffset.set(r, (b = BigInt(relativePositionBucket(r, numBuckets, maxDistance))));
      out[i * L + j] = b;
    }
  return out;
}

/** The padding bias [B, 1, 1, L]: 0 on tokens with mask 1, float32's lowest value on the others; zeros without a mask. */
export function t5MaskBias(B: number, L: number, mask?: ArrayLike<number | bigint>): Float32Array {
  const out = new Float32Array(B * L);
  if (mask) for (let i = 0; i < B * L; i++) if (Number(mask[i]) === 0) out[i] = FLOAT32_MIN;
  return out;
}
