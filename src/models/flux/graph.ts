// The FLUX.1 transformer written with the graph DSL, as pieces the segment graphs compose: conditioning
// (temb), token embedding, double- and single-stream blocks over the joint [text; image] stream, head.
// Semantics follow diffusers' FluxTransformer2DModel; every tensor is float32 as in its float32 forward.
import { GraphBuilder } from '../../graph/builder.js';
import { Value } from '../../graph/ir.js';
import { linear, pieceWiseAttention, type ParamSource } from '../layers.js';
export { linear };
import { FluxConfig, LAYER_NORM_EPS, QK_NORM_EPS, TIME_PROJ_CHANNELS, innerDim, mlpHidden, outputWidth } from './config.js';
import { isDoubleBlock } from './params.js';

export type { ParamSource };

/** Token counts of one compiled graph: the joint stream is [text; image], T = text + image. */
export interface TokenCounts {
  readonly text: number;
  readonly image: number;
}

/** RoPE tables as graph values, [T, headDim] each (graph inputs rope_cos / rope_sin). */
export interface RopeValues {
  readonly cos: Value;
  readonly sin: Value;
}

/**
 * Frequencies of diffusers' Timesteps(256, flip_sin_to_cos, downscale_freq_shift 0): exp(−ln(10⁴)·i/128),
 * each step rounded to float32 as torch computes them.
 */
export function timestepFrequencies(): Float32Array {
  const half = TIME_PROJ_CHANNELS / 2;
  const f = new Float32Array(half);
  const lnMax = Math.fround(-Math.log(10000));
  for (let i = 0; i < half; i++) f[i] = Math.fround(Math.exp(Math.fround(Math.fround(lnMax * i) / half)));
  return f;
}

/** Sinusoidal projection of values already in model units (t·1000, guidance·1000): [B] → [B, 256], cos first. */
function sinusoid(g: GraphBuilder, v: Value): Value {
  const freqs = g.constant(timestepFrequencies(), [1, TIME_PROJ_CHANNELS / 2]);
  const args = g.mul(g.reshape(v, [-1, 1]), freqs);
  return g.concat([g.cos(args), g.sin(args)], 1);
}

/** Linear → SiLU → Linear (diffusers' TimestepEmbedding and PixArtAlphaTextProjection with act "silu"). */
function mlpEmbedder(g: GraphBuilder, P: ParamSource, x: Value, key: string, inF: number, D: number): Value {
  return linear(g, P, g.silu(linear(g, P, x, `${key}.linear_1`, inF, D)), `${key}.linear_2`, D, D);
}

/** The conditioning graph inputs: timestep and guidance in model units (×1000 already), pooled text. */
export interface ConditioningValues {
  /** [B] σ·1000 */
  readonly timestep: Value;
  /** [B] guidance scale ·1000; only for guidance-embedding models */
  readonly guidance?: Value;
  /** [B, pooledProjectionDim] */
  readonly pooled: Value;
}

/** temb [B, D] = timestep embedding (+ guidance embedding) + pooled-text embedding, summed in diffusers' order. */
export function conditioning(g: GraphBuilder, P: ParamSource, c: FluxConfig, v: ConditioningValues): Value {
  const D = innerDim(c);
  let temb = mlpEmbedder(g, P, sinusoid(g, v.timestep), 'time_text_embed.timestep_embedder', TIME_PROJ_CHANNELS, D);
  if (c.guidanceEmbeds) {
    if (!v.guidance) throw new Error('conditioning: this model embeds guidance but the graph has no guidance input');
    temb = g.add(temb, mlpEmbedder(g, P, sinusoid(g, v.guidance), 'time_text_embed.guidance_embedder', TIME_PROJ_CHANNELS, D));
  }
  return g.add(temb, mlpEmbedder(g, P, v.pooled, 'time_text_embed.text_embedder', c.pooledProjectionDim, D));
}

/** The joint token stream [B, T, D]: context_embedder(text) then x_embedder(packed latents). */
export function embedTokens(g: GraphBuilder, P: ParamSource, c: FluxConfig, latents: Value, text: Value): Value {
  const D = innerDim(c);
  const txt = linear(g, P, text, 'context_embedder', c.jointAttentionDim, D);
  const img = linear(g, P, latents, 'x_embedder', c.inChannels, D);
  return g.concat([txt, img], 1);
}

/** adaLN modulation vectors: Linear(SiLU(temb)) split into `count` chunks of [B, 1, D]. */
function modulation(g: GraphBuilder, P: ParamSource, c: FluxConfig, temb: Value, key: string, count: number): Value[] {
  const D = innerDim(c);
  const m = linear(g, P, g.silu(temb), key, D, count * D);
  return g.split(g.reshape(m, [-1, count, D]), 1, new Array<number>(count).fill(1));
}

/** LayerNorm (no affine, eps 1e-6) · (1 + scale) + shift. */
function modulate(g: GraphBuilder, x: Value, shift: Value, scale: Value): Value {
  return g.add(g.mul(g.layerNorm(x, LAYER_NORM_EPS), g.add(scale, g.scalar(1))), shift);
}

/** torch.nn.RMSNorm over the last axis: x / √(mean(x²) + eps) · w. */
function rmsNorm(g: GraphBuilder, x: Value, w: Value, eps: number): Value {
  const ms = g.reduceMean(g.mul(x, x), [-1], true);
  return g.mul(g.div(x, g.sqrt(g.add(ms, g.scalar(eps)))), w);
}

/** [B, L, D] → [B, H, L, hd]. */
function toHeads(g: GraphBuilder, c: FluxConfig, x: Value, L: number): Value {
  return g.transpose(g.reshape(x, [-1, L, c.numHeads, c.headDim]), [0, 2, 1, 3]);
}

/** q, k or v of one stream, [B, H, L, hd]; q and k through their per-head RMSNorm. */
function projectHeads(g: GraphBuilder, P: ParamSource, c: FluxConfig, x: Value, L: number, proj: string, norm?: string): Value {
  const D = innerDim(c);
  const h = toHeads(g, c, linear(g, P, x, proj, D, D), L);
  return norm ? rmsNorm(g, h, P(g, norm, [c.headDim]), QK_NORM_EPS) : h;
}

/**
 * Rotary embedding on interleaved channel pairs (x[2j], x[2j+1]) of x [B, H, T, hd]:
 * x·cos + rotate(x)·sin, rotate(x)[2j] = −x[2j+1], rotate(x)[2j+1] = x[2j].
 */
function applyRope(g: GraphBuilder, c: FluxConfig, x: Value, T: number, rope: RopeValues): Value {
  const hd = c.headDim;
  const pairs = g.reshape(x, [-1, c.numHeads, T, hd / 2, 2]);
  const [re, im] = g.split(pairs, 4, [1, 1]);
  const rotated = g.reshape(g.concat([g.neg(im), re], 4), [-1, c.numHeads, T, hd]);
  return g.add(g.mul(x, rope.cos), g.mul(rotated, rope.sin));
}

/** Softmax attention of q, k, v [B, H, T, hd] (scale 1/√hd) → [B, T, D]. */
function attention(g: GraphBuilder, c: FluxConfig, q: Value, k: Value, v: Value, T: number): Value {
  const out = pieceWiseAttention(g, q, g.transpose(k, [0, 1, 3, 2]), v, { heads: c.numHeads, tq: T, tk: T, scale: c.headDim ** -0.5 });
  return g.reshape(g.transpose(out, [0, 2, 1, 3]), [-1, T, innerDim(c)]);
}

/** diffusers' FeedForward(gelu-approximate): Linear(D, 4D) → GELU(tanh) → Linear(4D, D). */
function feedForward(g: GraphBuilder, P: ParamSource, c: FluxConfig, x: Value, key: string): Value {
  const D = innerDim(c);
  const F = mlpHidden(c);
  return linear(g, P, g.gelu(linear(g, P, x, `${key}.net.0.proj`, D, F)), `${key}.net.2`, F, D);
}

/** The two streams of a double block. */
export interface Streams {
  readonly txt: Value; // [B, L_txt, D]
  readonly img: Value; // [B, L_img, D]
}

/** Double-stream block i (diffusers' FluxTransformerBlock): separate weights per stream, one joint attention. */
export function doubleBlock(g: GraphBuilder, P: ParamSource, c: FluxConfig, i: number, s: Streams, temb: Value, n: TokenCounts, rope: RopeValues): Streams {
  const p = `transformer_blocks.${i}.`;
  const T = n.text + n.image;
  const [shI, scI, gateI, shMlpI, scMlpI, gateMlpI] = modulation(g, P, c, temb, `${p}norm1.linear`, 6);
  const [shT, scT, gateT, shMlpT, scMlpT, gateMlpT] = modulation(g, P, c, temb, `${p}norm1_context.linear`, 6);
  const img = modulate(g, s.img, shI, scI);
  const txt = modulate(g, s.txt, shT, scT);

  const qI = projectHeads(g, P, c, img, n.image, `${p}attn.to_q`, `${p}attn.norm_q.weight`);
  const kI = projectHeads(g, P, c, img, n.image, `${p}attn.to_k`, `${p}attn.norm_k.weight`);
  const vI = projectHeads(g, P, c, img, n.image, `${p}attn.to_v`);
  const qT = projectHeads(g, P, c, txt, n.text, `${p}attn.add_q_proj`, `${p}attn.norm_added_q.weight`);
  const kT = projectHeads(g, P, c, txt, n.text, `${p}attn.add_k_proj`, `${p}attn.norm_added_k.weight`);
  const vT = projectHeads(g, P, c, txt, n.text, `${p}attn.add_v_proj`);
  // text first in the joint sequence, matching the order of the RoPE rows
  const q = applyRope(g, c, g.concat([qT, qI], 2), T, rope);
  const k = applyRope(g, c, g.concat([kT, kI], 2), T, rope);
  const v = g.concat([vT, vI], 2);
  const [attnT, attnI] = g.split(attention(g, c, q, k, v, T), 1, [n.text, n.image]);

  const D = innerDim(c);
  const img1 = g.add(s.img, g.mul(gateI, linear(g, P, attnI, `${p}attn.to_out.0`, D, D)));
  const txt1 = g.add(s.txt, g.mul(gateT, linear(g, P, attnT, `${p}attn.to_add_out`, D, D)));
  const img2 = g.add(img1, g.mul(gateMlpI, feedForward(g, P, c, modulate(g, img1, shMlpI, scMlpI), `${p}ff`)));
  const txt2 = g.add(txt1, g.mul(gateMlpT, feedForward(g, P, c, modulate(g, txt1, shMlpT, scMlpT), `${p}ff_context`)));
  return { txt: txt2, img: img2 };
}

/** Single-stream block i (diffusers' FluxSingleTransformerBlock) on the joint stream x [B, T, D]. */
export function singleBlock(g: GraphBuilder, P: ParamSource, c: FluxConfig, i: number, x: Value, temb: Value, T: number, rope: RopeValues): Value {
  const p = `single_transformer_blocks.${i}.`;
  const D = innerDim(c);
  const F = mlpHidden(c);
  const [shift, scale, gate] = modulation(g, P, c, temb, `${p}norm.linear`, 3);
  const h = modulate(g, x, shift, scale);
  const q = applyRope(g, c, projectHeads(g, P, c, h, T, `${p}attn.to_q`, `${p}attn.norm_q.weight`), T, rope);
  const k = applyRope(g, c, projectHeads(g, P, c, h, T, `${p}attn.to_k`, `${p}attn.norm_k.weight`), T, rope);
  const v = projectHeads(g, P, c, h, T, `${p}attn.to_v`);
  const mlp = g.gelu(linear(g, P, h, `${p}proj_mlp`, D, F));
  const attn = attention(g, c, q, k, v, T);
  return g.add(x, g.mul(gate, linear(g, P, g.concat([attn, mlp], 2), `${p}proj_out`, D + F, D)));
}

/**
 * Blocks from … to − 1 of the stack (double blocks, then single blocks) on the joint stream tokens
 * [B, T, D]. Consecutive double blocks pass their two streams on without re-joining; `tap(e, tokens)`
 * receives the joint stream after block e − 1 for every e in `taps`.
 */
export function stackRange(
  g: GraphBuilder, P: ParamSource, c: FluxConfig, n: TokenCounts, from: number, to: number,
  tokens: Value, temb: Value, rope: RopeValues, taps: readonly number[] = [], tap: (end: number, tokens: Value) => void = () => undefined,
): Value {
  const T = n.text + n.image;
  let joint: Value | undefined = tokens;
  let streams: Streams | undefined;
  const joined = (): Value => (joint ??= g.concat([streams!.txt, streams!.img], 1));
  for (let i = from; i < to; i++) {
    if (isDoubleBlock(c, i)) {
      if (!streams) {
        const [txt, img] = g.split(joined(), 1, [n.text, n.image]);
        streams = { txt, img };
      }
      streams = doubleBlock(g, P, c, i, streams, temb, n, rope);
      joint = undefined;
    } else {
      joint = singleBlock(g, P, c, i - c.numLayers, joined(), temb, T, rope);
      streams = undefined;
    }
    if (taps.includes(i + 1)) tap(i + 1, joined());
  }
  return joined();
}

/** Block 0's normalised, modulated input [B, T, D] (TeaCache's signal): the [text; image] streams as block 0 modulates them. */
export function blockModulatedInput0(g: GraphBuilder, P: ParamSource, c: FluxConfig, n: TokenCounts, tokens: Value, temb: Value): Value {
  if (!isDoubleBlock(c, 0)) {
    const [shift, scale] = modulation(g, P, c, temb, 'single_transformer_blocks.0.norm.linear', 3);
    return modulate(g, tokens, shift, scale);
  }
  const [txt, img] = g.split(tokens, 1, [n.text, n.image]);
  const [shI, scI] = modulation(g, P, c, temb, 'transformer_blocks.0.norm1.linear', 6);
  const [shT, scT] = modulation(g, P, c, temb, 'transformer_blocks.0.norm1_context.linear', 6);
  return g.concat([modulate(g, txt, shT, scT), modulate(g, img, shI, scI)], 1);
}

/** norm_out (AdaLayerNormContinuous: chunks scale, then shift) and proj_out on the image tokens → [B, L_img, outputWidth]. */
export function head(g: GraphBuilder, P: ParamSource, c: FluxConfig, n: TokenCounts, tokens: Value, temb: Value): Value {
  const D = innerDim(c);
  const img = g.slice(tokens, [1], [n.text], [n.text + n.image]);
  const [scale, shift] = modulation(g, P, c, temb, 'norm_out.linear', 2);
  return linear(g, P, modulate(g, img, shift, scale), 'proj_out', D, outputWidth(c));
}
