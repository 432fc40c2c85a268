// Every FLUX parameter by its diffusers state-dict key with its PyTorch shape, which of the stack's blocks
// owns it, and the FLOPs of each block: the model's bookkeeping, apart from the graph that computes it.
import { FluxConfig, TIME_PROJ_CHANNELS, innerDim, mlpHidden, outputWidth, stackDepth } from './config.js';

/** Key prefix of stack block i (double blocks first, then single blocks, as the contract numbers them). */
export function blockPrefix(c: FluxConfig, i: number): string {
  return i < c.numLayers ? `transformer_blocks.${i}.` : `single_transformer_blocks.${i - c.numLayers}.`;
}

export function isDoubleBlock(c: FluxConfig, i: number): boolean {
  return i < c.numLayers;
}

function linearShapes(m: Map<string, number[]>, key: string, inF: number, outF: number): void {
  m.set(`${key}.weight`, [outF, inF]);
  m.set(`${key}.bias`, [outF]);
}

/** The parameters of the embeddings (x, context, time/guidance/text), in diffusers' order. */
function stemShapes(c: FluxConfig, m: Map<string, number[]>): void {
  const D = innerDim(c);
  linearShapes(m, 'time_text_embed.timestep_embedder.linear_1', TIME_PROJ_CHANNELS, D);
  linearShapes(m, 'time_text_embed.timestep_embedder.linear_2', D, D);
  if (c.guidanceEmbeds) {
    linearShapes(m, 'time_text_embed.guidance_embedder.linear_1', TIME_PROJ_CHANNELS, D);
    linearShapes(m, 'time_text_embed.guidance_embedder.linear_2', D, D);
  }
  linearShapes(m, 'time_text_embed.text_embedder.linear_1', c.pooledProjectionDim, D);
  linearShapes(m, 'time_text_embed.text_embedder.linear_2', D, D);
  linearShapes(m, 'context_embedder', c.jointAttentionDim, D);
  linearShapes(m, 'x_embedder', c.inChannels, D);
}

function doubleBlockShapes(c: FluxConfig, i: number, m: Map<string, number[]>): void {
  const D = innerDim(c);
  const F = mlpHidden(c);
  const p = `transformer_blocks.${i}.`;
  linearShapes(m, `${p}norm1.linear`, D, 6 * D);
  linearShapes(m, `${p}norm1_context.linear`, D, 6 * D);
  m.set(`${p}attn.norm_q.weight`, [c.headDim]);
  m.set(`${p}attn.norm_k.weight`, [c.headDim]);
  for (const x of ['to_q', 'to_k', 'to_v', 'to_out.0']) linearShapes(m, `${p}attn.${x}`, D, D);
  m.set(`${p}attn.norm_added_q.weight`, [c.headDim]);
  m.set(`${p}attn.norm_added_k.weight`, [c.headDim]);
  for (const x of ['add_q_proj', 'add_k_proj', 'add_v_proj', 'to_add_out']) linearShapes(m, `${p}attn.${x}`, D, D);
  for (const ff of ['ff', 'ff_context']) {
    linearShapes(m, `${p}${ff}.net.0.proj`, D, F);
    linearShapes(m, `${p}${ff}.net.2`, F, D);
  }
}

function singleBlockShapes(c: FluxConfig, i: number, m: Map<string, number[]>): void {
  const D = innerDim(c);
  const F = mlpHidden(c);
  const p = `single_transformer_blocks.${i}.`;
  linearShapes(m, `${p}norm.linear`, D, 3 * D);
  linearShapes(m, `${p}proj_mlp`, D, F);
  linearShapes(m, `${p}proj_out`, D + F, D);
  m.set(`${p}attn.norm_q.weight`, [c.headDim]);
  m.set(`${p}attn.norm_k.weight`, [c.headDim]);
  for (const x of ['to_q', 'to_k', 'to_v']) linearShapes(m, `${p}attn.${x}`, D, D);
}

function headShapes(c: FluxConfig, m: Map<string, number[]>): void {
  const D = innerDim(c);
  linearShapes(m, 'norm_out.linear', D, 2 * D);
  linearShapes(m, 'proj_out', D, outputWidth(c));
}

/** Every parameter of a FluxTransformer2DModel with its shape (the diffusers state dict, in its order). */
export function parameterShapes(c: FluxConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  stemShapes(c, m);
  for (let i = 0; i < c.numLayers; i++) doubleBlockShapes(c, i, m);
  for (let i = 0; i < c.numSingleLayers; i++) singleBlockShapes(c, i, m);
  headShapes(c, m);
  return m;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** float32 bytes of the stack's block i. */
export function blockWeightBytes(c: FluxConfig, i: number): number {
  const m = new Map<string, number[]>();
  if (isDoubleBlock(c, i)) doubleBlockShapes(c, i, m);
  else singleBlockShapes(c, i - c.numLayers, m);
  return 4 * [...m.values()].reduce((a, s) => a + numel(s), 0);
}

/** float32 bytes of everything outside the blocks (embeddings and head). */
export function stemAndHeadWeightBytes(c: FluxConfig): number {
  const m = new Map<string, number[]>();
  stemShapes(c, m);
  headShapes(c, m);
  return 4 * [...m.values()].reduce((a, s) => a + numel(s), 0);
}

/**
 * FLOPs (2 per multiply-add) of stack block i on one row of `tokens` tokens: its modulation, projections,
 * MLP and the two attention products (scores and weighted values, T² · D multiply-adds each).
 */
export function blockFlopsAt(c: FluxConfig, i: number, tokens: number): number {
  const D = innerDim(c);
  const F = mlpHidden(c);
  const T = tokens;
  const attention = 2 * T * T * D;
  const macs = isDoubleBlock(c, i)
    ? 2 * 6 * D * D + T * (3 * D * D + D * D + 2 * D * F) + attention // two streams' projections and MLPs over T tokens together
    : 3 * D * D + T * (3 * D * D + D * F + (D + F) * D) + attention;
  return 2 * macs;
}

/** FLOPs of the whole block stack on one row. */
export function stackFlops(c: FluxConfig, tokens: number): number {
  let f = 0;
  for (let i = 0; i < stackDepth(c); i++) f += blockFlopsAt(c, i, tokens);
  return f;
}
