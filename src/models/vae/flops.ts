// Nominal FLOPs of the AutoencoderKL as diffusers writes it: 2 × multiply-adds of every convolution and
// of the attention's matrix products (q/k/v/out projections, QKᵀ, PV). Norms, activations, softmax and
// resampling are not counted. The unit of the benchmark's "effective GFLOP/s".
import { VAEConfig } from './config.js';
import { LevelSpec, MidSpec, ResnetSpec, decoderLevels, encoderLevels, hasShortcut, midBlock } from './architecture.js';

export interface VAEFlops {
  /** 2·MACs of all convolutions. */
  readonly conv: number;
  /**
   * The part of `conv` in the decoder's upsampler convs (3×3 conv after the nearest ×2 upsample). Our
   * UpsampleConv op runs them with 4/9 of these multiply-adds; the nominal count is kept as the unit.
   */
  readonly upsamplerConv: number;
  /** 2·MACs of the mid-block attention: projections 4·T·C², QKᵀ and PV 2·T²·C (T = H·W tokens). */
  readonly attention: number;
  readonly total: number;
}

class Counter {
  conv = 0;
  upsamplerConv = 0;
  attention = 0;

  /** A conv producing outH×outW pixels of outCh channels from inCh channels with a k×k kernel. */
  addConv(outCh: number, inCh: number, k: number, outH: number, outW: number): void {
    this.conv += 2 * outCh * inCh * k * k * outH * outW;
  }

  resnet(r: ResnetSpec, h: number, w: number): void {
    this.addConv(r.outChannels, r.inChannels, 3, h, w);
    this.addConv(r.outChannels, r.outChannels, 3, h, w);
    if (hasShortcut(r)) this.addConv(r.outChannels, r.inChannels, 1, h, w);
  }

  mid(m: MidSpec, h: number, w: number): void {
    this.resnet(m.resnets[0], h, w);
    if (m.attention) {
      const [t, ch] = [h * w, m.channels];
      this.attention += 2 * (4 * t * ch * ch + 2 * t * t * ch);
    }
    this.resnet(m.resnets[1], h, w);
  }

  result(batch: number): VAEFlops {
    return { conv: batch * this.conv, upsamplerConv: batch * this.upsamplerConv, attention: batch * this.attention, total: batch * (this.conv + this.attention) };
  }
}

/** FLOPs of decode(z) for z [batch, latent_channels, latentH, latentW], untiled. */
export function decoderFlops(c: VAEConfig, latentH: number, latentW: number, batch = 1): VAEFlops {
  const n = new Counter();
  let [h, w] = [latentH, latentW];
  const deepest = c.blockOutChannels[c.blockOutChannels.length - 1];
  if (c.usePostQuantConv) n.addConv(c.latentChannels, c.latentChannels, 1, h, w);
  n.addConv(deepest, c.latentChannels, 3, h, w);
  n.mid(midBlock(c, 'decoder'), h, w);
  decoderLevels(c).forEach((l: LevelSpec) => {
    l.resnets.forEach((r) => n.resnet(r, h, w));
    if (l.resampleConv) {
      [h, w] = [2 * h, 2 * w];
      const before = n.conv;
      n.addConv(l.channels, l.channels, 3, h, w);
      n.upsamplerConv += n.conv - before;
    }
  });
  n.addConv(c.outChannels, c.blockOutChannels[0], 3, h, w);
  return n.result(batch);
}

/** FLOPs of encode(x) for x [batch, in_channels, imageH, imageW]. */
export function encoderFlops(c: VAEConfig, imageH: number, imageW: number, batch = 1): VAEFlops {
  const n = new Counter();
  let [h, w] = [imageH, imageW];
  n.addConv(c.blockOutChannels[0], c.inChannels, 3, h, w);
  encoderLevels(c).forEach((l: LevelSpec) => {
    l.resnets.forEach((r) => n.resnet(r, h, w));
    if (l.resampleConv) {
      [h, w] = [h / 2, w / 2];
      n.addConv(l.channels, l.channels, 3, h, w);
    }
  });
  n.mid(midBlock(c, 'encoder'), h, w);
  const deepest = c.blockOutChannels[c.blockOutChannels.length - 1];
  n.addConv(2 * c.latentChannels, deepest, 3, h, w);
  if (c.useQuantConv) n.addConv(2 * c.latentChannels, 2 * c.latentChannels, 1, h, w);
  return n.result(batch);
}
