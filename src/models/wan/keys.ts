// Key names of the original Wan2.1 state dict (Wan-Video/Wan2.1 WanModel) ↔ diffusers'
// WanTransformer3DModel, the names the graphs use. The original calls the cross-attention pre-norm
// norm3 (its FFN norm2 has no weights); diffusers calls it norm2.

/** Whole-key or prefix renames outside the blocks, original → diffusers. */
const TOP_LEVEL: readonly (readonly [string, string])[] = [
  ['patch_embedding.', 'patch_embedding.'],
  ['text_embedding.0.', 'condition_embedder.text_embedder.linear_1.'],
  ['text_embedding.2.', 'condition_embedder.text_embedder.linear_2.'],
  ['time_embedding.0.', 'condition_embedder.time_embedder.linear_1.'],
  ['time_embedding.2.', 'condition_embedder.time_embedder.linear_2.'],
  ['time_projection.1.', 'condition_embedder.time_proj.'],
  ['head.head.', 'proj_out.'],
  ['head.modulation', 'scale_shift_table'],
];

/** Renames of a key's part after `blocks.{i}.`, original → diffusers. */
const IN_BLOCK: readonly (readonly [string, string])[] = [
  ['self_attn.q.', 'attn1.to_q.'],
  ['self_attn.k.', 'attn1.to_k.'],
  ['self_attn.v.', 'attn1.to_v.'],
  ['self_attn.o.', 'attn1.to_out.0.'],
  ['self_attn.norm_q.', 'attn1.norm_q.'],
  ['self_attn.norm_k.', 'attn1.norm_k.'],
  ['cross_attn.q.', 'attn2.to_q.'],
  ['cross_attn.k.', 'attn2.to_k.'],
  ['cross_attn.v.', 'attn2.to_v.'],
  ['cross_attn.o.', 'attn2.to_out.0.'],
  ['cross_attn.norm_q.', 'attn2.norm_q.'],
  ['cross_attn.norm_k.', 'attn2.norm_k.'],
  ['norm3.', 'norm2.'],
  ['ffn.0.', 'ffn.net.0.proj.'],
  ['ffn.2.', 'ffn.net.2.'],
  ['modulation', 'scale_shift_table'],
];

/** A rename rule matches a whole key (no trailing dot) or a prefix (trailing dot). */
function renamed(rest: string, rules: readonly (readonly [string, string])[], from: 0 | 1): string | undefined {
  for (const rule of rules) {
    const a = rule[from];
    const b = rule[1 - from];
    if (a.endsWith('.') ? rest.startsWith(a) : rest === a) return b + rest.slice(a.length);
  }
  return undefined;
}

function rename(key: string, from: 0 | 1): string | undefined {
  const m = /^(blocks\.\d+\.)(.*)$/.exec(key);
  if (m) {
    const inner = renamed(m[2], IN_BLOCK, from);
    return inner === undefined ? undefined : m[1] + inner;
  }
  return renamed(key, TOP_LEVEL, from);
}

/** The diffusers name of an original Wan key; undefined for a key a T2V WanModel does not have. */
export function diffusersKeyOf(originalKey: string): string | undefined {
  return rename(originalKey, 0);
}

/** The original Wan name of a diffusers key; undefined for a key a T2V WanTransformer3DModel does not have. */
export function originalKeyOf(diffusersKey: string): string | undefined {
  return rename(diffusersKey, 1);
}

/**
 * Keys that only image-to-video / first-last-frame models have (CLIP image branch), in either naming;
 * a loader names the model kind instead of listing them as unexpected.
 */
export function isImageBranchKey(key: string): boolean {
  return /(^|\.)(img_emb|image_embedder)\.|\.(k_img|v_img|norm_k_img|add_k_proj|add_v_proj|norm_added_k|norm_added_q)\./.test(key);
}

/** Prefix of ComfyUI-style single files (the original keys under model.diffusion_model.). */
export const SINGLE_FILE_PREFIX = 'model.diffusion_model.';
