// The AutoencoderKL layout derived from a config, in diffusers' state-dict key names: which resnets,
// attention and resampling convs each level has, with their channels. The parameter table, the graph
// builder and the FLOP count all walk this one plan, so they cannot disagree about the architecture.
import { VAEConfig } from './config.js';

/** One ResnetBlock2D: `key` is its state-dict prefix, e.g. "decoder.up_blocks.1.resnets.0". */
export interface ResnetSpec {
  readonly key: string;
  readonly inChannels: number;
  readonly outChannels: number;
}

/** One encoder down block or decoder up block. */
export interface LevelSpec {
  readonly key: string;
  readonly resnets: readonly ResnetSpec[];
  /** Key of the stride-2 conv (encoder) or the conv after the ×2 upsample (decoder); absent on the last level. */
  readonly resampleConv?: string;
  /** Channels of the level's output. */
  readonly channels: number;
}

/** UNetMidBlock2D: resnet, optional single-head self-attention, resnet — all at `channels`. */
export interface MidSpec {
  readonly key: string;
  readonly channels: number;
  readonly resnets: readonly [ResnetSpec, ResnetSpec];
  /** State-dict prefix of the attention, when the config has one. */
  readonly attention?: string;
}

export function midBlock(c: VAEConfig, part: 'encoder' | 'decoder'): MidSpec {
  const ch = c.blockOutChannels[c.blockOutChannels.length - 1];
  const key = `${part}.mid_block`;
  const resnet = (i: number): ResnetSpec => ({ key: `${key}.resnets.${i}`, inChannels: ch, outChannels: ch });
  return { key, channels: ch, resnets: [resnet(0), resnet(1)], attention: c.midBlockAddAttention ? `${key}.attentions.0` : undefined };
}

/** Encoder down blocks, shallowest first: layers_per_block resnets, then a stride-2 conv except on the last. */
export function encoderLevels(c: VAEConfig): LevelSpec[] {
  const n = c.blockOutChannels.length;
  let prev = c.blockOutChannels[0];
  return c.blockOutChannels.map((out, i) => {
    const key = `encoder.down_blocks.${i}`;
    const resnets = Array.from({ length: c.layersPerBlock }, (_, j): ResnetSpec => ({ key: `${key}.resnets.${j}`, inChannels: j === 0 ? prev : out, outChannels: out }));
    prev = out;
    return { key, resnets, resampleConv: i < n - 1 ? `${key}.downsamplers.0.conv` : undefined, channels: out };
  });
}

/** Decoder up blocks, deepest first: layers_per_block + 1 resnets, then ×2 upsample + conv except on the last. */
export function decoderLevels(c: VAEConfig): LevelSpec[] {
  const reversed = [...c.blockOutChannels].reverse();
  let prev = reversed[0];
  return reversed.map((out, i) => {
    const key = `decoder.up_blocks.${i}`;
    const resnets = Array.from({ length: c.layersPerBlock + 1 }, (_, j): ResnetSpec => ({ key: `${key}.resnets.${j}`, inChannels: j === 0 ? prev : out, outChannels: out }));
    prev = out;
    return { key, resnets, resampleConv: i < reversed.length - 1 ? `${key}.upsamplers.0.conv` : undefined, channels: out };
  });
}

/** A resnet needs a 1×1 conv_shortcut when it changes the channel count. */
export function hasShortcut(r: ResnetSpec): boolean {
  return r.inChannels !== r.outChannels;
}

/** Every parameter of the model with its PyTorch shape, in diffusers' module order. */
export function vaeParameterShapes(c: VAEConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv = (key: string, out: number, inCh: number, k: number): void => {
    m.set(`${key}.weight`, [out, inCh, k, k]);
    m.set(`${key}.bias`, [out]);
  };
  const norm = (key: string, ch: number): void => {
    m.set(`${key}.weight`, [ch]);
    m.set(`${key}.bias`, [ch]);
  };
  const resnet = (r: ResnetSpec): void => {
    norm(`${r.key}.norm1`, r.inChannels);
    conv(`${r.key}.conv1`, r.outChannels, r.inChannels, 3);
    norm(`${r.key}.norm2`, r.outChannels);
    conv(`${r.key}.conv2`, r.outChannels, r.outChannels, 3);
    if (hasShortcut(r)) conv(`${r.key}.conv_shortcut`, r.outChannels, r.inChannels, 1);
  };
  const mid = (s: MidSpec): void => {
    resnet(s.resnets[0]);
    if (s.attention) {
      norm(`${s.attention}.group_norm`, s.channels);
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        m.set(`${s.attention}.${p}.weight`, [s.channels, s.channels]);
        m.set(`${s.attention}.${p}.bias`, [s.channels]);
      }
    }
    resnet(s.resnets[1]);
  };
  const levels = (ls: LevelSpec[]): void => {
    for (const l of ls) {
      l.resnets.forEach(resnet);
      if (l.resampleConv) conv(l.resampleConv, l.channels, l.channels, 3);
    }
  };
  const bo = c.blockOutChannels;
  const deepest = bo[bo.length - 1];
  conv('encoder.conv_in', bo[0], c.inChannels, 3);
  levels(encoderLevels(c));
  mid(midBlock(c, 'encoder'));
  norm('encoder.conv_norm_out', deepest);
  conv('encoder.conv_out', 2 * c.latentChannels, deepest, 3);

  conv('decoder.conv_in', deepest, c.latentChannels, 3);
  mid(midBlock(c, 'decoder'));
  levels(decoderLevels(c));
  norm('decoder.conv_norm_out', bo[0]);
  conv('decoder.conv_out', c.outChannels, bo[0], 3);

  if (c.useQuantConv) conv('quant_conv', 2 * c.latentChannels, 2 * c.latentChannels, 1);
  if (c.usePostQuantConv) conv('post_quant_conv', c.latentChannels, c.latentChannels, 1);
  return m;
}
