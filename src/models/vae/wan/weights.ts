// Turns the tensors of an AutoencoderKLWan checkpoint into the weight map the chunk graphs use: every key
// and shape checked against the config at once, so one error lists every problem with the file.
import type { StTensor } from '../../../io/safetensors.js';
import { checkedFloatWeights } from '../weights.js';
import { WanVAEConfig } from './config.js';
import { wanVAEParameterShapes } from './architecture.js';

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The config fields that decide which keys and shapes a checkpoint must hold, for messages. */
function summary(c: WanVAEConfig): string {
  return `base_dim ${c.baseDim}, decoder_base_dim ${c.decoderBaseDim}, z_dim ${c.zDim}, dim_mult ${fmt(c.dimMult)}, num_res_blocks ${c.numResBlocks}, temperal_downsample ${fmt(c.temporalDownsample.map((b) => (b ? 1 : 0)))}`;
}

/** Every parameter the config needs, as float32, or a CheckpointError listing all missing, extra and misshapen keys. */
export function checkWanVAEWeights(file: string, tensors: ReadonlyMap<string, StTensor>, c: WanVAEConfig): Map<string, Float32Array> {
  return checkedFloatWeights(file, tensors, wanVAEParameterShapes(c), 'AutoencoderKLWan', summary(c));
}
