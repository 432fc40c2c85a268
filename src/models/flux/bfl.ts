// Black Forest Labs' single-file layout (flux1-dev.safetensors, flux1-schnell.safetensors) as row blocks
// of diffusers' tensors: fused q/k/v (and single blocks' q/k/v/MLP) split along dim 0, final_layer's
// (shift, scale) swapped into norm_out's (scale, shift). One table serves loading and its inverse.
import { FluxConfig, innerDim } from './config.js';
import { parameterShapes } from './params.js';

/** Rows [bflRow, bflRow + rows) of BFL tensor `bfl` are rows [diffusersRow, …) of diffusers tensor `diffusers` (dim 0). */
export interface RowBlock {
  readonly bfl: string;
  readonly bflRow: number;
  readonly diffusers: string;
  readonly diffusersRow: number;
  readonly rows: number;
}

export interface BflLayout {
  /** every BFL key with its shape */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  readonly blocks: readonly RowBlock[];
}

/** The prefix of the transformer inside all-in-one checkpoints (ComfyUI, original "model" files). */
export const BFL_EMBEDDED_PREFIX = 'model.diffusion_model.';

/** The BFL keys and how their rows make up diffusers' tensors, for a config. */
export function bflLayout(c: FluxConfig): BflLayout {
  const diff = parameterShapes(c);
  const shapes = new Map<string, number[]>();
  const blocks: RowBlock[] = [];
  const D = innerDim(c);
  /** BFL `bfl` = concatenation of diffusers tensors `parts` along dim 0 (for .weight and .bias alike). */
  const fused = (bfl: string, parts: readonly string[], suffixes: readonly string[] = ['weight', 'bias']): void => {
    for (const s of suffixes) {
      const bflKey = s === '' ? bfl : `${bfl}.${s}`;
      let row = 0;
      let rest: number[] = [];
      for (const part of parts) {
        const key = s === '' ? part : `${part}.${s}`;
        const shape = diff.get(key);
        if (!shape) throw new Error(`bflLayout: no diffusers parameter ${key}`);
        rest = shape.slice(1);
        blocks.push({ bfl: bflKey, bflRow: row, diffusers: key, diffusersRow: 0, rows: shape[0] });
        row += shape[0];
      }
      shapes.set(bflKey, [row, ...rest]);
    }
  };
  const same = (bfl: string, diffusers: string): void => fused(bfl, [diffusers]);
  const scale = (bfl: string, diffusers: string): void => fused(bfl, [diffusers], ['']);

  same('img_in', 'x_embedder');
  same('txt_in', 'context_embedder');
  same('time_in.in_layer', 'time_text_embed.timestep_embedder.linear_1');
  same('time_in.out_layer', 'time_text_embed.timestep_embedder.linear_2');
  same('vector_in.in_layer', 'time_text_embed.text_embedder.linear_1');
  same('vector_in.out_layer', 'time_text_embed.text_embedder.linear_2');
  if (c.guidanceEmbeds) {
    same('guidance_in.in_layer', 'time_text_embed.guidance_embedder.linear_1');
    same('guidance_in.out_layer', 'time_text_embed.guidance_embedder.linear_2');
  }
  for (let i = 0; i < c.numLayers; i++) {
    const b = `double_blocks.${i}`;
    const d = `transformer_blocks.${i}`;
    same(`${b}.img_mod.lin`, `${d}.norm1.linear`);
    same(`${b}.txt_mod.lin`, `${d}.norm1_context.linear`);
    fused(`${b}.img_attn.qkv`, [`${d}.attn.to_q`, `${d}.attn.to_k`, `${d}.attn.to_v`]);
    fused(`${b}.txt_attn.qkv`, [`${d}.attn.add_q_proj`, `${d}.attn.add_k_proj`, `${d}.attn.add_v_proj`]);
    scale(`${b}.img_attn.norm.query_norm.scale`, `${d}.attn.norm_q.weight`);
    scale(`${b}.img_attn.norm.key_norm.scale`, `${d}.attn.norm_k.weight`);
    scale(`${b}.txt_attn.norm.query_norm.scale`, `${d}.attn.norm_added_q.weight`);
    scale(`${b}.txt_attn.norm.key_norm.scale`, `${d}.attn.norm_added_k.weight`);
    same(`${b}.img_attn.proj`, `${d}.attn.to_out.0`);
    same(`${b}.txt_attn.proj`, `${d}.attn.to_add_out`);
    same(`${b}.img_mlp.0`, `${d}.ff.net.0.proj`);
    same(`${b}.img_mlp.2`, `${d}.ff.net.2`);
    same(`${b}.txt_mlp.0`, `${d}.ff_context.net.0.proj`);
    same(`${b}.txt_mlp.2`, `${d}.ff_context.net.2`);
  }
  for (let i = 0; i < c.numSingleLayers; i++) {
    const b = `single_blocks.${i}`;
    const d = `single_transformer_blocks.${i}`;
    fused(`${b}.linear1`, [`${d}.attn.to_q`, `${d}.attn.to_k`, `${d}.attn.to_v`, `${d}.proj_mlp`]);
    same(`${b}.linear2`, `${d}.proj_out`);
    same(`${b}.modulation.lin`, `${d}.norm.linear`);
    scale(`${b}.norm.query_norm.scale`, `${d}.attn.norm_q.weight`);
    scale(`${b}.norm.key_norm.scale`, `${d}.attn.norm_k.weight`);
  }
  same('final_layer.linear', 'proj_out');
  // BFL's final adaLN emits (shift, scale); diffusers' norm_out.linear (scale, shift): the halves swap.
  for (const s of ['weight', 'bias']) {
    const shape = diff.get(`norm_out.linear.${s}`)!;
    shapes.set(`final_layer.adaLN_modulation.1.${s}`, [...shape]);
    blocks.push({ bfl: `final_layer.adaLN_modulation.1.${s}`, bflRow: 0, diffusers: `norm_out.linear.${s}`, diffusersRow: D, rows: D });
    blocks.push({ bfl: `final_layer.adaLN_modulation.1.${s}`, bflRow: D, diffusers: `norm_out.linear.${s}`, diffusersRow: 0, rows: D });
  }
  checkCoverage(diff, blocks);
  return { shapes, blocks };
}

/** Every row of every diffusers tensor must come from exactly one BFL block (guards edits to the table). */
function checkCoverage(diff: ReadonlyMap<string, readonly number[]>, blocks: readonly RowBlock[]): void {
  const rows = new Map<string, number>();
  for (const b of blocks) rows.set(b.diffusers, (rows.get(b.diffusers) ?? 0) + b.rows);
  for (const [k, shape] of diff) {
    if (rows.get(k) !== shape[0]) throw new Error(`bflLayout: diffusers ${k} gets ${rows.get(k) ?? 0} of its ${shape[0]} rows`);
  }
}

/** Row-major values per dim-0 row of a shape. */
export function rowSize(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * The inverse map: diffusers-keyed weights → BFL-keyed tensors (flux1-*.safetensors layout). For tests
 * and conversion tools; holds every tensor in memory.
 */
export function diffusersToBfl(c: FluxConfig, weights: ReadonlyMap<string, Float32Array>): Map<string, { shape: number[]; data: Float32Array }> {
  const layout = bflLayout(c);
  const diffShapes = parameterShapes(c);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, shape] of layout.shapes) out.set(k, { shape: [...shape], data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  for (const b of layout.blocks) {
    const src = weights.get(b.diffusers);
    if (!src) throw new Error(`diffusersToBfl: missing diffusers weight ${b.diffusers}`);
    const n = rowSize(diffShapes.get(b.diffusers)!);
    out.get(b.bfl)!.data.set(src.subarray(b.diffusersRow * n, (b.diffusersRow + b.rows) * n), b.bflRow * n);
  }
  return out;
}
