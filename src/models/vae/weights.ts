// Turns the tensors of an AutoencoderKL checkpoint into the weight map the graphs use: old diffusers
// attention names renamed as diffusers does on load, then every key and shape checked against the
// config at once, so one error lists every problem with the file.
import { CheckpointError } from '../../io/errors.js';
import { StTensor, toFloat32 } from '../../io/safetensors.js';
import { VAEConfig } from './config.js';
import { vaeParameterShapes } from './architecture.js';

/** diffusers < 0.14 saved the mid-block attention as query/key/value/proj_attn (still in sd-vae-ft-* files). */
const LEGACY_ATTENTION_NAMES: Readonly<Record<string, string>> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };
const LEGACY_ATTENTION_KEY = /^((?:encoder|decoder)\.mid_block\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/;

/** Renames legacy attention keys to the current ones (a key present in both spellings is a problem). */
export function renameLegacyAttentionKeys(tensors: ReadonlyMap<string, StTensor>, file: string): Map<string, StTensor> {
  const out = new Map<string, StTensor>();
  for (const [key, t] of tensors) {
    const m = LEGACY_ATTENTION_KEY.exec(key);
    const name = m ? `${m[1]}.${LEGACY_ATTENTION_NAMES[m[2]]}.${m[3]}` : key;
    if (out.has(name) || (m && tensors.has(name))) {
      throw new CheckpointError(file, `holds ${name} twice (once under its legacy name ${key})`, 'Keep one of the two spellings.');
    }
    out.set(name, t);
  }
  return out;
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The config fields that decide which keys and shapes a checkpoint must hold, for messages. */
export function vaeConfigSummary(c: VAEConfig): string {
  return (
    `block_out_channels ${fmt(c.blockOutChannels)}, layers_per_block ${c.layersPerBlock}, latent_channels ${c.latentChannels}, ` +
    `use_quant_conv ${c.useQuantConv}, use_post_quant_conv ${c.usePostQuantConv}, mid_block_add_attention ${c.midBlockAddAttention}`
  );
}

/** Every parameter the config needs, as float32, or a CheckpointError listing all missing, extra and misshapen keys. */
export function checkVAEWeights(file: string, stored: ReadonlyMap<string, StTensor>, c: VAEConfig): Map<string, Float32Array> {
  return checkedFloatWeights(file, renameLegacyAttentionKeys(stored, file), vaeParameterShapes(c), 'AutoencoderKL', vaeConfigSummary(c));
}

/**
 * The tensors `expected` names, as float32, when every key is there with exactly its shape and nothing else is;
 * otherwise a CheckpointError listing every missing, misshapen and unexpected key against the `className`
 * config described by `configSummary`. Shared by the image and the video VAE.
 */
export function checkedFloatWeights(file: string, tensors: ReadonlyMap<string, StTensor>, expected: ReadonlyMap<string, readonly number[]>, className: string, configSummary: string): Map<string, Float32Array> {
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    const t = tensors.get(key);
    if (!t) problems.push(`missing ${key} ${fmt(shape)}`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) problems.push(`${key}: expected ${fmt(shape)}, found ${fmt(t.shape)}`);
  }
  for (const key of tensors.keys()) if (!expected.has(key)) problems.push(`unexpected ${key} ${fmt(tensors.get(key)!.shape)}`);
  if (problems.length) {
    throw new CheckpointError(
      file,
      `does not match its ${className} config (${problems.length} problem${problems.length > 1 ? 's' : ''})`,
      `Check that config.json (${configSummary}) belongs to these weights:\n  ${problems.join('\n  ')}`,
    );
  }
  return new Map([...expected.keys()].map((key) => [key, toFloat32(tensors.get(key)!, file, key)] as const));
}
