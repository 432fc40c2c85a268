// Turns the tensors of an AutoencoderKLWan checkpoint into the weight map the chunk graphs use: every key
// and shape checked against the config at once, so one error lists every problem with the file.
import { CheckpointError } from '../../../io/errors.js';
import { StTensor, toFloat32 } from '../../../io/safetensors.js';
import { WanVAEConfig } from './config.js';
import { wanVAEParameterShapes } from './architecture.js';

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The config fields that decide which keys and shapes a checkpoint must hold, for messages. */
function summary(c: WanVAEConfig): string {
  return `base_dim ${c.baseDim}, decoder_base_dim ${c.decoderBaseDim}, z_dim ${c.zDim}, dim_mult ${fmt(c.dimMult)}, num_res_blocks ${c.numResBlocks}, temperal_downsample ${fmt(c.temporalDownsample.map((b) => (b ? 1 : 0)))}`;
}

/** Every parameter the config needs, as float32, or a CheckpointError listing all missing, extra and misshapen keys. */
export function checkWanVAEWeights(file: string, tensors: ReadonlyMap<string, StTensor>, c: WanVAEConfig): Map<string, Float32Array> {
  const expected = wanVAEParameterShapes(c);
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
      `does not match its AutoencoderKLWan config (${problems.length} problem${problems.length > 1 ? 's' : ''})`,
      `Check that config.json (${summary(c)}) belongs to these weights:\n  ${problems.join('\n  ')}`,
    );
  }
  return new Map([...expected.keys()].map((key) => [key, toFloat32(tensors.get(key)!, file, key)] as const));
}
