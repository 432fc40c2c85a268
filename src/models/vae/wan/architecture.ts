// The AutoencoderKLWan layout derived from a config, in diffusers' state-dict key names: the encoder's
// flat list of resnets and downsamplers, the decoder's up blocks, the mid blocks, with their channels.
// The parameter table, the chunk graphs and the FLOP count all walk this one plan.
import { WanVAEConfig } from './config.js';

/** One WanResidualBlock: `key` is its state-dict prefix, e.g. "decoder.up_blocks.1.resnets.0". */
export interface WanResnetSpec {
  readonly key: string;
  readonly inChannels: number;
  readonly outChannels: number;
}

export type WanResampleMode = 'upsample2d' | 'upsample3d' | 'downsample2d' | 'downsample3d';

/** One WanResample: a per-frame spatial ×2 up (with a 3×3 conv) or ÷2 down, the *3d modes also in time. */
export interface WanResampleSpec {
  readonly key: string;
  readonly mode: WanResampleMode;
  readonly channels: number;
  /** Channels after the spatial conv: half for the decoder's upsamplers, the same for downsamplers. */
  readonly outChannels: number;
}

export type WanEncoderStep = { readonly kind: 'resnet'; readonly resnet: WanResnetSpec } | { readonly kind: 'resample'; readonly resample: WanResampleSpec };

/** WanMidBlock: resnet, single-head attention per frame, resnet, all at `channels`. */
export interface WanMidSpec {
  readonly key: string;
  readonly channels: number;
  readonly resnets: readonly [WanResnetSpec, WanResnetSpec];
  readonly attention: string;
}

/** One decoder WanUpBlock: num_res_blocks + 1 resnets, then an upsampler except on the last level. */
export interface WanUpLevel {
  readonly key: string;
  readonly resnets: readonly WanResnetSpec[];
  readonly upsampler?: WanResampleSpec;
}

export interface WanEncoderPlan {
  readonly inChannels: number;
  readonly convInChannels: number;
  readonly steps: readonly WanEncoderStep[];
  readonly mid: WanMidSpec;
  /** quant_conv's width: mean and logvar, z_dim each. */
  readonly momentChannels: number;
}

export interface WanDecoderPlan {
  readonly zDim: number;
  readonly convInChannels: number;
  readonly mid: WanMidSpec;
  readonly levels: readonly WanUpLevel[];
  /** Width of the last level (norm_out, conv_out's input). */
  readonly headChannels: number;
  readonly outChannels: number;
}

function midBlock(part: 'encoder' | 'decoder', channels: number): WanMidSpec {
  const key = `${part}.mid_block`;
  const resnet = (i: number): WanResnetSpec => ({ key: `${key}.resnets.${i}`, inChannels: channels, outChannels: channels });
  return { key, channels, resnets: [resnet(0), resnet(1)], attention: `${key}.attentions.0` };
}

export function wanEncoderPlan(c: WanVAEConfig): WanEncoderPlan {
  const dims = [1, ...c.dimMult].map((m) => c.baseDim * m);
  const steps: WanEncoderStep[] = [];
  for (let i = 0; i < c.dimMult.length; i++) {
    let inCh = dims[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      steps.push({ kind: 'resnet', resnet: { key: `encoder.down_blocks.${steps.length}`, inChannels: inCh, outChannels: dims[i + 1] } });
      inCh = dims[i + 1];
    }
    if (i < c.dimMult.length - 1) {
      const mode = c.temporalDownsample[i] ? 'downsample3d' : 'downsample2d';
      steps.push({ kind: 'resample', resample: { key: `encoder.down_blocks.${steps.length}`, mode, channels: dims[i + 1], outChannels: dims[i + 1] } });
    }
  }
  const deepest = dims[dims.length - 1];
  return { inChannels: c.inChannels, convInChannels: dims[0], steps, mid: midBlock('encoder', deepest), momentChannels: 2 * c.zDim };
}

export function wanDecoderPlan(c: WanVAEConfig): WanDecoderPlan {
  const mult = [c.dimMult[c.dimMult.length - 1], ...[...c.dimMult].reverse()];
  const dims = mult.map((m) => c.decoderBaseDim * m);
  const temporalUpsample = [...c.temporalDownsample].reverse();
  const levels: WanUpLevel[] = [];
  for (let i = 0; i < c.dimMult.length; i++) {
    const key = `decoder.up_blocks.${i}`;
    // Every level after the first takes its predecessor's upsampler output, which has half the width.
    let inCh = i === 0 ? dims[0] : dims[i] / 2;
    const out = dims[i + 1];
    const resnets: WanResnetSpec[] = [];
    for (let j = 0; j <= c.numResBlocks; j++) {
      resnets.push({ key: `${key}.resnets.${j}`, inChannels: inCh, outChannels: out });
      inCh = out;
    }
    const upsampler: WanResampleSpec | undefined =
      i < c.dimMult.length - 1 ? { key: `${key}.upsamplers.0`, mode: temporalUpsample[i] ? 'upsample3d' : 'upsample2d', channels: out, outChannels: out / 2 } : undefined;
    levels.push({ key, resnets, upsampler });
  }
  return { zDim: c.zDim, convInChannels: dims[0], mid: midBlock('decoder', dims[0]), levels, headChannels: dims[dims.length - 1], outChannels: c.outChannels };
}

/** A WanResidualBlock needs a 1×1×1 conv_shortcut when it changes the channel count. */
export function wanHasShortcut(r: WanResnetSpec): boolean {
  return r.inChannels !== r.outChannels;
}

/** Every parameter of the model with its PyTorch shape, in diffusers' module order. */
export function wanVAEParameterShapes(c: WanVAEConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv3d = (key: string, out: number, inCh: number, k: readonly [number, number, number]): void => {
    m.set(`${key}.weight`, [out, inCh, ...k]);
    m.set(`${key}.bias`, [out]);
  };
  const cube = (k: number): [number, number, number] => [k, k, k];
  const resnet = (r: WanResnetSpec): void => {
    m.set(`${r.key}.norm1.gamma`, [r.inChannels, 1, 1, 1]);
    conv3d(`${r.key}.conv1`, r.outChannels, r.inChannels, cube(3));
    m.set(`${r.key}.norm2.gamma`, [r.outChannels, 1, 1, 1]);
    conv3d(`${r.key}.conv2`, r.outChannels, r.outChannels, cube(3));
    if (wanHasShortcut(r)) conv3d(`${r.key}.conv_shortcut`, r.outChannels, r.inChannels, cube(1));
  };
  const mid = (s: WanMidSpec): void => {
    resnet(s.resnets[0]);
    m.set(`${s.attention}.norm.gamma`, [s.channels, 1, 1]);
    m.set(`${s.attention}.to_qkv.weight`, [3 * s.channels, s.channels, 1, 1]);
    m.set(`${s.attention}.to_qkv.bias`, [3 * s.channels]);
    m.set(`${s.attention}.proj.weight`, [s.channels, s.channels, 1, 1]);
    m.set(`${s.attention}.proj.bias`, [s.channels]);
    resnet(s.resnets[1]);
  };
  const resample = (r: WanResampleSpec): void => {
    m.set(`${r.key}.resample.1.weight`, [r.outChannels, r.channels, 3, 3]);
    m.set(`${r.key}.resample.1.bias`, [r.outChannels]);
    if (r.mode === 'upsample3d') conv3d(`${r.key}.time_conv`, 2 * r.channels, r.channels, [3, 1, 1]);
    if (r.mode === 'downsample3d') conv3d(`${r.key}.time_conv`, r.channels, r.channels, [3, 1, 1]);
  };

  const enc = wanEncoderPlan(c);
  conv3d('encoder.conv_in', enc.convInChannels, enc.inChannels, cube(3));
  for (const s of enc.steps) {
    if (s.kind === 'resnet') resnet(s.resnet);
    else resample(s.resample);
  }
  mid(enc.mid);
  m.set('encoder.norm_out.gamma', [enc.mid.channels, 1, 1, 1]);
  conv3d('encoder.conv_out', enc.momentChannels, enc.mid.channels, cube(3));

  const dec = wanDecoderPlan(c);
  conv3d('decoder.conv_in', dec.convInChannels, dec.zDim, cube(3));
  mid(dec.mid);
  for (const level of dec.levels) {
    level.resnets.forEach(resnet);
    if (level.upsampler) resample(level.upsampler);
  }
  m.set('decoder.norm_out.gamma', [dec.headChannels, 1, 1, 1]);
  conv3d('decoder.conv_out', dec.outChannels, dec.headChannels, cube(3));

  conv3d('quant_conv', enc.momentChannels, enc.momentChannels, cube(1));
  conv3d('post_quant_conv', c.zDim, c.zDim, cube(1));
  return m;
}
