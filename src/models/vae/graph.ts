// The AutoencoderKL encoder and decoder written with the graph DSL, one function per diffusers module
// (ResnetBlock2D, the mid block's single-head attention, up/down blocks). A graph is built for one
// spatial size (Conv needs known H, W) and any batch B; its weights are embedded as initializers.
import { GraphBuilder } from '../../graph/builder.js';
import { Graph, Value } from '../../graph/ir.js';
import { GROUP_NORM_EPS, VAEConfig, downscaleFactor } from './config.js';
import { LevelSpec, MidSpec, ResnetSpec, decoderLevels, encoderLevels, hasShortcut, midBlock } from './architecture.js';

/** Weights by diffusers state-dict key, PyTorch layouts (conv [O, I, kH, kW], linear [out, in]). */
export type VAEWeights = ReadonlyMap<string, Float32Array>;

/** Creates the graph parameter for a key with its PyTorch shape. */
type ParamSource = (key: string, shape: readonly number[]) => Value;

function paramsFrom(g: GraphBuilder, weights: VAEWeights): ParamSource {
  return (key, shape) => {
    const data = weights.get(key);
    // The loader checks every key and shape first; reaching this means the plan and the check disagree.
    if (!data) throw new Error(`VAE graph: weight "${key}" [${shape.join(', ')}] is missing`);
    return g.param(key, shape, data);
  };
}

class VAEGraph {
  constructor(
    readonly g: GraphBuilder,
    readonly P: ParamSource,
    readonly c: VAEConfig,
    readonly separateUpsample = false,
  ) {}

  /** k×k conv with PyTorch Conv2d(padding=k//2) unless pads are given ([top, left, bottom, right]). */
  conv(x: Value, key: string, outCh: number, k: number, opts: { strides?: number[]; pads?: number[] } = {}): Value {
    const inCh = x.shape[1] as number;
    const pad = (k - 1) / 2;
    return this.g.conv(x, this.P(`${key}.weight`, [outCh, inCh, k, k]), this.P(`${key}.bias`, [outCh]), {
      strides: opts.strides ?? [1, 1],
      pads: opts.pads ?? [pad, pad, pad, pad],
    });
  }

  groupNorm(x: Value, key: string): Value {
    const ch = x.shape[1] as number;
    return this.g.groupNorm(x, this.c.normNumGroups, GROUP_NORM_EPS, this.P(`${key}.weight`, [ch]), this.P(`${key}.bias`, [ch]));
  }

  /** y = x·Wᵀ + b over the last axis of x [rows, in] with a PyTorch Linear weight [out, in]. */
  linear(x: Value, key: string, outF: number): Value {
    const inF = x.shape[x.shape.length - 1] as number;
    return this.g.gemm(x, this.P(`${key}.weight`, [outF, inF]), { transB: 1 }, this.P(`${key}.bias`, [outF]));
  }

  /** ResnetBlock2D without time embedding: x + conv2(SiLU(GN(conv1(SiLU(GN(x)))))), x through a 1×1 conv if channels change. */
  resnet(x: Value, r: ResnetSpec): Value {
    const g = this.g;
    let h = g.silu(this.groupNorm(x, `${r.key}.norm1`));
    h = this.conv(h, `${r.key}.conv1`, r.outChannels, 3);
    h = g.silu(this.groupNorm(h, `${r.key}.norm2`));
    h = this.conv(h, `${r.key}.conv2`, r.outChannels, 3);
    const skip = hasShortcut(r) ? this.conv(x, `${r.key}.conv_shortcut`, r.outChannels, 1) : x;
    return g.add(skip, h); // diffusers divides by output_scale_factor, which is 1 in AutoencoderKL
  }

  /**
   * The mid block's attention: one head of width C over the H·W positions as tokens, after a GroupNorm,
   * plus the residual (rescale_output_factor is 1). x [B, C, H, W] → [B, C, H, W].
   */
  attention(x: Value, key: string): Value {
    const g = this.g;
    const [, ch, h, w] = x.shape as [unknown, number, number, number];
    const tokens = h * w;
    const normed = this.groupNorm(x, `${key}.group_norm`);
    const rows = g.reshape(g.transpose(g.reshape(normed, [-1, ch, tokens]), [0, 2, 1]), [-1, ch]); // [B·T, C]
    const project = (p: string): Value => g.reshape(this.linear(rows, `${key}.${p}`, ch), [-1, tokens, ch]); // [B, T, C]
    const q = g.mul(project('to_q'), g.scalar(1 / Math.sqrt(ch)));
    const scores = g.matmul(q, g.transpose(project('to_k'), [0, 2, 1])); // [B, T, T]
    const mixed = g.matmul(g.softmax(scores, -1), project('to_v')); // [B, T, C]
    const out = this.linear(g.reshape(mixed, [-1, ch]), `${key}.to_out.0`, ch);
    const image = g.reshape(g.transpose(g.reshape(out, [-1, tokens, ch]), [0, 2, 1]), [-1, ch, h, w]);
    return g.add(image, x);
  }

  mid(x: Value, m: MidSpec): Value {
    let y = this.resnet(x, m.resnets[0]);
    if (m.attention) y = this.attention(y, m.attention);
    return this.resnet(y, m.resnets[1]);
  }

  /** DownEncoderBlock2D: resnets, then diffusers' Downsample2D: zero-pad right/bottom by 1, 3×3 stride-2 conv. */
  down(x: Value, l: LevelSpec): Value {
    const y = l.resnets.reduce((acc, r) => this.resnet(acc, r), x);
    return l.resampleConv ? this.conv(y, l.resampleConv, l.channels, 3, { strides: [2, 2], pads: [0, 0, 1, 1] }) : y;
  }

  /**
   * UpDecoderBlock2D: resnets, then Upsample2D: nearest ×2 and a 3×3 conv — as one UpsampleConv, which
   * computes the same function with 4/9 of the conv's multiply-adds (see ops/resize.ts): the SD decoder
   * at 256² took 1440 ms instead of 1626 ms (best of 5, 2 threads; bench/results/vae-2026-12-06.txt).
   */
  up(x: Value, l: LevelSpec): Value {
    const y = l.resnets.reduce((acc, r) => this.resnet(acc, r), x);
    if (!l.resampleConv) return y;
    if (this.separateUpsample) return this.conv(this.g.upsampleNearest(y, 2), l.resampleConv, l.channels, 3);
    const ch = y.shape[1] as number;
    return this.g.upsampleConv(y, this.P(`${l.resampleConv}.weight`, [l.channels, ch, 3, 3]), this.P(`${l.resampleConv}.bias`, [l.channels]));
  }
}

export interface DecoderGraphOptions {
  /**
   * Also output the submodule results the reference golden taps ("tap.decoder.conv_in",
   * "tap.decoder.mid_block", "tap.decoder.up_blocks.{i}", "tap.decoder.conv_norm_out"), for locating a mismatch.
   */
  taps?: boolean;
  /** Upsample then conv as two ops, as diffusers computes them (2.25× the multiply-adds); for comparisons. */
  separateUpsample?: boolean;
}

/**
 * decode without tiling: input "z" [B, latent_channels, latentH, latentW] (raw latent, no scaling),
 * output "sample" [B, out_channels, f·latentH, f·latentW].
 */
export function buildDecoderGraph(c: VAEConfig, weights: VAEWeights, latentH: number, latentW: number, opts: DecoderGraphOptions = {}): Graph {
  const g = new GraphBuilder(`vae_decoder_${latentH}x${latentW}`);
  const m = new VAEGraph(g, paramsFrom(g, weights), c, opts.separateUpsample);
  const tap = (name: string, v: Value): void => {
    if (opts.taps) g.output(`tap.${name}`, v);
  };
  let x = g.input('z', 'float32', ['B', c.latentChannels, latentH, latentW]);
  if (c.usePostQuantConv) x = m.conv(x, 'post_quant_conv', c.latentChannels, 1);
  x = m.conv(x, 'decoder.conv_in', c.blockOutChannels[c.blockOutChannels.length - 1], 3);
  tap('decoder.conv_in', x);
  x = m.mid(x, midBlock(c, 'decoder'));
  tap('decoder.mid_block', x);
  for (const level of decoderLevels(c)) {
    x = m.up(x, level);
    tap(level.key, x);
  }
  x = m.groupNorm(x, 'decoder.conv_norm_out');
  tap('decoder.conv_norm_out', x);
  x = m.conv(g.silu(x), 'decoder.conv_out', c.outChannels, 3);
  g.output('sample', x);
  return g.build();
}

/**
 * encode to the posterior mean: input "x" [B, in_channels, imageH, imageW] (imageH, imageW multiples of
 * the downscale factor), output "mean" [B, latent_channels, imageH/f, imageW/f] — the first half of the moments.
 */
export function buildEncoderGraph(c: VAEConfig, weights: VAEWeights, imageH: number, imageW: number): Graph {
  const f = downscaleFactor(c);
  if (imageH % f !== 0 || imageW % f !== 0) throw new Error(`VAE encoder graph: ${imageH}×${imageW} is not a multiple of ${f}`);
  const g = new GraphBuilder(`vae_encoder_${imageH}x${imageW}`);
  const m = new VAEGraph(g, paramsFrom(g, weights), c);
  let x = g.input('x', 'float32', ['B', c.inChannels, imageH, imageW]);
  x = m.conv(x, 'encoder.conv_in', c.blockOutChannels[0], 3);
  for (const level of encoderLevels(c)) x = m.down(x, level);
  x = m.mid(x, midBlock(c, 'encoder'));
  x = m.conv(g.silu(m.groupNorm(x, 'encoder.conv_norm_out')), 'encoder.conv_out', 2 * c.latentChannels, 3);
  if (c.useQuantConv) x = m.conv(x, 'quant_conv', 2 * c.latentChannels, 1);
  // The moments are [mean, logvar] along channels; only the mean is returned.
  g.output('mean', g.slice(x, [1], [0], [c.latentChannels]));
  return g.build();
}
