// The AutoencoderKLWan (Wan 2.1 video VAE) configuration: diffusers' config.json fields read with the
// defaults of diffusers' AutoencoderKLWan.__init__, every value checked against what this implementation
// computes; a field it does not know, or a Wan 2.2 / attention variant it does not build, is refused.
import { CheckpointError } from '../../../io/errors.js';

export const WAN_VAE_CLASS = 'AutoencoderKLWan';

/** F.normalize's floor on the channel norm in WanRMS_norm. */
export const WAN_RMS_EPS = 1e-12;

/**
 * Frames one encoder chunk takes after the first (single-frame) chunk. diffusers' _encode hard-codes 4,
 * whatever the config, so the temporal factor must be 4 (two temporal resamplers) for its chunks to map
 * to one latent frame each.
 */
export const WAN_ENCODER_CHUNK_FRAMES = 4;

export interface WanVAEConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Latent channels (16 for Wan 2.1). */
  readonly zDim: number;
  /** Channel width of the encoder's first level (96 for Wan 2.1). */
  readonly baseDim: number;
  /** The decoder's base width (diffusers: decoder_base_dim, null = base_dim). */
  readonly decoderBaseDim: number;
  /** Width multipliers per level, shallowest first ([1, 2, 4, 4]). */
  readonly dimMult: readonly number[];
  /** Resnets per encoder level (the decoder has one more per level). */
  readonly numResBlocks: number;
  /**
   * Which encoder downsamplers also halve time, shallowest first (diffusers' `temperal_downsample`,
   * one per level but the last). The decoder uses it reversed.
   */
  readonly temporalDownsample: readonly boolean[];
  /** Per-channel statistics the pipeline de-normalises latents with: z = latents · std + mean. */
  readonly latentsMean: readonly number[];
  readonly latentsStd: readonly number[];
}

/** Video pixels per latent pixel along H and W (8 for Wan 2.1). */
export function wanSpatialFactor(c: WanVAEConfig): number {
  return 2 ** (c.dimMult.length - 1);
}

/** Video frames per latent frame after the first (4 for Wan 2.1): frames 1 + 4k ↔ latent frames 1 + k. */
export function wanTemporalFactor(c: WanVAEConfig): number {
  return 2 ** c.temporalDownsample.filter(Boolean).length;
}

/** diffusers' AutoencoderKLWan.__init__ defaults (the Wan 2.1 VAE). */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  base_dim: 96,
  decoder_base_dim: null,
  z_dim: 16,
  dim_mult: [1, 2, 4, 4],
  num_res_blocks: 2,
  attn_scales: [],
  temperal_downsample: [false, true, true],
  dropout: 0.0,
  latents_mean: [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
  latents_std: [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916],
  is_residual: false,
  in_channels: 3,
  out_channels: 3,
  patch_size: null,
  scale_factor_temporal: 4,
  scale_factor_spatial: 8,
};

function show(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  return JSON.stringify(v) ?? String(v);
}

/** True when a diffusers config.json object is an AutoencoderKLWan's. */
export function isWanVAEConfigJson(json: Readonly<Record<string, unknown>>): boolean {
  return json._class_name === WAN_VAE_CLASS;
}

/**
 * Reads a diffusers AutoencoderKLWan config.json object (`file` names it in errors). Fields starting with
 * "_" are metadata; unknown fields are refused, since they might change the computation.
 */
export function wanVAEConfigFromDiffusersJson(json: Readonly<Record<string, unknown>>, file: string): WanVAEConfig {
  const fail = (field: string, problem: string, hint?: string): never => {
    throw new CheckpointError(file, `config field "${field}" ${problem}`, hint);
  };
  if (!isWanVAEConfigJson(json)) throw new CheckpointError(file, `is a ${show(json._class_name)} config, not ${WAN_VAE_CLASS}`);
  const unknown = Object.keys(json).filter((k) => !k.startsWith('_') && !(k in DEFAULTS));
  if (unknown.length) {
    throw new CheckpointError(file, `has config fields this ${WAN_VAE_CLASS} implementation does not know: ${unknown.join(', ')}`, 'They may change the computation, so the model is not loaded.');
  }
  const value = (field: string): unknown => (field in json ? json[field] : DEFAULTS[field]);
  const positiveInt = (field: string): number => {
    const v = value(field);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(field, `is ${show(v)}; expected a positive integer`);
    return v as number;
  };

  if (value('is_residual') !== false) {
    fail('is_residual', `is ${show(value('is_residual'))}; only false (the Wan 2.1 VAE) is implemented`, 'The Wan 2.2 VAE (residual up/down blocks, patch_size 2) is not supported.');
  }
  const patch = value('patch_size');
  if (patch !== null && patch !== 1) fail('patch_size', `is ${show(patch)}; only null (the Wan 2.1 VAE) is implemented`, 'The Wan 2.2 VAE (patchified input) is not supported.');
  const attn = value('attn_scales');
  if (!Array.isArray(attn) || attn.length !== 0) {
    fail('attn_scales', `is ${show(attn)}; only [] is implemented (attention in the mid blocks only, as every released Wan 2.1 VAE)`);
  }
  const dropout = value('dropout');
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail('dropout', `is ${show(dropout)}; expected a number in [0, 1) (unused at inference)`);

  const dimMult = value('dim_mult');
  if (!Array.isArray(dimMult) || dimMult.length < 2 || !dimMult.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
    fail('dim_mult', `is ${show(dimMult)}; expected a list of at least 2 positive integers`);
  }
  const levels = (dimMult as number[]).length;
  const td = value('temperal_downsample');
  if (!Array.isArray(td) || td.length !== levels - 1 || !td.every((x) => typeof x === 'boolean')) {
    fail('temperal_downsample', `is ${show(td)}; expected ${levels - 1} booleans (one per level of dim_mult ${show(dimMult)} but the last)`);
  }
  const temporalCount = (td as boolean[]).filter(Boolean).length;
  if (2 ** temporalCount !== WAN_ENCODER_CHUNK_FRAMES) {
    fail('temperal_downsample', `is ${show(td)} (${temporalCount} temporal downsamplers); exactly 2 are supported`, `diffusers encodes in chunks of ${WAN_ENCODER_CHUNK_FRAMES} frames, which only matches a temporal factor of 4.`);
  }
  const zDim = positiveInt('z_dim');
  const baseDim = positiveInt('base_dim');
  const decoderBase = value('decoder_base_dim');
  const decoderBaseDim = decoderBase === null ? baseDim : positiveInt('decoder_base_dim');
  // The decoder's upsamplers halve the channels and the next level takes that half: widths must be even.
  const odd = (dimMult as number[]).find((m) => (decoderBaseDim * m) % 2 !== 0);
  if (odd !== undefined) fail('decoder_base_dim', `is ${decoderBaseDim}; with dim_mult ${show(dimMult)} a decoder level would have an odd width, which the halving upsamplers cannot take`);

  const factorCheck = (field: string, expected: number): void => {
    const v = value(field);
    if (v !== null && v !== expected) fail(field, `is ${show(v)}, but dim_mult ${show(dimMult)} and temperal_downsample ${show(td)} give ${expected}`);
  };
  factorCheck('scale_factor_spatial', 2 ** (levels - 1));
  factorCheck('scale_factor_temporal', 2 ** temporalCount);

  const stats = (field: string, positive: boolean): number[] => {
    const v = value(field);
    if (!Array.isArray(v) || v.length !== zDim || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      fail(field, `is ${show(v)}; expected ${zDim} finite${positive ? ' positive' : ''} numbers (one per latent channel, z_dim ${zDim})`);
    }
    return v as number[];
  };
  return {
    inChannels: positiveInt('in_channels'),
    outChannels: positiveInt('out_channels'),
    zDim,
    baseDim,
    decoderBaseDim,
    dimMult: dimMult as number[],
    numResBlocks: positiveInt('num_res_blocks'),
    temporalDownsample: td as boolean[],
    latentsMean: stats('latents_mean', false),
    latentsStd: stats('latents_std', true),
  };
}
