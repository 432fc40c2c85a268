// CLIP's text transformer (transformers' CLIPTextModel) as graph pieces and host-side helpers: one
// pre-LN encoder layer over weights named relative to the layer, the final LayerNorm, the causal (+ padding)
// attention bias and the pooled-index rule. Token and position embeddings are looked up on the host.
import type { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import { linear, type ParamSource } from '../layers.js';
import { activation } from './activation.js';
import type { ClipTextConfig } from './config.js';

/** Weight names of layer i are `${CLIP_LAYER_PREFIX}${i}.` + these. */
export const CLIP_LAYER_PREFIX = 'encoder.layers.';
export const CLIP_TOKEN_EMBEDDING = 'embeddings.token_embedding.weight';
export const CLIP_POSITION_EMBEDDING = 'embeddings.position_embedding.weight';
export const CLIP_FINAL_NORM = 'final_layer_norm';

/** Additive attention bias of a masked pair: float32's lowest value, as transformers uses (torch.finfo.min). */
export const FLOAT32_MIN = -3.4028234663852886e38;

/** One layer's weights by name relative to the layer, with PyTorch shapes. */
export function clipLayerShapes(c: ClipTextConfig): Map<string, number[]> {
  const D = c.hiddenSize;
  const m = new Map<string, number[]>();
  for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
    m.set(`self_attn.${p}.weight`, [D, D]);
    m.set(`self_attn.${p}.bias`, [D]);
  }
  for (const n of ['layer_norm1', 'layer_norm2']) {
    m.set(`${n}.weight`, [D]);
    m.set(`${n}.bias`, [D]);
  }
  m.set('mlp.fc1.weight', [c.intermediateSize, D]);
  m.set('mlp.fc1.bias', [c.intermediateSize]);
  m.set('mlp.fc2.weight', [D, c.intermediateSize]);
  m.set('mlp.fc2.bias', [D]);
  return m;
}

/** Every weight of the model (without the `text_model.` prefix) with its shape. */
export function clipParameterShapes(c: ClipTextConfig): Map<string, number[]> {
  const m = new Map<string, number[]>([
    [CLIP_TOKEN_EMBEDDING, [c.vocabSize, c.hiddenSize]],
    [CLIP_POSITION_EMBEDDING, [c.maxPositions, c.hiddenSize]],
    [`${CLIP_FINAL_NORM}.weight`, [c.hiddenSize]],
    [`${CLIP_FINAL_NORM}.bias`, [c.hiddenSize]],
  ]);
  for (let i = 0; i < c.numLayers; i++) for (const [k, s] of clipLayerShapes(c)) m.set(`${CLIP_LAYER_PREFIX}${i}.${k}`, s);
  return m;
}

/**
 * One CLIPEncoderLayer: h += out_proj(attn(LN1(h))); h += fc2(act(fc1(LN2(h)))). Attention scales q·kᵀ by
 * head_dim^−0.5 and adds `bias` [B, 1, L, L] (causal, and padding when a mask is given) before the softmax.
 */
export function clipLayer(g: GraphBuilder, c: ClipTextConfig, W: ParamSource, h: Value, bias: Value, L: number): Value {
  const D = c.hiddenSize;
  const H = c.numHeads;
  const hd = D / H;
  const x = g.layerNorm(h, c.layerNormEps, W(g, 'layer_norm1.weight', [D]), W(g, 'layer_norm1.bias', [D]));
  const heads = (v: Value): Value => g.transpose(g.reshape(v, [-1, L, H, hd]), [0, 2, 1, 3]); // [B, H, L, hd]
  const q = heads(linear(g, W, x, 'self_attn.q_proj', D, D));
  const kT = g.transpose(g.reshape(linear(g, W, x, 'self_attn.k_proj', D, D), [-1, L, H, hd]), [0, 2, 3, 1]); // [B, H, hd, L]
  const v = heads(linear(g, W, x, 'self_attn.v_proj', D, D));
  const scores = g.add(g.mul(g.matmul(q, kT), g.scalar(hd ** -0.5)), bias);
  const o = g.reshape(g.transpose(g.matmul(g.softmax(scores, -1), v), [0, 2, 1, 3]), [-1, L, D]);
  const h1 = g.add(h, linear(g, W, o, 'self_attn.out_proj', D, D));
  const x2 = g.layerNorm(h1, c.layerNormEps, W(g, 'layer_norm2.weight', [D]), W(g, 'layer_norm2.bias', [D]));
  const m = linear(g, W, activation(g, c.hiddenAct, linear(g, W, x2, 'mlp.fc1', D, c.intermediateSize)), 'mlp.fc2', c.intermediateSize, D);
  return g.add(h1, m);
}

/** The final LayerNorm (weights `final_layer_norm.*`). */
export function clipFinalNorm(g: GraphBuilder, c: ClipTextConfig, W: ParamSource, h: Value): Value {
  const D = c.hiddenSize;
  return g.layerNorm(h, c.layerNormEps, W(g, `${CLIP_FINAL_NORM}.weight`, [D]), W(g, `${CLIP_FINAL_NORM}.bias`, [D]));
}

/**
 * The attention bias [B, 1, L, L]: 0 where query i may see key j — j ≤ i (causal, always) and, with a mask,
 * mask[b, j] = 1 — else float32's lowest value. Both conditions form one mask, so a pair blocked twice still
 * gets one FLOAT32_MIN (two would add to −∞).
 */
export function clipAttentionBias(B: number, L: number, mask?: ArrayLike<number | bigint>): Float32Array {
  const out = new Float32Array(B * L * L);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < L; i++)
      for (let j = 0; j < L; j++) {
        const open = j <= i && (!mask || Number(mask[b * L + j]) !== 0);
        out[(b * L + i) * L + j] = open ? 0 : FLOAT32_MIN;
      }
  return out;
}

/**
 * The position CLIPTextModel pools from, per row: with eos_token_id 2 (configs of the original OpenAI CLIP
 * releases, FLUX.1's among them) transformers keeps the legacy rule, argmax(input_ids) — the end-of-text token
 * has the largest id, and argmax returns its first occurrence, which matters because FLUX's tokenizer pads
 * with that same token. Otherwise: the first position holding eos_token_id (0 when there is none, as
 * argmax over an all-false row gives).
 */
export function clipPooledIndex(ids: ArrayLike<number>, B: number, L: number, eosTokenId: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let at = 0;
    if (eosTokenId === 2) {
      for (let j = 1; j < L; j++) if (ids[b * L + j] > ids[b * L + at]) at = j;
    } else {
      const first = Array.from({ length: L }, (_, j) => ids[b * L + j]).indexOf(eosTokenId);
      at = first < 0 ? 0 : first;
    }
    out.push(at);
  }
  return out;
}
