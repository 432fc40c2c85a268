// FLUX.1 transformer hyper-parameters: diffusers' FluxTransformer2DModel config.json read field by field
// (unknown fields and values this implementation does not compute are refused by name), and the sizes derived from them.
import { CheckpointError } from '../../io/errors.js';

/** diffusers' class name of the FLUX.1 transformer. */
export const FLUX_CLASS_NAME = 'FluxTransformer2DModel';

/** RoPE base of every FLUX.1 model (hard-coded in diffusers' FluxPosEmbed and BFL's FluxParams). */
export const ROPE_THETA = 10000;
/** eps of the q/k RMSNorms (diffusers passes 1e-6 to FluxAttention in both block types). */
export const QK_NORM_EPS = 1e-6;
/** eps of every non-affine LayerNorm in the adaLN modulations and norm_out. */
export const LAYER_NORM_EPS = 1e-6;
/** Sinusoidal channels of the timestep and guidance projections (diffusers' Timesteps(256)). */
export const TIME_PROJ_CHANNELS = 256;
/** The MLP is this many times the inner width, in both block types (fixed in diffusers). */
export const MLP_RATIO = 4;

export interface FluxConfig {
  /** channels of a packed latent token (64 for FLUX.1: 16 latent channels × 2 × 2) */
  readonly inChannels: number;
  /** channels per output token before the patch factor; diffusers: out_channels ?? in_channels */
  readonly outChannels: number;
  /** proj_out emits patchSize² · outChannels per token (1 for every FLUX.1 release) */
  readonly patchSize: number;
  /** double-stream blocks (19 in FLUX.1) */
  readonly numLayers: number;
  /** single-stream blocks (38 in FLUX.1) */
  readonly numSingleLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  /** width of the text token embeddings (T5-XXL: 4096) */
  readonly jointAttentionDim: number;
  /** width of the pooled text embedding (CLIP-L: 768) */
  readonly pooledProjectionDim: number;
  /** FLUX.1-dev's distilled-guidance embedder (false for schnell) */
  readonly guidanceEmbeds: boolean;
  /** head-dim channels given to each position-id axis; sums to headDim (FLUX.1: [16, 56, 56]) */
  readonly axesDimsRope: readonly number[];
}

/** Inner width D = heads × head dim. */
export function innerDim(c: FluxConfig): number {
  return c.numHeads * c.headDim;
}

export function mlpHidden(c: FluxConfig): number {
  return MLP_RATIO * innerDim(c);
}

/** Values per output token: proj_out's width, patchSize² · outChannels. */
export function outputWidth(c: FluxConfig): number {
  return c.patchSize * c.patchSize * c.outChannels;
}

/** Blocks in the stack as the denoiser contract sees it: double blocks, then single blocks. */
export function stackDepth(c: FluxConfig): number {
  return c.numLayers + c.numSingleLayers;
}

/** Fields of FluxTransformer2DModel's constructor, and the bookkeeping ones save_pretrained adds. */
const KNOWN_FIELDS = new Set([
  'patch_size', 'in_channels', 'out_channels', 'num_layers', 'num_single_layers', 'attention_head_dim',
  'num_attention_heads', 'joint_attention_dim', 'pooled_projection_dim', 'guidance_embeds', 'axes_dims_rope',
]);
const BOOKKEEPING = /^_/; // _class_name, _diffusers_version, _name_or_path, _use_default_values, …

/** Whether a config.json describes a FLUX.1 transformer. */
export function isFluxConfigJson(json: Record<string, unknown>): boolean {
  return json._class_name === FLUX_CLASS_NAME;
}

/** Reads a diffusers FluxTransformer2DModel config.json with diffusers' defaults for absent fields. */
export function fluxConfigFromDiffusersJson(j: Record<string, unknown>, file: string): FluxConfig {
  if (j._class_name !== undefined && j._class_name !== FLUX_CLASS_NAME) {
    throw new CheckpointError(file, `_class_name is ${JSON.stringify(j._class_name)}, not ${FLUX_CLASS_NAME}`, 'Pass the transformer/ folder of a FLUX.1 model.');
  }
  const unknown = Object.keys(j).filter((k) => !KNOWN_FIELDS.has(k) && !BOOKKEEPING.test(k));
  if (unknown.length) {
    throw new CheckpointError(file, `has config field(s) ${unknown.join(', ')} that ${FLUX_CLASS_NAME} as implemented here does not know`, `Supported fields: ${[...KNOWN_FIELDS].join(', ')}.`);
  }
  const int = (k: string, fallback: number): number => {
    const v = j[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new CheckpointError(file, `"${k}" must be a non-negative integer (got ${JSON.stringify(j[k])})`);
    return v;
  };
  const guidance = j.guidance_embeds ?? false;
  if (typeof guidance !== 'boolean') throw new CheckpointError(file, `"guidance_embeds" must be true or false (got ${JSON.stringify(guidance)})`);
  const axes = j.axes_dims_rope ?? [16, 56, 56];
  if (!Array.isArray(axes) || !axes.every((a) => typeof a === 'number')) {
    throw new CheckpointError(file, `"axes_dims_rope" must be a list of integers (got ${JSON.stringify(axes)})`);
  }
  const inChannels = int('in_channels', 64);
  const c: FluxConfig = {
    inChannels,
    // diffusers: `out_channels or in_channels`, so null and 0 both mean "as in_channels"
    outChannels: j.out_channels === null || j.out_channels === undefined || j.out_channels === 0 ? inChannels : int('out_channels', inChannels),
    patchSize: int('patch_size', 1),
    numLayers: int('num_layers', 19),
    numSingleLayers: int('num_single_layers', 38),
    numHeads: int('num_attention_heads', 24),
    headDim: int('attention_head_dim', 128),
    jointAttentionDim: int('joint_attention_dim', 4096),
    pooledProjectionDim: int('pooled_projection_dim', 768),
    guidanceEmbeds: guidance,
    axesDimsRope: axes as number[],
  };
  validateFluxConfig(c, file);
  return c;
}

/** The config as diffusers' config.json would hold it. */
export function fluxConfigToDiffusersJson(c: FluxConfig): Record<string, unknown> {
  return {
    _class_name: FLUX_CLASS_NAME,
    patch_size: c.patchSize,
    in_channels: c.inChannels,
    out_channels: c.outChannels,
    num_layers: c.numLayers,
    num_single_layers: c.numSingleLayers,
    attention_head_dim: c.headDim,
    num_attention_heads: c.numHeads,
    joint_attention_dim: c.jointAttentionDim,
    pooled_projection_dim: c.pooledProjectionDim,
    guidance_embeds: c.guidanceEmbeds,
    axes_dims_rope: [...c.axesDimsRope],
  };
}

/** Refuses configs this implementation cannot compute, naming the field and the rule. */
export function validateFluxConfig(c: FluxConfig, where: string): void {
  const fail = (m: string): never => {
    throw new CheckpointError(where, `invalid FLUX config: ${m}`);
  };
  for (const k of ['inChannels', 'outChannels', 'patchSize', 'numHeads', 'headDim', 'jointAttentionDim', 'pooledProjectionDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(`${k} must be a positive integer (got ${c[k]})`);
  }
  for (const k of ['numLayers', 'numSingleLayers'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) fail(`${k} must be a non-negative integer (got ${c[k]})`);
  }
  if (stackDepth(c) < 1) fail('the model needs at least one block (num_layers + num_single_layers ≥ 1)');
  if (c.axesDimsRope.length !== 3) fail(`axes_dims_rope [${c.axesDimsRope.join(', ')}] must have 3 entries: FLUX position ids have 3 axes (index, row, column)`);
  if (c.axesDimsRope.some((a) => !Number.isInteger(a) || a < 2 || a % 2 !== 0)) {
    fail(`axes_dims_rope [${c.axesDimsRope.join(', ')}] must be even positive integers (RoPE rotates channel pairs)`);
  }
  const sum = c.axesDimsRope.reduce((a, b) => a + b, 0);
  if (sum !== c.headDim) fail(`axes_dims_rope [${c.axesDimsRope.join(', ')}] sums to ${sum} but attention_head_dim is ${c.headDim}; RoPE covers the whole head`);
}
