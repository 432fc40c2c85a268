// The DiT architecture written with the graph DSL, as composable pieces: embed, one adaLN-Zero
// block, head. Segment graphs, the full graph and the training graph are all built from these.
import { GraphBuilder } from '../../graph/builder.js';
import { Value } from '../../graph/ir.js';
import { linear, type ParamSource } from '../layers.js';
export { linear };
import { DiTConfig, headDim, mlpHidden, numTokens, outChannels } from './dit-config.js';

export type { ParamSource };

/** Frequencies of the sinusoidal timestep embedding, computed in float32 as PyTorch does. */
export function timestepFrequencies(c: DiTConfig): Float32Array {
  const half = c.frequencyEmbeddingSize / 2;
  const denom = c.timestepConvention === 'diffusers' ? half - 1 : half;
  const f = new Float32Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.fround(Math.exp(Math.fround(-Math.log(10000) * Math.fround(i / denom))));
  return f;
}

/** MAE-style fixed 2-D sin-cos position embedding [T, D] (first half encodes the column, second the row). */
export function positionEmbedding2d(hiddenSize: number, gridSize: number): Float32Array {
  const quarter = hiddenSize / 4;
  const out = new Float32Array(gridSize * gridSize * hiddenSize);
  const omega = Array.from({ length: quarter }, (_, i) => 1 / 10000 ** (i / quarter));
  for (let row = 0; row < gridSize; row++)
    for (let col = 0; col < gridSize; col++) {
      const o = (row * gridSize + col) * hiddenSize;
      for (let i = 0; i < quarter; i++) {
        out[o + i] = Math.sin(col * omega[i]);
        out[o + quarter + i] = Math.cos(col * omega[i]);
        out[o + 2 * quarter + i] = Math.sin(row * omega[i]);
        out[o + 3 * quarter + i] = Math.cos(row * omega[i]);
      }
    }
  return out;
}

/** x [B, C, H, W] → patch vectors [B, T, C·p·p] in the order of a Conv kernel (c, i, j). */
export function patchify(g: GraphBuilder, c: DiTConfig, x: Value): Value {
  const p = c.patchSize;
  const n = c.inputSize / p;
  const x6 = g.reshape(x, [-1, c.inChannels, n, p, n, p]);
  const t = g.transpose(x6, [0, 2, 4, 1, 3, 5]);
  return g.reshape(t, [-1, n * n, c.inChannels * p * p]);
}

export interface EmbedOut {
  tokens: Value; // [B, T, D]
  cond: Value; // [B, D]: timestep embedding + label embedding
}

/** x [B,C,H,W], t [B] float, y [B] int64 → tokens and conditioning. */
export function embed(g: GraphBuilder, P: ParamSource, c: DiTConfig, x: Value, t: Value, y: Value): EmbedOut {
  const D = c.hiddenSize;
  const k = c.inChannels * c.patchSize * c.patchSize;
  const wPatch = g.reshape(P(g, 'x_embedder.proj.weight', [D, c.inChannels, c.patchSize, c.patchSize]), [D, k]);
  const bPatch = P(g, 'x_embedder.proj.bias', [D]);
  const T = numTokens(c);
  const patches = g.gemm(g.reshape(patchify(g, c, x), [-1, k]), wPatch, { transB: 1 }, bPatch);
  const pos = P(g, 'pos_embed', [1, T, D]);
  const tokens = g.add(g.reshape(patches, [-1, T, D]), pos);
  return { tokens, cond: conditioning(g, P, c, t, y) };
}

/** t [B] float, y [B] int64 → the conditioning c [B, D]: timestep embedding + label embedding. */
export function conditioning(g: GraphBuilder, P: ParamSource, c: DiTConfig, t: Value, y: Value): Value {
  const D = c.hiddenSize;
  const freqs = g.constant(timestepFrequencies(c), [1, c.frequencyEmbeddingSize / 2]);
  const args = g.mul(g.reshape(t, [-1, 1]), freqs);
  const tFreq = g.concat([g.cos(args), g.sin(args)], 1);
  const tEmb = linear(g, P, g.silu(linear(g, P, tFreq, 't_embedder.mlp.0', c.frequencyEmbeddingSize, D)), 't_embedder.mlp.2', D, D);
  const yEmb = g.gather(P(g, 'y_embedder.embedding_table.weight', [c.numClasses + 1, D]), y, 0);
  return g.add(tEmb, yEmb);
}

/** adaLN modulation vectors: Linear(SiLU(c)) split into `count` chunks of [B, 1, D]. */
function modulation(g: GraphBuilder, P: ParamSource, c: DiTConfig, cond: Value, key: string, count: number): Value[] {
  const D = c.hiddenSize;
  const m = linear(g, P, g.silu(cond), key, D, count * D);
  return g.split(g.reshape(m, [-1, count, D]), 1, new Array<number>(count).fill(1));
}

function modulate(g: GraphBuilder, x: Value, shift: Value, scale: Value): Value {
  return g.add(g.mul(x, g.add(scale, g.scalar(1))), shift);
}

/** The normalised, modulated input of a block's attention (TeaCache's signal). */
export function blockModulatedInput(g: GraphBuilder, P: ParamSource, c: DiTConfig, i: number, x: Value, cond: Value): Value {
  const [shiftMsa, scaleMsa] = modulation(g, P, c, cond, `blocks.${i}.adaLN_modulation.1`, 6);
  return modulate(g, g.layerNorm(x, 1e-6), shiftMsa, scaleMsa);
}

/** One adaLN-Zero DiT block: x [B, T, D], cond [B, D] → [B, T, D]. */
export function block(g: GraphBuilder, P: ParamSource, c: DiTConfig, i: number, x: Value, cond: Value): Value {
  const D = c.hiddenSize;
  const H = c.numHeads;
  const hd = headDim(c);
  const T = numTokens(c);
  const pre = `blocks.${i}`;
  const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = modulation(g, P, c, cond, `${pre}.adaLN_modulation.1`, 6);

  const h = modulate(g, g.layerNorm(x, 1e-6), shiftMsa, scaleMsa);
  const qkv = linear(g, P, h, `${pre}.attn.qkv`, D, 3 * D);
  const heads = g.transpose(g.reshape(qkv, [-1, T, 3, H, hd]), [2, 0, 3, 1, 4]); // [3, B, H, T, hd]
  const [q, k, v] = g.split(heads, 0, [1, 1, 1]).map((s) => g.reshape(s, [-1, H, T, hd]));
  const scores = g.matmul(g.mul(q, g.scalar(hd ** -0.5)), g.transpose(k, [0, 1, 3, 2]));
  const attn = g.matmul(g.softmax(scores, -1), v); // [B, H, T, hd]
  const merged = g.reshape(g.transpose(attn, [0, 2, 1, 3]), [-1, T, D]);
  const x1 = g.add(x, g.mul(gateMsa, linear(g, P, merged, `${pre}.attn.proj`, D, D)));

  const h2 = modulate(g, g.layerNorm(x1, c.mlpNormEps), shiftMlp, scaleMlp);
  const F = mlpHidden(c);
  const mlp = linear(g, P, g.gelu(linear(g, P, h2, `${pre}.mlp.fc1`, D, F)), `${pre}.mlp.fc2`, F, D);
  return g.add(x1, g.mul(gateMlp, mlp));
}

/** Final adaLN + linear + unpatchify: tokens [B, T, D] → [B, outC, H, W]. */
export function head(g: GraphBuilder, P: ParamSource, c: DiTConfig, x: Value, cond: Value): Value {
  const D = c.hiddenSize;
  const p = c.patchSize;
  const oc = outChannels(c);
  const n = c.inputSize / p;
  const [shift, scale] = modulation(g, P, c, cond, 'final_layer.adaLN_modulation.1', 2);
  const h = modulate(g, g.layerNorm(x, 1e-6), shift, scale);
  const out = linear(g, P, h, 'final_layer.linear', D, p * p * oc); // [B, T, p·p·oc], ordered (p, q, c)
  const x6 = g.reshape(out, [-1, n, n, p, p, oc]);
  const img = g.transpose(x6, [0, 5, 1, 3, 2, 4]); // nhwpqc → nchpwq
  return g.reshape(img, [-1, oc, n * p, n * p]);
}

/** Every parameter key of a DiT with its PyTorch shape, in the original state-dict order. */
export function parameterShapes(c: DiTConfig): Map<string, number[]> {
  const D = c.hiddenSize;
  const F = mlpHidden(c);
  const m = new Map<string, number[]>();
  m.set('pos_embed', [1, numTokens(c), D]);
  m.set('x_embedder.proj.weight', [D, c.inChannels, c.patchSize, c.patchSize]);
  m.set('x_embedder.proj.bias', [D]);
  m.set('t_embedder.mlp.0.weight', [D, c.frequencyEmbeddingSize]);
  m.set('t_embedder.mlp.0.bias', [D]);
  m.set('t_embedder.mlp.2.weight', [D, D]);
  m.set('t_embedder.mlp.2.bias', [D]);
  m.set('y_embedder.embedding_table.weight', [c.numClasses + 1, D]);
  for (let i = 0; i < c.depth; i++) {
    const p = `blocks.${i}`;
    m.set(`${p}.attn.qkv.weight`, [3 * D, D]);
    m.set(`${p}.attn.qkv.bias`, [3 * D]);
    m.set(`${p}.attn.proj.weight`, [D, D]);
    m.set(`${p}.attn.proj.bias`, [D]);
    m.set(`${p}.mlp.fc1.weight`, [F, D]);
    m.set(`${p}.mlp.fc1.bias`, [F]);
    m.set(`${p}.mlp.fc2.weight`, [D, F]);
    m.set(`${p}.mlp.fc2.bias`, [D]);
    m.set(`${p}.adaLN_modulation.1.weight`, [6 * D, D]);
    m.set(`${p}.adaLN_modulation.1.bias`, [6 * D]);
  }
  m.set('final_layer.linear.weight', [c.patchSize * c.patchSize * outChannels(c), D]);
  m.set('final_layer.linear.bias', [c.patchSize * c.patchSize * outChannels(c)]);
  m.set('final_layer.adaLN_modulation.1.weight', [2 * D, D]);
  m.set('final_layer.adaLN_modulation.1.bias', [2 * D]);
  return m;
}

/** FLOPs (multiply-adds × 2) of one block for one sample: the unit of "block compute ratio". */
export function blockFlops(c: DiTConfig): number {
  const D = c.hiddenSize;
  const T = numTokens(c);
  const F = mlpHidden(c);
  const linears = T * (3 * D * D + D * D + 2 * D * F) + 6 * D * D;
  const attention = 2 * T * T * D;
  return 2 * (linears + attention);
}
