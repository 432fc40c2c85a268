// The LDM/CompVis key layout of AutoencoderKL, in which Black Forest Labs ship the FLUX.1 VAE (ae.safetensors)
// and Stability shipped the original Stable Diffusion VAE: encoder.down.{i}.block.{j}, mid.block_1/attn_1/
// block_2, norm_out, nin_shortcut, attention q/k/v/proj_out as 1×1 convs, and decoder.up.{i} numbered
// shallowest-first (diffusers' up_blocks run deepest-first). This module recognises the layout, infers the
// config a config.json would give when there is none, and renames the tensors to diffusers' keys, so the
// rest of the VAE code sees one layout.
import path from 'node:path';
import { CheckpointError } from '../../io/errors.js';
import { StTensor, toFloat32 } from '../../io/safetensors.js';
import { VAEConfig } from './config.js';
import { vaeParameterShapes } from './architecture.js';
import { vaeConfigSummary } from './weights.js';

/** Where a whole LDM checkpoint (SD 1.x/2.x model.ckpt / .safetensors) keeps its VAE; diffusers strips it the same way. */
export const LDM_EMBEDDED_PREFIX = 'first_stage_model.';

/** Module paths that exist only in the LDM layout, and only in diffusers'; conv_in, conv_out and the quant convs share names. */
const LDM_ONLY_KEY = /^(?:encoder|decoder)\.(?:(?:down|up)\.\d+\.|mid\.|norm_out\.)/;
const DIFFUSERS_ONLY_KEY = /^(?:encoder|decoder)\.(?:down_blocks|up_blocks|mid_block|conv_norm_out)\./;

/**
 * GroupNorm groups of every LDM VAE: the LDM code (`Normalize`) and BFL's autoencoder.py hard-code 32, so
 * the file cannot say otherwise.
 */
const LDM_NORM_GROUPS = 32;

/** What a config.json would add to the shapes: the diffusion-space scaling and the training image size. */
type Scaling = Pick<VAEConfig, 'scalingFactor' | 'shiftFactor' | 'sampleSize'>;

/**
 * BFL's AutoEncoderParams for FLUX.1 dev/schnell/krea (src/flux/util.py): scale_factor 0.3611, shift_factor
 * 0.1159. They live in Python, not in ae.safetensors, so a file of that layout gets them here. sample_size is
 * diffusers' FLUX.1 vae/config.json value (BFL's `resolution` 256 is not used by the computation either).
 */
const FLUX1_AE: Scaling = { scalingFactor: 0.3611, shiftFactor: 0.1159, sampleSize: [1024, 1024] };
/**
 * The SD 1.x/2.x first-stage model: scale_factor 0.18215 in the LDM configs, which diffusers also assumes for
 * an LDM VAE file without a config (LDM_VAE_DEFAULT_SCALING_FACTOR); 512 px training images.
 */
const SD_VAE: Scaling = { scalingFactor: 0.18215, shiftFactor: 0, sampleSize: [512, 512] };

/** The VAE tensors of an LDM-layout file. */
export interface LdmTensors {
  /** By LDM key, without LDM_EMBEDDED_PREFIX. */
  readonly tensors: ReadonlyMap<string, StTensor>;
  /** True when they came from under LDM_EMBEDDED_PREFIX in a whole checkpoint. */
  readonly embedded: boolean;
  /** The checkpoint's other keys (the UNet's, the text encoder's) when embedded; empty otherwise. */
  readonly hostKeys: readonly string[];
}

/**
 * The LDM-layout VAE tensors of a checkpoint, or undefined when it holds no LDM-only key (a diffusers
 * file). Keys under first_stage_model. are the VAE of a whole checkpoint and the rest is ignored. A file
 * holding both layouts' keys is refused, naming one of each: which of the two copies is meant cannot be told.
 */
export function ldmTensorsOf(stored: ReadonlyMap<string, StTensor>, file: string): LdmTensors | undefined {
  const all = [...stored.keys()];
  const embedded = all.some((k) => k.startsWith(LDM_EMBEDDED_PREFIX));
  const prefix = embedded ? LDM_EMBEDDED_PREFIX : '';
  const own = all.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const ldmKey = own.find((k) => LDM_ONLY_KEY.test(k));
  if (ldmKey === undefined) return undefined;
  const diffusersKey = own.find((k) => DIFFUSERS_ONLY_KEY.test(k));
  if (diffusersKey !== undefined) {
    throw new CheckpointError(
      file,
      `mixes two key layouts: ${prefix}${ldmKey} is in the LDM/BFL layout, ${prefix}${diffusersKey} in diffusers' AutoencoderKL layout`,
      'A VAE file holds one layout; re-export it from a single source (diffusers save_pretrained, or the original ae.safetensors / SD VAE file).',
    );
  }
  return {
    tensors: new Map(own.map((k) => [k, stored.get(prefix + k)!] as const)),
    embedded,
    hostKeys: embedded ? all.filter((k) => !k.startsWith(prefix)) : [],
  };
}

/** The LDM key of a diffusers AutoencoderKL parameter, for a model of `levels` resolution levels. */
export function ldmKeyOf(diffusersKey: string, levels: number): string {
  const shortcut = (leaf: string): string => leaf.replace(/^conv_shortcut\./, 'nin_shortcut.');
  // diffusers' up_blocks.0 is the deepest level; LDM's decoder.up is indexed like the encoder's down.
  const upIndex = (i: string): number => levels - 1 - Number(i);
  let m: RegExpExecArray | null;
  if ((m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(diffusersKey))) return `encoder.down.${m[1]}.block.${m[2]}.${shortcut(m[3])}`;
  if ((m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(diffusersKey))) return `encoder.down.${m[1]}.downsample.conv.${m[2]}`;
  if ((m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(diffusersKey))) return `decoder.up.${upIndex(m[1])}.block.${m[2]}.${shortcut(m[3])}`;
  if ((m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(diffusersKey))) return `decoder.up.${upIndex(m[1])}.upsample.conv.${m[2]}`;
  if ((m = /^(encoder|decoder)\.mid_block\.resnets\.([01])\.(.+)$/.exec(diffusersKey))) return `${m[1]}.mid.block_${Number(m[2]) + 1}.${shortcut(m[3])}`;
  if ((m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(diffusersKey))) {
    return `${m[1]}.mid.attn_1.${ATTENTION_NAMES[m[2]]}.${m[3]}`;
  }
  if ((m = /^(encoder|decoder)\.conv_norm_out\.(weight|bias)$/.exec(diffusersKey))) return `${m[1]}.norm_out.${m[2]}`;
  return diffusersKey; // conv_in, conv_out, quant_conv, post_quant_conv
}

const ATTENTION_NAMES: Readonly<Record<string, string>> = { group_norm: 'norm', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out' };

/** The mid-block attention's projections are 1×1 convs [C, C, 1, 1] in LDM; diffusers stores Linear [C, C] (same values in the same order). */
const ATTENTION_PROJECTION_WEIGHT = /\.mid_block\.attentions\.0\.(?:to_q|to_k|to_v|to_out\.0)\.weight$/;

/** Every parameter of a config: diffusers key → its LDM key and LDM shape, in diffusers' module order. */
export function ldmLayout(c: VAEConfig): Map<string, { key: string; shape: number[] }> {
  const levels = c.blockOutChannels.length;
  return new Map(
    [...vaeParameterShapes(c)].map(([key, shape]) => [key, { key: ldmKeyOf(key, levels), shape: ATTENTION_PROJECTION_WEIGHT.test(key) ? [...shape, 1, 1] : shape }] as const),
  );
}

/**
 * The config of an LDM-layout VAE file without config.json, read off its shapes: levels and their channels
 * from encoder.down.{i}.block.0.conv1, resnets per level from encoder.down.0, image and latent channels from
 * conv_in / conv_out, the quant convs and mid attention from their presence. Everything else is then checked
 * key by key (ldmVAEWeights), so an inconsistent file is refused there. The diffusion-space scaling is not in
 * the file: it is FLUX.1's for the layout only BFL's ae.safetensors has, SD's for the SD VAE, else refused.
 */
export function ldmVAEConfig(ldm: LdmTensors, file: string): VAEConfig {
  const hint = 'Use the complete file (BFL ae.safetensors, or the SD VAE), or put its diffusers AutoencoderKL config.json beside it.';
  const dim = (key: string, axis: number, what: string): number => {
    const shape = ldm.tensors.get(key)?.shape;
    if (!shape || shape.length !== 4) {
      throw new CheckpointError(file, `has no config.json, and ${what} cannot be inferred: ${key} is ${shape ? `[${shape.join(', ')}], expected a 4-D conv weight` : 'missing'}`, hint);
    }
    return shape[axis];
  };
  const indices = (pattern: RegExp): number[] => [...new Set([...ldm.tensors.keys()].map((k) => pattern.exec(k)?.[1]).filter((i) => i !== undefined).map(Number))].sort((a, b) => a - b);

  const levels = indices(/^encoder\.down\.(\d+)\./);
  if (levels.length === 0) dim('encoder.down.0.block.0.conv1.weight', 0, 'block_out_channels'); // throws, naming the key
  if (levels.some((l, i) => l !== i)) {
    throw new CheckpointError(file, `has encoder levels encoder.down.{${levels.join(', ')}}; expected 0 … ${levels.length - 1} without gaps`, hint);
  }
  const blockOutChannels = levels.map((i) => dim(`encoder.down.${i}.block.0.conv1.weight`, 0, 'block_out_channels'));
  const notDivisible = blockOutChannels.filter((ch) => ch % LDM_NORM_GROUPS !== 0);
  if (notDivisible.length) {
    throw new CheckpointError(file, `has level channels [${blockOutChannels.join(', ')}] (encoder.down.{i}.block.0.conv1.weight); ${notDivisible.join(', ')} not divisible by the ${LDM_NORM_GROUPS} GroupNorm groups every LDM VAE uses`, hint);
  }
  const useQuantConv = ldm.tensors.has('quant_conv.weight') || ldm.tensors.has('quant_conv.bias');
  const usePostQuantConv = ldm.tensors.has('post_quant_conv.weight') || ldm.tensors.has('post_quant_conv.bias');
  const latentChannels = dim('decoder.conv_in.weight', 1, 'latent_channels');
  return {
    inChannels: dim('encoder.conv_in.weight', 1, 'in_channels'),
    outChannels: dim('decoder.conv_out.weight', 0, 'out_channels'),
    latentChannels,
    blockOutChannels,
    layersPerBlock: indices(/^encoder\.down\.0\.block\.(\d+)\./).length, // ≥ 1: down.0.block.0 was read above
    normNumGroups: LDM_NORM_GROUPS,
    midBlockAddAttention: [...ldm.tensors.keys()].some((k) => /^(?:encoder|decoder)\.mid\.attn_1\./.test(k)),
    useQuantConv,
    usePostQuantConv,
    ...diffusionScaling(ldm, file, latentChannels, useQuantConv, usePostQuantConv),
    latentsMean: null,
    latentsStd: null,
    forceUpcast: true, // diffusers' default and both models' configs; we compute in float32 anyway
  };
}

/** scaling_factor, shift_factor and sample_size of the two known LDM VAEs, told apart by their latent layout. */
function diffusionScaling(ldm: LdmTensors, file: string, latentChannels: number, quant: boolean, postQuant: boolean): Scaling {
  const hint = `Put the model's diffusers AutoencoderKL config.json beside ${path.basename(file)} (or load the model's vae/ folder) so its scaling_factor and shift_factor are known.`;
  // 16 latent channels without quant convs are FLUX.1's ae and also SD3's VAE (other factors); SD3's comes in
  // the LDM layout inside whole SD3 checkpoints (under first_stage_model.), so a bare file is taken as FLUX.1's.
  if (latentChannels === 16 && !quant && !postQuant) {
    if (!ldm.embedded) return FLUX1_AE;
    throw new CheckpointError(file, `holds, under ${LDM_EMBEDDED_PREFIX}, a VAE with 16 latent channels and no quant convs (an SD3-family checkpoint?), whose diffusion-space scaling is not FLUX.1's`, hint);
  }
  if (latentChannels === 4 && quant && postQuant) {
    // SDXL's VAE has SD's shapes but scaling_factor 0.13025; inside a whole SDXL checkpoint (conditioner.* text encoders) it can be told apart.
    const sdxl = ldm.hostKeys.find((k) => k.startsWith('conditioner.'));
    if (sdxl === undefined) return SD_VAE;
    throw new CheckpointError(file, `is an SDXL-family checkpoint (it holds ${sdxl}), whose VAE is scaled differently from SD 1.x/2.x (0.18215)`, hint);
  }
  throw new CheckpointError(
    file,
    `has no config.json and an LDM-layout VAE with ${latentChannels} latent channels, ${quant ? 'a' : 'no'} quant_conv and ${postQuant ? 'a' : 'no'} post_quant_conv, which is neither FLUX.1's ae (16, none) nor the SD VAE (4, both): its scaling is unknown`,
    hint,
  );
}

const MAX_LISTED = 40;

/**
 * The weights under diffusers' keys as float32, after checking every LDM key and shape the config implies;
 * an error lists the missing, misshapen and unexpected keys under their names in the file.
 * `configFile` is the config.json the config came from, or undefined when it was inferred.
 */
export function ldmVAEWeights(file: string, ldm: LdmTensors, c: VAEConfig, configFile: string | undefined): Map<string, Float32Array> {
  const layout = ldmLayout(c);
  const prefix = ldm.embedded ? LDM_EMBEDDED_PREFIX : '';
  const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
  const problems: string[] = [];
  for (const { key, shape } of layout.values()) {
    const t = ldm.tensors.get(key);
    if (!t) problems.push(`missing ${prefix}${key} ${fmt(shape)}`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) problems.push(`${prefix}${key}: expected ${fmt(shape)}, found ${fmt(t.shape)}`);
  }
  const expected = new Set([...layout.values()].map((l) => l.key));
  for (const [key, t] of ldm.tensors) if (!expected.has(key)) problems.push(`unexpected ${prefix}${key} ${fmt(t.shape)}`);
  if (problems.length) {
    const shown = problems.length > MAX_LISTED ? [...problems.slice(0, MAX_LISTED), `… and ${problems.length - MAX_LISTED} more`] : problems;
    const hint = configFile
      ? `Check that ${configFile} (${vaeConfigSummary(c)}) belongs to these weights.`
      : `The config was inferred from the shapes (${vaeConfigSummary(c)}); a complete file of that layout has none of these problems: re-download it, or put its diffusers config.json beside it.`;
    throw new CheckpointError(file, `does not match an LDM-layout AutoencoderKL (${problems.length} problem${problems.length > 1 ? 's' : ''})`, `${hint}\n  ${shown.join('\n  ')}`);
  }
  return new Map([...layout].map(([diffusersKey, { key }]) => [diffusersKey, toFloat32(ldm.tensors.get(key)!, file, prefix + key)] as const));
}
