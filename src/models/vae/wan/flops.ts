// Nominal FLOPs of one Wan VAE decoder chunk as diffusers computes it: 2 × multiply-adds of every
// convolution (causal 3×3×3, 1×1×1, the upsamplers' time_conv and 3×3 conv) and of the mid-block
// attention's products. Norms, activations, softmax and resampling are not counted. The unit of the
// benchmark's "effective GFLOP/s" (same convention as ../flops.ts for the image VAE).
import { WanVAEConfig, wanTemporalFactor } from './config.js';
import { WanResnetSpec, wanDecoderPlan, wanHasShortcut } from './architecture.js';

export interface WanChunkFlops {
  /** 2·MACs of all convolutions. */
  readonly conv: number;
  /** The part of `conv` in the upsamplers' 3×3 convs after the ×2 upsample; UpsampleConv runs 4/9 of it. */
  readonly upsamplerConv: number;
  /** 2·MACs of the mid-block attention: projections 4·N·C², QKᵀ and PV 2·N²·C per frame (N = h·w). */
  readonly attention: number;
  readonly total: number;
}

/** One decoder chunk (one latent frame) at latent size h × w; `first` = the chunk whose frame is not doubled. */
export function wanDecoderChunkFlops(c: WanVAEConfig, h: number, w: number, first: boolean): WanChunkFlops {
  const plan = wanDecoderPlan(c);
  let conv = 0;
  let upsamplerConv = 0;
  let attention = 0;
  let [frames, hh, ww] = [1, h, w];
  const addConv = (out: number, inCh: number, kernelVolume: number, outFrames: number, outH: number, outW: number): number => {
    const f = 2 * out * inCh * kernelVolume * outFrames * outH * outW;
    conv += f;
    return f;
  };
  const resnet = (r: WanResnetSpec): void => {
    addConv(r.outChannels, r.inChannels, 27, frames, hh, ww);
    addConv(r.outChannels, r.outChannels, 27, frames, hh, ww);
    if (wanHasShortcut(r)) addConv(r.outChannels, r.inChannels, 1, frames, hh, ww);
  };
  addConv(c.zDim, c.zDim, 1, 1, h, w); // post_quant_conv
  addConv(plan.convInChannels, c.zDim, 27, 1, h, w);
  resnet(plan.mid.resnets[0]);
  const [n, ch] = [hh * ww, plan.mid.channels];
  attention += frames * 2 * (4 * n * ch * ch + 2 * n * n * ch);
  resnet(plan.mid.resnets[1]);
  for (const level of plan.levels) {
    level.resnets.forEach(resnet);
    const up = level.upsampler;
    if (!up) continue;
    if (up.mode === 'upsample3d' && !first) {
      addConv(2 * up.channels, up.channels, 3, frames, hh, ww);
      frames *= 2;
    }
    [hh, ww] = [2 * hh, 2 * ww];
    upsamplerConv += addConv(up.outChannels, up.channels, 9, frames, hh, ww);
  }
  addConv(plan.outChannels, plan.headChannels, 27, frames, hh, ww);
  if (frames !== (first ? 1 : wanTemporalFactor(c))) throw new Error(`wanDecoderChunkFlops: counted ${frames} frames for a ${first ? 'first' : 'later'} chunk`);
  return { conv, upsamplerConv, attention, total: conv + attention };
}
