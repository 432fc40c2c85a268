// The AutoencoderKL configuration: diffusers' config.json fields read with diffusers' defaults, every
// value checked against what this implementation computes, anything else refused naming field, value and file.
import { CheckpointError } from '../../io/errors.js';

/** The only block types the SD and FLUX VAEs use (and the only ones implemented). */
export const DOWN_BLOCK_TYPE = 'DownEncoderBlock2D';
export const UP_BLOCK_TYPE = 'UpDecoderBlock2D';
/** Every GroupNorm of the AutoencoderKL encoder and decoder uses this epsilon (hard-coded in diffusers). */
export const GROUP_NORM_EPS = 1e-6;

export interface VAEConfig {
  /** Image channels in (encoder) and out (decoder). */
  readonly inChannels: number;
  readonly outChannels: number;
  /** Channels of the latent z (4 for SD, 16 for FLUX). */
  readonly latentChannels: number;
  /** Channels of each resolution level, shallowest first; the image is 2^(length−1) times the latent. */
  readonly blockOutChannels: readonly number[];
  /** Resnets per encoder level (the decoder has one more per level). */
  readonly layersPerBlock: number;
  readonly normNumGroups: number;
  /** Whether both mid blocks hold a self-attention between their two resnets. */
  readonly midBlockAddAttention: boolean;
  /** 1×1 convs after the encoder (quant_conv) and before the decoder (post_quant_conv); FLUX has neither. */
  readonly useQuantConv: boolean;
  readonly usePostQuantConv: boolean;
  /** Diffusion-space scaling: latents = (z − shiftFactor) · scalingFactor. */
  readonly scalingFactor: number;
  /** 0 when the config has null or no shift_factor (SD). */
  readonly shiftFactor: number;
  /** Per-channel latent statistics some pipelines use instead of scaling_factor; null when absent. */
  readonly latentsMean: readonly number[] | null;
  readonly latentsStd: readonly number[] | null;
  /** Training image size [height, width] in pixels (diffusers derives its default tile size from it). */
  readonly sampleSize: readonly [number, number];
  /** diffusers' hint to run this VAE in float32 under fp16 pipelines; we always compute in float32. */
  readonly forceUpcast: boolean;
}

/** The image is this many times larger than the latent in each spatial axis. */
export function downscaleFactor(c: VAEConfig): number {
  return 2 ** (c.blockOutChannels.length - 1);
}

/** diffusers' AutoencoderKL defaults for fields a config.json leaves out (e.g. old SD VAE configs). */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  in_channels: 3,
  out_channels: 3,
  down_block_types: [DOWN_BLOCK_TYPE],
  up_block_types: [UP_BLOCK_TYPE],
  block_out_channels: [64],
  layers_per_block: 1,
  act_fn: 'silu',
  latent_channels: 4,
  norm_num_groups: 32,
  sample_size: 32,
  scaling_factor: 0.18215,
  shift_factor: null,
  latents_mean: null,
  latents_std: null,
  force_upcast: true,
  use_quant_conv: true,
  use_post_quant_conv: true,
  mid_block_add_attention: true,
};

/** A config value as written in a message: JSON, except non-finite numbers as Python writes them (NaN, Infinity). */
function show(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  return JSON.stringify(v) ?? String(v);
}

/** diffusers' get_activation names SiLU both ways. */
const SILU_NAMES = ['silu', 'swish'];

class FieldReader {
  constructor(
    private readonly json: Readonly<Record<string, unknown>>,
    private readonly file: string,
  ) {}

  private value(field: string): unknown {
    return field in this.json ? this.json[field] : DEFAULTS[field];
  }

  fail(field: string, problem: string, hint?: string): never {
    throw new CheckpointError(this.file, `config field "${field}" ${problem}`, hint);
  }

  positiveInt(field: string): number {
    const v = this.value(field);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) this.fail(field, `is ${show(v)}; expected a positive integer`);
    return v;
  }

  bool(field: string): boolean {
    const v = this.value(field);
    if (typeof v !== 'boolean') this.fail(field, `is ${show(v)}; expected true or false`);
    return v;
  }

  finite(field: string, allowNull: true): number | null;
  finite(field: string, allowNull?: false): number;
  finite(field: string, allowNull = false): number | null {
    const v = this.value(field);
    if (v === null && allowNull) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, `is ${show(v)}; expected a finite number${allowNull ? ' or null' : ''}`);
    return v;
  }

  positiveIntList(field: string): number[] {
    const v = this.value(field);
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
      this.fail(field, `is ${show(v)}; expected a non-empty list of positive integers`);
    }
    return v as number[];
  }

  stringList(field: string, allowed: string): string[] {
    const v = this.value(field);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(field, `is ${show(v)}; expected a list of block type names`);
    const bad = (v as string[]).find((x) => x !== allowed);
    if (bad !== undefined) {
      this.fail(field, `holds "${bad}"; only "${allowed}" is supported`, 'This loader implements the SD/SDXL/FLUX AutoencoderKL layout only.');
    }
    return v as string[];
  }

  numberListOrNull(field: string, length: number): number[] | null {
    const v = this.value(field);
    if (v === null) return null;
    if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      this.fail(field, `is ${show(v)}; expected null or ${length} finite numbers (one per latent channel)`);
    }
    return v as number[];
  }
}

/**
 * Reads a diffusers AutoencoderKL config.json object (`file` names it in errors). Fields starting with
 * "_" are metadata; any other field this implementation does not know is refused, since it might
 * change the computation.
 */
export function vaeConfigFromDiffusersJson(json: Readonly<Record<string, unknown>>, file: string): VAEConfig {
  const r = new FieldReader(json, file);
  const className = json._class_name;
  if (className !== undefined && className !== 'AutoencoderKL') {
    throw new CheckpointError(file, `is a ${show(className)} config; only AutoencoderKL is supported`, 'Point loadVAE at an AutoencoderKL folder (SD 1.x/2.x, SDXL, FLUX VAEs).');
  }
  const unknown = Object.keys(json).filter((k) => !k.startsWith('_') && !(k in DEFAULTS));
  if (unknown.length) {
    throw new CheckpointError(file, `has config fields this AutoencoderKL implementation does not know: ${unknown.join(', ')}`, 'They may change the computation, so the model is not loaded.');
  }
  const act = json.act_fn ?? DEFAULTS.act_fn;
  if (typeof act !== 'string' || !SILU_NAMES.includes(act)) r.fail('act_fn', `is ${show(act)}; only "silu" (alias "swish") is supported`);

  const blockOutChannels = r.positiveIntList('block_out_channels');
  const down = r.stringList('down_block_types', DOWN_BLOCK_TYPE);
  const up = r.stringList('up_block_types', UP_BLOCK_TYPE);
  for (const [field, list] of [['down_block_types', down], ['up_block_types', up]] as const) {
    if (list.length !== blockOutChannels.length) {
      r.fail(field, `has ${list.length} entries but block_out_channels has ${blockOutChannels.length}; AutoencoderKL needs one block per level`);
    }
  }
  const normNumGroups = r.positiveInt('norm_num_groups');
  const indivisible = blockOutChannels.filter((ch) => ch % normNumGroups !== 0);
  if (indivisible.length) r.fail('norm_num_groups', `is ${normNumGroups}, which does not divide block_out_channels entries ${indivisible.join(', ')}`);

  const latentChannels = r.positiveInt('latent_channels');
  const scalingFactor = r.finite('scaling_factor');
  if (scalingFactor <= 0) r.fail('scaling_factor', `is ${scalingFactor}; expected a positive number`);
  return {
    inChannels: r.positiveInt('in_channels'),
    outChannels: r.positiveInt('out_channels'),
    latentChannels,
    blockOutChannels,
    layersPerBlock: r.positiveInt('layers_per_block'),
    normNumGroups,
    midBlockAddAttention: r.bool('mid_block_add_attention'),
    useQuantConv: r.bool('use_quant_conv'),
    usePostQuantConv: r.bool('use_post_quant_conv'),
    scalingFactor,
    shiftFactor: r.finite('shift_factor', true) ?? 0,
    latentsMean: r.numberListOrNull('latents_mean', latentChannels),
    latentsStd: r.numberListOrNull('latents_std', latentChannels),
    sampleSize: sampleSize(r, json.sample_size ?? DEFAULTS.sample_size),
    forceUpcast: r.bool('force_upcast'),
  };
}

function sampleSize(r: FieldReader, v: unknown): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0], v[1]];
  return r.fail('sample_size', `is ${show(v)}; expected a positive integer or [height, width]`);
}
