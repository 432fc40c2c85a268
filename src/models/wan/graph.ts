// The Wan2.1 transformer written with the graph DSL, in composable pieces (patch embedding, condition
// embedding, one block, head); segment graphs and the full graph are built from these. Parameter keys
// are diffusers' WanTransformer3DModel names; every norm runs in float32, as diffusers' FP32LayerNorm.
import { GraphBuilder } from '../../graph/builder.js';
import { Value } from '../../graph/ir.js';
import { linear, pieceWiseAttention, type ParamSource } from '../layers.js';
import { WanConfig, innerDim, patchVolume } from './config.js';
import { CondLayout, WanGeometry, condLayout, tokenCount, tokenGrid } from './geometry.js';

export type { ParamSource };

/** RoPE rotations of the video tokens, graph inputs [T, headDim/2] each (see rope.ts). */
export interface RopeInputs {
  readonly cos: Value;
  readonly sin: Value;
}

/** What a block reads from the conditioning: timestep_proj [B, 6·D] and the projected text [B, L, D]. */
export interface BlockCond {
  readonly timestepProj: Value;
  readonly text: Value;
}

/** torch.nn.RMSNorm over the last axis: x / √(mean(x²) + eps) · w (Wan's q/k norm spans all heads). */
function rmsNorm(g: GraphBuilder, x: Value, w: Value, eps: number): Value {
  const meanSquare = g.reduceMean(g.mul(x, x), [-1], true);
  return g.mul(g.div(x, g.sqrt(g.add(meanSquare, g.scalar(eps)))), w);
}

function modulate(g: GraphBuilder, x: Value, shift: Value, scale: Value): Value {
  return g.add(g.mul(x, g.add(scale, g.scalar(1))), shift);
}

/**
 * Frequencies of the timestep sinusoid (diffusers Timesteps, flip_sin_to_cos, downscale_freq_shift 0),
 * rounded step by step in float32 as PyTorch computes them: exp(−ln(10⁴)·i / half).
 */
export function timestepFrequencies(freqDim: number): Float32Array {
  const half = freqDim / 2;
  const minusLog = Math.fround(-Math.log(10000));
  const f = new Float32Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.exp(Math.fround(Math.fround(minusLog * i) / half));
  return f;
}

/** x [B, C, F, H, W] → tokens [B, T, D]: the Conv3d with kernel = stride as a Gemm on patch vectors. */
export function patchEmbed(g: GraphBuilder, P: ParamSource, c: WanConfig, geo: WanGeometry, x: Value): Value {
  const D = innerDim(c);
  const [pt, ph, pw] = c.patchSize;
  const grid = tokenGrid(c, geo);
  const T = tokenCount(c, geo);
  const k = c.inChannels * patchVolume(c);
  const x8 = g.reshape(x, [-1, c.inChannels, grid.frames, pt, grid.rows, ph, grid.cols, pw]);
  // (frame, row, col) tokens, each patch flattened in the Conv3d kernel's (c, t, h, w) order
  const patches = g.reshape(g.transpose(x8, [0, 2, 4, 6, 1, 3, 5, 7]), [-1, k]);
  const w = g.reshape(P(g, 'patch_embedding.weight', [D, c.inChannels, pt, ph, pw]), [D, k]);
  const y = g.gemm(patches, w, { transB: 1 }, P(g, 'patch_embedding.bias', [D]));
  return g.reshape(y, [-1, T, D]);
}

/** t [B] (0…1000, not divided) → temb [B, D] and timestep_proj [B, 6·D] (WanTimeTextImageEmbedding). */
export function timeEmbedding(g: GraphBuilder, P: ParamSource, c: WanConfig, t: Value): { temb: Value; timestepProj: Value } {
  const D = innerDim(c);
  const freqs = g.constant(timestepFrequencies(c.freqDim), [1, c.freqDim / 2]);
  const args = g.mul(g.reshape(t, [-1, 1]), freqs);
  const sinusoid = g.concat([g.cos(args), g.sin(args)], 1); // flip_sin_to_cos: cos first
  const hidden = g.silu(linear(g, P, sinusoid, 'condition_embedder.time_embedder.linear_1', c.freqDim, D));
  const temb = linear(g, P, hidden, 'condition_embedder.time_embedder.linear_2', D, D);
  const timestepProj = linear(g, P, g.silu(temb), 'condition_embedder.time_proj', D, 6 * D);
  return { temb, timestepProj };
}

/** umT5 hidden states [B, L, textDim] → the cross-attention context [B, L, D] (PixArtAlphaTextProjection, GELU tanh). */
export function textEmbedding(g: GraphBuilder, P: ParamSource, c: WanConfig, text: Value): Value {
  const D = innerDim(c);
  const hidden = g.gelu(linear(g, P, text, 'condition_embedder.text_embedder.linear_1', c.textDim, D));
  return linear(g, P, hidden, 'condition_embedder.text_embedder.linear_2', D, D);
}

/** temb, timestep_proj and the text context packed into one conditioning row [B, condSize] (geometry.ts CondLayout). */
export function packCond(g: GraphBuilder, c: WanConfig, geo: WanGeometry, temb: Value, cond: BlockCond): Value {
  return g.concat([temb, cond.timestepProj, g.reshape(cond.text, [-1, geo.textTokens * innerDim(c)])], 1);
}

function condPart(g: GraphBuilder, cond: Value, [at, width]: readonly [number, number]): Value {
  return g.slice(cond, [1], [at], [at + width]);
}

/** The inverse of packCond: cond [B, condSize] → temb [B, D], timestep_proj [B, 6·D], text [B, L, D]. */
export function unpackCond(g: GraphBuilder, c: WanConfig, geo: WanGeometry, cond: Value): { temb: Value } & BlockCond {
  const layout: CondLayout = condLayout(c, geo);
  return {
    temb: condPart(g, cond, layout.temb),
    timestepProj: condPart(g, cond, layout.timestepProj),
    text: g.reshape(condPart(g, cond, layout.text), [-1, geo.textTokens, innerDim(c)]),
  };
}

/** Block i's six modulation vectors [B, 1, D]: its scale_shift_table + timestep_proj. */
function blockModulation(g: GraphBuilder, P: ParamSource, c: WanConfig, i: number, timestepProj: Value): Value[] {
  const D = innerDim(c);
  const table = P(g, `blocks.${i}.scale_shift_table`, [1, 6, D]);
  const m = g.add(g.reshape(timestepProj, [-1, 6, D]), table);
  return g.split(m, 1, [1, 1, 1, 1, 1, 1]); // shift, scale, gate (self-attention); shift, scale, gate (FFN)
}

/** Block i's normalised, modulated self-attention input [B, T, D] (TeaCache's signal). */
export function blockModulatedInput(g: GraphBuilder, P: ParamSource, c: WanConfig, i: number, x: Value, timestepProj: Value): Value {
  const [shift, scale] = blockModulation(g, P, c, i, timestepProj);
  return modulate(g, g.layerNorm(x, c.eps), shift, scale);
}

/** x [B, n, D] → [B, n, H, hd]. */
function splitHeads(g: GraphBuilder, c: WanConfig, x: Value, n: number): Value {
  return g.reshape(x, [-1, n, c.numHeads, c.headDim]);
}

/** Rotates the channel pairs (x[2j], x[2j+1]) of q or k [B, T, D] by the token's angles → [B, T, H, hd]. */
function applyRope(g: GraphBuilder, c: WanConfig, x: Value, T: number, rope: RopeInputs): Value {
  const pairs = c.headDim / 2;
  const [x1, x2] = g.split(g.reshape(x, [-1, T, c.numHeads, pairs, 2]), 4, [1, 1]);
  const cos = g.reshape(rope.cos, [T, 1, pairs, 1]);
  const sin = g.reshape(rope.sin, [T, 1, pairs, 1]);
  const even = g.sub(g.mul(x1, cos), g.mul(x2, sin));
  const odd = g.add(g.mul(x1, sin), g.mul(x2, cos));
  return g.reshape(g.concat([even, odd], 4), [-1, T, c.numHeads, c.headDim]);
}

/** softmax(q·kᵀ/√hd)·v for q [B, Tq, H, hd], k and v [B, Tk, H, hd] → [B, Tq, D] (in pieces at large sizes: pieceWiseAttention). */
function attention(g: GraphBuilder, c: WanConfig, q: Value, k: Value, v: Value, Tq: number, Tk: number): Value {
  const heads = (x: Value) => g.transpose(x, [0, 2, 1, 3]); // [B, H, n, hd]
  const out = pieceWiseAttention(g, heads(q), g.transpose(k, [0, 2, 3, 1]), heads(v), { heads: c.numHeads, tq: Tq, tk: Tk, scale: c.headDim ** -0.5 }); // [B, H, Tq, hd]
  return g.reshape(g.transpose(out, [0, 2, 1, 3]), [-1, Tq, innerDim(c)]);
}

/** Self-attention with q/k RMSNorm and RoPE (attn1): x [B, T, D] → [B, T, D]. */
function selfAttention(g: GraphBuilder, P: ParamSource, c: WanConfig, pre: string, x: Value, T: number, rope: RopeInputs): Value {
  const D = innerDim(c);
  const q = rmsNorm(g, linear(g, P, x, `${pre}.to_q`, D, D), P(g, `${pre}.norm_q.weight`, [D]), c.eps);
  const k = rmsNorm(g, linear(g, P, x, `${pre}.to_k`, D, D), P(g, `${pre}.norm_k.weight`, [D]), c.eps);
  const v = linear(g, P, x, `${pre}.to_v`, D, D);
  const o = attention(g, c, applyRope(g, c, q, T, rope), applyRope(g, c, k, T, rope), splitHeads(g, c, v, T), T, T);
  return linear(g, P, o, `${pre}.to_out.0`, D, D);
}

/** Cross-attention to the text context (attn2; q/k RMSNorm, no RoPE): x [B, T, D], text [B, L, D] → [B, T, D]. */
function crossAttention(g: GraphBuilder, P: ParamSource, c: WanConfig, pre: string, x: Value, text: Value, T: number, L: number): Value {
  const D = innerDim(c);
  const q = rmsNorm(g, linear(g, P, x, `${pre}.to_q`, D, D), P(g, `${pre}.norm_q.weight`, [D]), c.eps);
  const k = rmsNorm(g, linear(g, P, text, `${pre}.to_k`, D, D), P(g, `${pre}.norm_k.weight`, [D]), c.eps);
  const v = linear(g, P, text, `${pre}.to_v`, D, D);
  const o = attention(g, c, splitHeads(g, c, q, T), splitHeads(g, c, k, L), splitHeads(g, c, v, L), T, L);
  return linear(g, P, o, `${pre}.to_out.0`, D, D);
}

/** One WanTransformerBlock: x [B, T, D] → [B, T, D]. */
export function block(g: GraphBuilder, P: ParamSource, c: WanConfig, geo: WanGeometry, i: number, x: Value, cond: BlockCond, rope: RopeInputs): Value {
  const D = innerDim(c);
  const T = tokenCount(c, geo);
  const pre = `blocks.${i}`;
  const [shiftMsa, scaleMsa, gateMsa, shiftFfn, scaleFfn, gateFfn] = blockModulation(g, P, c, i, cond.timestepProj);

  const attnIn = modulate(g, g.layerNorm(x, c.eps), shiftMsa, scaleMsa);
  const x1 = g.add(x, g.mul(selfAttention(g, P, c, `${pre}.attn1`, attnIn, T, rope), gateMsa));

  // norm2 is the affine cross-attention pre-norm (the original code calls it norm3); no gate here
  const crossIn = c.crossAttnNorm ? g.layerNorm(x1, c.eps, P(g, `${pre}.norm2.weight`, [D]), P(g, `${pre}.norm2.bias`, [D])) : x1;
  const x2 = g.add(x1, crossAttention(g, P, c, `${pre}.attn2`, crossIn, cond.text, T, geo.textTokens));

  const ffnIn = modulate(g, g.layerNorm(x2, c.eps), shiftFfn, scaleFfn);
  const hidden = g.gelu(linear(g, P, ffnIn, `${pre}.ffn.net.0.proj`, D, c.ffnDim));
  const ffn = linear(g, P, hidden, `${pre}.ffn.net.2`, c.ffnDim, D);
  return g.add(x2, g.mul(ffn, gateFfn));
}

/** Output norm, modulation by the model's scale_shift_table + temb, proj_out, unpatchify: [B, T, D] → [B, oc, F, H, W]. */
export function head(g: GraphBuilder, P: ParamSource, c: WanConfig, geo: WanGeometry, x: Value, temb: Value): Value {
  const D = innerDim(c);
  const [pt, ph, pw] = c.patchSize;
  const oc = c.outChannels;
  const grid = tokenGrid(c, geo);
  const table = P(g, 'scale_shift_table', [1, 2, D]);
  const [shift, scale] = g.split(g.add(table, g.reshape(temb, [-1, 1, D])), 1, [1, 1]);
  const out = linear(g, P, modulate(g, g.layerNorm(x, c.eps), shift, scale), 'proj_out', D, patchVolume(c) * oc);
  // each token's values are ordered (pt, ph, pw, oc)
  const x8 = g.reshape(out, [-1, grid.frames, grid.rows, grid.cols, pt, ph, pw, oc]);
  const video = g.transpose(x8, [0, 7, 1, 4, 2, 5, 3, 6]); // [B, oc, f, pt, h, ph, w, pw]
  return g.reshape(video, [-1, oc, geo.frames, geo.height, geo.width]);
}

/** Every parameter of a T2V WanTransformer3DModel by diffusers key, with its PyTorch shape. */
export function parameterShapes(c: WanConfig): Map<string, number[]> {
  const D = innerDim(c);
  const m = new Map<string, number[]>();
  const lin = (key: string, inF: number, outF: number) => {
    m.set(`${key}.weight`, [outF, inF]);
    m.set(`${key}.bias`, [outF]);
  };
  m.set('patch_embedding.weight', [D, c.inChannels, ...c.patchSize]);
  m.set('patch_embedding.bias', [D]);
  lin('condition_embedder.time_embedder.linear_1', c.freqDim, D);
  lin('condition_embedder.time_embedder.linear_2', D, D);
  lin('condition_embedder.time_proj', D, 6 * D);
  lin('condition_embedder.text_embedder.linear_1', c.textDim, D);
  lin('condition_embedder.text_embedder.linear_2', D, D);
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blocks.${i}`;
    for (const attn of ['attn1', 'attn2']) {
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) lin(`${b}.${attn}.${p}`, D, D);
      m.set(`${b}.${attn}.norm_q.weight`, [D]);
      m.set(`${b}.${attn}.norm_k.weight`, [D]);
    }
    if (c.crossAttnNorm) {
      m.set(`${b}.norm2.weight`, [D]);
      m.set(`${b}.norm2.bias`, [D]);
    }
    lin(`${b}.ffn.net.0.proj`, D, c.ffnDim);
    lin(`${b}.ffn.net.2`, c.ffnDim, D);
    m.set(`${b}.scale_shift_table`, [1, 6, D]);
  }
  lin('proj_out', D, patchVolume(c) * c.outChannels);
  m.set('scale_shift_table', [1, 2, D]);
  return m;
}

/** FLOPs (2 per multiply-add) of one block on one row at a geometry: projections, both attentions, FFN. */
export function blockFlops(c: WanConfig, geo: WanGeometry): number {
  const D = innerDim(c);
  const T = tokenCount(c, geo);
  const L = geo.textTokens;
  const projections = T * 4 * D * D + (T * 2 * D * D + L * 2 * D * D) + T * 2 * D * c.ffnDim;
  const attentionProducts = 2 * T * T * D + 2 * T * L * D;
  return 2 * (projections + attentionProducts);
}
