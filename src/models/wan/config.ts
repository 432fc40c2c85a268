// Wan2.1 transformer hyper-parameters, read from diffusers' WanTransformer3DModel config.json, from the
// original WanModel constructor arguments, or inferred from a checkpoint's tensor shapes.
import { CheckpointError } from '../../io/errors.js';

export interface WanConfig {
  /** Conv3d kernel = stride of the patch embedding, (frames, rows, cols) */
  patchSize: readonly [number, number, number];
  numHeads: number;
  headDim: number;
  inChannels: number;
  outChannels: number;
  /** width of the text encoder's hidden states (umT5-XXL: 4096) */
  textDim: number;
  /** channels of the sinusoidal timestep embedding */
  freqDim: number;
  ffnDim: number;
  numLayers: number;
  /** affine LayerNorm before the cross-attention (diffusers norm2, original norm3); else none */
  crossAttnNorm: boolean;
  /** eps of every LayerNorm and of the q/k RMSNorms */
  eps: number;
  /** positions per axis of the RoPE table: frames, rows and cols after patching must stay below it */
  ropeMaxSeqLen: number;
}

/** RoPE base of every Wan model (diffusers' WanRotaryPosEmbed default, the original's rope_params). */
export const WAN_ROPE_THETA = 10000;

/** The class name diffusers writes into a Wan transformer's config.json. */
export const DIFFUSERS_WAN_CLASS = 'WanTransformer3DModel';
/** The class name the original Wan code (a diffusers ModelMixin too) writes into its config.json. */
export const ORIGINAL_WAN_CLASS = 'WanModel';

/** Hidden width D = heads × head_dim. */
export function innerDim(c: WanConfig): number {
  return c.numHeads * c.headDim;
}

/**
 * Channels of each head that RoPE rotates by the frame, row and col position: rows = cols =
 * 2·⌊headDim/6⌋, frames the rest (diffusers WanRotaryPosEmbed; 12 → 4/4/4, 128 → 44/42/42).
 */
export function ropeAxisDims(c: WanConfig): [number, number, number] {
  const hw = 2 * Math.floor(c.headDim / 6);
  return [c.headDim - 2 * hw, hw, hw];
}

/** Values of one patch vector C·pt·ph·pw, and of one output token oc·pt·ph·pw. */
export function patchVolume(c: WanConfig): number {
  return c.patchSize[0] * c.patchSize[1] * c.patchSize[2];
}

/** Wan2.1-T2V-1.3B (Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json). */
export const WAN21_T2V_1_3B: WanConfig = {
  patchSize: [1, 2, 2],
  numHeads: 12,
  headDim: 128,
  inChannels: 16,
  outChannels: 16,
  textDim: 4096,
  freqDim: 256,
  ffnDim: 8960,
  numLayers: 30,
  crossAttnNorm: true,
  eps: 1e-6,
  ropeMaxSeqLen: 1024,
};

/** Throws naming the file and every field that cannot describe a Wan transformer we can run. */
export function validateWanConfig(c: WanConfig, where: string): void {
  const problems: string[] = [];
  const positive = ['numHeads', 'headDim', 'inChannels', 'outChannels', 'textDim', 'freqDim', 'ffnDim', 'numLayers', 'ropeMaxSeqLen'] as const;
  for (const k of positive) if (!Number.isInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer (got ${c[k]})`);
  if (c.patchSize.length !== 3 || c.patchSize.some((p) => !Number.isInteger(p) || p < 1)) problems.push(`patch size must be 3 positive integers (got [${c.patchSize.join(', ')}])`);
  // RoPE rotates pairs of channels; the timestep sinusoid is cos ‖ sin halves.
  if (c.headDim % 2 !== 0) problems.push(`head dim ${c.headDim} must be even (RoPE rotates channel pairs)`);
  if (c.freqDim % 2 !== 0) problems.push(`freq dim ${c.freqDim} must be even (cos and sin halves)`);
  if (!(c.eps > 0)) problems.push(`eps must be positive (got ${c.eps})`);
  if (problems.length) throw new CheckpointError(where, `is not a Wan transformer config we can run:\n  ${problems.join('\n  ')}`);
}

type Json = Record<string, unknown>;

function reader(j: Json, file: string) {
  const num = (k: string, fallback?: number): number => {
    const v = j[k];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckpointError(file, `"${k}" must be a number (got ${JSON.stringify(v)})`);
    return v;
  };
  const bool = (k: string, fallback: boolean): boolean => {
    const v = j[k];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new CheckpointError(file, `"${k}" must be true or false (got ${JSON.stringify(v)})`);
    return v;
  };
  const patch = (k: string): [number, number, number] => {
    const v = j[k];
    if (v === undefined || v === null) return [1, 2, 2];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((p) => Number.isInteger(p) && p >= 1)) {
      throw new CheckpointError(file, `"${k}" must be 3 positive integers [frames, rows, cols] (got ${JSON.stringify(v)})`);
    }
    return [v[0], v[1], v[2]];
  };
  return { num, bool, patch };
}

const I2V_HINT = 'Only text-to-video Wan transformers are supported; image-to-video (I2V / FLF2V) models need the CLIP image branch, which tcpade does not implement.';

/**
 * diffusers' WanTransformer3DModel config.json. Absent fields take the class defaults. `qk_norm` is not
 * read: diffusers' WanAttention builds norm_q / norm_k (RMSNorm across heads) whatever it says.
 */
export function configFromDiffusersJson(j: Json, file: string): WanConfig {
  if (j._class_name !== undefined && j._class_name !== DIFFUSERS_WAN_CLASS) {
    throw new CheckpointError(file, `_class_name is ${JSON.stringify(j._class_name)}, not ${DIFFUSERS_WAN_CLASS}`, 'VACE and Animate variants are separate classes and are not supported.');
  }
  for (const k of ['image_dim', 'added_kv_proj_dim', 'pos_embed_seq_len']) {
    if (j[k] !== undefined && j[k] !== null) throw new CheckpointError(file, `${k} = ${JSON.stringify(j[k])} makes this an image-to-video transformer`, I2V_HINT);
  }
  const { num, bool, patch } = reader(j, file);
  const inChannels = num('in_channels', 16);
  const c: WanConfig = {
    patchSize: patch('patch_size'),
    numHeads: num('num_attention_heads', 40),
    headDim: num('attention_head_dim', 128),
    inChannels,
    // diffusers: `out_channels = out_channels or in_channels`
    outChannels: num('out_channels', inChannels) || inChannels,
    textDim: num('text_dim', 4096),
    freqDim: num('freq_dim', 256),
    ffnDim: num('ffn_dim', 13824),
    numLayers: num('num_layers', 40),
    crossAttnNorm: bool('cross_attn_norm', true),
    eps: num('eps', 1e-6),
    ropeMaxSeqLen: num('rope_max_seq_len', 1024),
  };
  validateWanConfig(c, file);
  return c;
}

/** The diffusers config.json of a config (what save_pretrained would write, T2V). */
export function configToDiffusersJson(c: WanConfig): Json {
  return {
    _class_name: DIFFUSERS_WAN_CLASS,
    patch_size: [...c.patchSize],
    num_attention_heads: c.numHeads,
    attention_head_dim: c.headDim,
    in_channels: c.inChannels,
    out_channels: c.outChannels,
    text_dim: c.textDim,
    freq_dim: c.freqDim,
    ffn_dim: c.ffnDim,
    num_layers: c.numLayers,
    cross_attn_norm: c.crossAttnNorm,
    qk_norm: 'rms_norm_across_heads',
    eps: c.eps,
    image_dim: null,
    added_kv_proj_dim: null,
    rope_max_seq_len: c.ropeMaxSeqLen,
    pos_embed_seq_len: null,
  };
}

/** The original code's fixed RoPE table length (WanModel builds rope_params(1024, …)). */
const ORIGINAL_ROPE_MAX_SEQ_LEN = 1024;

/**
 * The original WanModel constructor arguments (its config.json: dim, num_heads, in_dim, …). Fields the
 * original leaves out of config.json (patch_size, text_dim, qk_norm, cross_attn_norm, window_size) take
 * its defaults.
 */
export function configFromOriginalJson(j: Json, file: string): WanConfig {
  const modelType = j.model_type ?? 't2v';
  if (modelType !== 't2v') {
    throw new CheckpointError(file, `model_type is ${JSON.stringify(modelType)}`, modelType === 'vace' ? 'VACE models are not supported.' : I2V_HINT);
  }
  const window = j.window_size;
  if (window !== undefined && window !== null && !(Array.isArray(window) && window.every((w) => w === -1))) {
    throw new CheckpointError(file, `window_size ${JSON.stringify(window)} asks for local attention`, 'Only global attention (window_size [-1, -1]), as every released Wan2.1 model uses, is supported.');
  }
  if (j.qk_norm === false) {
    throw new CheckpointError(file, 'qk_norm is false', 'Every released Wan model normalises q and k; a model without it cannot be expressed as a diffusers WanTransformer3DModel and is not supported.');
  }
  const { num, bool, patch } = reader(j, file);
  const dim = num('dim', 2048);
  const numHeads = num('num_heads', 16);
  if (dim % numHeads !== 0) throw new CheckpointError(file, `dim ${dim} is not a multiple of num_heads ${numHeads}`);
  const inChannels = num('in_dim', 16);
  const c: WanConfig = {
    patchSize: patch('patch_size'),
    numHeads,
    headDim: dim / numHeads,
    inChannels,
    outChannels: num('out_dim', inChannels),
    textDim: num('text_dim', 4096),
    freqDim: num('freq_dim', 256),
    ffnDim: num('ffn_dim', 8192),
    numLayers: num('num_layers', 32),
    crossAttnNorm: bool('cross_attn_norm', true),
    eps: num('eps', 1e-6),
    ropeMaxSeqLen: ORIGINAL_ROPE_MAX_SEQ_LEN,
  };
  validateWanConfig(c, file);
  return c;
}

/** Head width of every released Wan2.1 / 2.2 transformer (1.3B: 12 × 128, 14B: 40 × 128). */
export const WAN_RELEASED_HEAD_DIM = 128;

/**
 * A config from the tensor shapes of a checkpoint without config.json (keys in diffusers' names). The
 * head count is not in any shape: it is taken as D / 128, the head width of every released Wan model.
 */
export function configFromShapes(shapes: ReadonlyMap<string, readonly number[]>, file: string): WanConfig {
  const need = (k: string, rank: number): readonly number[] => {
    const s = shapes.get(k);
    if (!s || s.length !== rank) {
      throw new CheckpointError(file, `has no config.json beside it and its config cannot be inferred: ${k} is ${s ? `[${s.join(', ')}]` : 'missing'}`, 'Put the model\'s config.json next to the weights.');
    }
    return s;
  };
  const [D, C, pt, ph, pw] = need('patch_embedding.weight', 5);
  if (D % WAN_RELEASED_HEAD_DIM !== 0) {
    throw new CheckpointError(file, `has no config.json and its width ${D} is not a multiple of ${WAN_RELEASED_HEAD_DIM}, so the head count cannot be inferred`, 'Put the model\'s config.json next to the weights.');
  }
  let numLayers = 0;
  for (const k of shapes.keys()) {
    const m = /^blocks\.(\d+)\./.exec(k);
    if (m) numLayers = Math.max(numLayers, Number(m[1]) + 1);
  }
  const outValues = need('proj_out.weight', 2)[0];
  const c: WanConfig = {
    patchSize: [pt, ph, pw],
    numHeads: D / WAN_RELEASED_HEAD_DIM,
    headDim: WAN_RELEASED_HEAD_DIM,
    inChannels: C,
    outChannels: outValues / (pt * ph * pw),
    textDim: need('condition_embedder.text_embedder.linear_1.weight', 2)[1],
    freqDim: need('condition_embedder.time_embedder.linear_1.weight', 2)[1],
    ffnDim: need('blocks.0.ffn.net.0.proj.weight', 2)[0],
    numLayers,
    crossAttnNorm: shapes.has('blocks.0.norm2.weight'),
    eps: 1e-6,
    ropeMaxSeqLen: ORIGINAL_ROPE_MAX_SEQ_LEN,
  };
  validateWanConfig(c, file);
  return c;
}
