// Classifier-free guidance and the learned-σ split of DiT-style outputs ([B, 2C, H, W] = ε ‖ variance):
// DiT guides only the ε channels, and DDIM ignores the variance channels.
import { DiffusionShapeError } from './errors.js';

export type Shape4 = readonly [number, number, number, number];

/** uncond + scale·(cond − uncond), element-wise; scale 1 returns cond. */
export function applyGuidance(outCond: Float32Array, outUncond: Float32Array, scale: number): Float32Array {
  if (outCond.length !== outUncond.length) {
    throw new DiffusionShapeError(`applyGuidance: cond has ${outCond.length} values, uncond ${outUncond.length}; they must match`);
  }
  if (!Number.isFinite(scale)) throw new DiffusionShapeError(`applyGuidance: scale must be finite, got ${scale}`);
  const out = new Float32Array(outCond.length);
  for (let i = 0; i < out.length; i++) out[i] = outUncond[i]! + scale * (outCond[i]! - outUncond[i]!);
  return out;
}

function checkShape4(what: string, data: Float32Array, shape: Shape4): void {
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new DiffusionShapeError(`${what}: shape must be 4 positive integers [B, C, H, W], got [${shape.join(', ')}]`);
  }
  const size = shape[0] * shape[1] * shape[2] * shape[3];
  if (size !== data.length) {
    throw new DiffusionShapeError(`${what}: shape [${shape.join(', ')}] holds ${size} values, array has ${data.length}`);
  }
}

/** Copy channels [from, to) of every sample: [B, C, H, W] → [B, to − from, H, W]. */
function sliceChannels(data: Float32Array, shape: Shape4, from: number, to: number): Float32Array {
  const [batch, channels, height, width] = shape;
  const plane = height * width;
  const out = new Float32Array(batch * (to - from) * plane);
  for (let b = 0; b < batch; b++) {
    out.set(data.subarray((b * channels + from) * plane, (b * channels + to) * plane), b * (to - from) * plane);
  }
  return out;
}

export interface LearnedSigmaSplit {
  eps: Float32Array; // [B, C, H, W]
  varianceChannels: Float32Array; // [B, C, H, W]
  epsShape: Shape4;
}

/** Split a learn_sigma output [B, 2C, H, W] into ε (first C channels) and the variance channels. */
export function splitLearnedSigma(out: Float32Array, shape: Shape4): LearnedSigmaSplit {
  checkShape4('splitLearnedSigma', out, shape);
  const [batch, twoC, height, width] = shape;
  if (twoC % 2 !== 0) {
    throw new DiffusionShapeError(`splitLearnedSigma: channel count ${twoC} of [${shape.join(', ')}] is odd; a learn_sigma output has 2C channels`);
  }
  const c = twoC / 2;
  return { eps: sliceChannels(out, shape, 0, c), varianceChannels: sliceChannels(out, shape, c, twoC), epsShape: [batch, c, height, width] };
}

/** Just the ε channels of a learn_sigma output: [B, 2C, H, W] → [B, C, H, W]. */
export function epsChannels(out: Float32Array, shape: Shape4): Float32Array {
  return splitLearnedSigma(out, shape).eps;
}

/**
 * Guidance on the first `channels` channels only, the rest copied from cond. DiT's forward_with_cfg does
 * this with channels = 3 of its 8 (a quirk kept for reproducing its published samples).
 */
export function guideLeadingChannels(outCond: Float32Array, outUncond: Float32Array, scale: number, shape: Shape4, channels: number): Float32Array {
  checkShape4('guideLeadingChannels cond', outCond, shape);
  checkShape4('guideLeadingChannels uncond', outUncond, shape);
  const [batch, allChannels, height, width] = shape;
  if (!Number.isInteger(channels) || channels < 0 || channels > allChannels) {
    throw new DiffusionShapeError(`guideLeadingChannels: channels must be an integer in [0, ${allChannels}], got ${channels}`);
  }
  const out = applyGuidance(outCond, outUncond, scale);
  const plane = height * width;
  for (let b = 0; b < batch; b++) {
    const from = (b * allChannels + channels) * plane;
    out.set(outCond.subarray(from, (b + 1) * allChannels * plane), from);
  }
  return out;
}
