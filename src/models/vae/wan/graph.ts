// The Wan VAE's encoder and decoder as per-chunk graphs, written with the graph DSL one function per
// diffusers module (WanCausalConv3d, WanRMS_norm, WanResidualBlock, WanAttentionBlock, WanResample).
//
// diffusers runs both halves chunk by chunk (decoder: one latent frame per chunk; encoder: frames [0],
// [1..4], [5..8], …) and carries a feature cache between chunks: for every causal 3×3×3 conv the last two
// frames of its input, for the temporal downsamplers the last frame. Here that cache is explicit graph
// state, one frame per tensor: every graph reads it as inputs "cache.<conv key>.<slot>" [B, C, 1, H, W]
// and outputs the frames it adds as "next.<conv key>.<slot>", which the caller feeds to the next run
// (with the frames that stay, which it moves itself: see ChunkState). Before the first chunk
// every conv's state is zeros (the causal zero padding), and so is a temporal upsampler's at the second
// chunk: the reference skips that time_conv on the first chunk, so its history starts empty there.
//
// Per size: for the encoder and for the decoder's head, a graph for the first chunk (temporal resamplers keep
// its single frame) and one for every later chunk; the decoder's full-resolution tail runs frame by frame
// through one graph. Each is built for one chunk shape and any batch B, weights embedded as initializers.
import { GraphBuilder } from '../../../graph/builder.js';
import { Graph, Value } from '../../../graph/ir.js';
import { WAN_ENCODER_CHUNK_FRAMES, WAN_RMS_EPS, WanVAEConfig, wanSpatialFactor, wanTemporalFactor } from './config.js';
import { WanMidSpec, WanResampleSpec, WanResnetSpec, wanDecoderPlan, wanEncoderPlan, wanHasShortcut } from './architecture.js';

/** Weights by diffusers state-dict key, PyTorch layouts (Conv3d [O, I, kT, kH, kW], Conv2d [O, I, kH, kW]). */
export type WanVAEWeights = ReadonlyMap<string, Float32Array>;

/** Frames of a causal 3×3×3 conv's input kept between chunks (diffusers' CACHE_T). */
export const CAUSAL_HISTORY_FRAMES = 2;

/**
 * One frame of state, [B, C, 1, H, W]: frame <slot> (0 = oldest) of the history kept for one conv.
 * Frames are kept apart so a frame that stays in the history from one run to the next stays where it is
 * (the caller moves it to its new slot) instead of being copied through the graph again.
 */
export interface ChunkState {
  /** "<conv key>.<slot>", the name of its input ("cache.…") and output ("next.…"). */
  readonly key: string;
  /** Its shape without the batch axis: [C, 1, H, W]. */
  readonly shape: readonly number[];
  /** For a state this run does not compute: the key of the state read by this run that becomes it. */
  readonly carriedFrom?: string;
}

export interface ChunkGraph {
  readonly graph: Graph;
  /** State inputs, zeros where no earlier run wrote them. */
  readonly reads: readonly ChunkState[];
  /** The state after this run: outputs "next.<key>", or (carriedFrom) a state this run read. */
  readonly writes: readonly ChunkState[];
  /** Frames the chunk takes (input "z", "features" or "x") and gives ("features", "sample" or "moments"). */
  readonly framesIn: number;
  readonly framesOut: number;
}

export const stateInputName = (key: string): string => `cache.${key}`;
export const stateOutputName = (key: string): string => `next.${key}`;

class WanChunkBuilder {
  readonly reads: ChunkState[] = [];
  readonly writes: ChunkState[] = [];

  constructor(
    readonly g: GraphBuilder,
    private readonly weights: WanVAEWeights,
    /** The first chunk of a decode or encode: temporal resamplers keep its frame as is. */
    readonly first: boolean,
    private readonly tapOutputs: boolean,
  ) {}

  P(key: string, shape: readonly number[]): Value {
    const data = this.weights.get(key);
    // The loader checks every key and shape first; reaching this means the plan and the check disagree.
    if (!data) throw new Error(`Wan VAE graph: weight "${key}" [${shape.join(', ')}] is missing`);
    return this.g.param(key, shape, data);
  }

  tap(name: string, v: Value): void {
    if (this.tapOutputs) this.g.output(`tap.${name}`, v);
  }

  /** The `frames` frames of history kept for the conv at `key`, oldest first, each [B, C, 1, H, W]. */
  private readHistory(key: string, frames: number, [c, h, w]: readonly number[]): Value[] {
    return Array.from({ length: frames }, (_, j) => {
      const state = { key: `${key}.${j}`, shape: [c, 1, h, w] };
      this.reads.push(state);
      return this.g.input(stateInputName(state.key), 'float32', ['B', ...state.shape]);
    });
  }

  /**
   * Writes the history of the conv at `key` after a run: the last `frames` frames of [history, x]. Those
   * of x become outputs; those still in the history are carried over by the caller.
   */
  private writeHistory(key: string, frames: number, historyFrames: number, x: Value): void {
    const [, c, t, h, w] = x.shape as [unknown, number, number, number, number];
    for (let j = 0; j < frames; j++) {
      const at = historyFrames + t - frames + j; // index in [history, x]
      if (at < historyFrames) {
        this.writes.push({ key: `${key}.${j}`, shape: [c, 1, h, w], carriedFrom: `${key}.${at}` });
      } else {
        this.writes.push({ key: `${key}.${j}`, shape: [c, 1, h, w] });
        this.g.output(stateOutputName(`${key}.${j}`), this.g.slice(x, [2], [at - historyFrames], [at - historyFrames + 1]));
      }
    }
  }

  /** x [B, C, T, H, W] preceded by `frames` frames of history (state of `key`), which then moves on by T frames. */
  private withHistory(x: Value, key: string, frames: number): Value {
    const [, c, , h, w] = x.shape as [unknown, number, number, number, number];
    const all = this.g.concat([...this.readHistory(key, frames, [c, h, w]), x], 2);
    this.writeHistory(key, frames, frames, x);
    return all;
  }

  /** Conv3d with a PyTorch Conv3d (or Conv2d, given `kernel` [1, kH, kW]) weight; pads [t0, h0, w0, t1, h1, w1]. */
  conv3d(x: Value, key: string, outCh: number, kernel: readonly [number, number, number], opts: { strides?: number[]; pads?: number[]; conv2dWeight?: boolean } = {}): Value {
    const inCh = x.shape[1] as number;
    const w5 = [outCh, inCh, ...kernel];
    const w = opts.conv2dWeight ? this.g.reshape(this.P(`${key}.weight`, [outCh, inCh, kernel[1], kernel[2]]), w5) : this.P(`${key}.weight`, w5);
    return this.g.op('Conv3d', [x, w, this.P(`${key}.bias`, [outCh])], { strides: opts.strides ?? [1, 1, 1], pads: opts.pads ?? [0, 0, 0, 0, 0, 0] })[0];
  }

  /**
   * WanCausalConv3d with kernel k (1 or 3) and padding k // 2: H and W padded on both sides, time only in
   * front — by the state, which carries the previous chunks' frames (zeros before the first).
   */
  causalConv(x: Value, key: string, outCh: number, k: 1 | 3): Value {
    if (k === 1) return this.conv3d(x, key, outCh, [1, 1, 1]);
    return this.conv3d(this.withHistory(x, key, CAUSAL_HISTORY_FRAMES), key, outCh, [3, 3, 3], { pads: [0, 1, 1, 0, 1, 1] });
  }

  /** WanRMS_norm over channels: F.normalize(x, dim=1) · √C · gamma (gamma [C, 1, 1, 1] or, in attention, [C, 1, 1]). */
  rmsNorm(x: Value, key: string, gammaShape: readonly number[]): Value {
    const ch = x.shape[1] as number;
    const scale = this.g.mul(this.g.reshape(this.P(key, gammaShape), [ch, 1, 1, 1]), this.g.scalar(Math.sqrt(ch)));
    return this.g.mul(this.g.op('L2Normalize', [x], { axis: 1, epsilon: WAN_RMS_EPS })[0], scale);
  }

  /** WanResidualBlock: shortcut(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))) (dropout is identity at inference). */
  resnet(x: Value, r: WanResnetSpec): Value {
    const g = this.g;
    const skip = wanHasShortcut(r) ? this.causalConv(x, `${r.key}.conv_shortcut`, r.outChannels, 1) : x;
    let h = g.silu(this.rmsNorm(x, `${r.key}.norm1.gamma`, [r.inChannels, 1, 1, 1]));
    h = this.causalConv(h, `${r.key}.conv1`, r.outChannels, 3);
    h = g.silu(this.rmsNorm(h, `${r.key}.norm2.gamma`, [r.outChannels, 1, 1, 1]));
    h = this.causalConv(h, `${r.key}.conv2`, r.outChannels, 3);
    return g.add(h, skip);
  }

  /**
   * WanAttentionBlock, per frame: RMS norm, 1×1 conv to q, k, v (channel thirds), one head of width C over
   * the H·W pixels, softmax(q kᵀ / √C) v, 1×1 proj, plus the residual.
   */
  attention(x: Value, key: string): Value {
    const g = this.g;
    const [, c, t, h, w] = x.shape as [unknown, number, number, number, number];
    const normed = this.rmsNorm(x, `${key}.norm.gamma`, [c, 1, 1]);
    const qkv = this.conv3d(normed, `${key}.to_qkv`, 3 * c, [1, 1, 1], { conv2dWeight: true }); // [B, 3C, T, H, W]
    const tokens = g.reshape(g.transpose(qkv, [0, 2, 3, 4, 1]), [-1, h * w, 3 * c]); // [B·T, H·W, 3C]
    const [q, k, v] = [0, 1, 2].map((i) => g.slice(tokens, [2], [i * c], [(i + 1) * c]));
    const scores = g.matmul(g.mul(q, g.scalar(1 / Math.sqrt(c))), g.transpose(k, [0, 2, 1])); // [B·T, H·W, H·W]
    const mixed = g.matmul(g.softmax(scores, -1), v); // [B·T, H·W, C]
    const frames = g.transpose(g.reshape(mixed, [-1, t, h, w, c]), [0, 4, 1, 2, 3]); // [B, C, T, H, W]
    return g.add(this.conv3d(frames, `${key}.proj`, c, [1, 1, 1], { conv2dWeight: true }), x);
  }

  mid(x: Value, m: WanMidSpec): Value {
    const y = this.attention(this.resnet(x, m.resnets[0]), m.attention);
    return this.resnet(y, m.resnets[1]);
  }

  /** [B, C, T, H, W] ↔ [B·T, C, H, W] for the per-frame 2-D ops (a plain reshape when T = 1). */
  private framesAsBatch(x: Value): Value {
    const [, c, t, h, w] = x.shape as [unknown, number, number, number, number];
    return this.g.reshape(t === 1 ? x : this.g.transpose(x, [0, 2, 1, 3, 4]), [-1, c, h, w]);
  }

  private batchAsFrames(x: Value, t: number): Value {
    const [, c, h, w] = x.shape as [unknown, number, number, number];
    return t === 1 ? this.g.reshape(x, [-1, c, 1, h, w]) : this.g.transpose(this.g.reshape(x, [-1, t, c, h, w]), [0, 2, 1, 3, 4]);
  }

  /**
   * Decoder WanResample. upsample3d after the first chunk: time_conv (kernel 3 × 1 × 1, C → 2C) runs
   * causally over this and the earlier later-chunk frames, and its two channel halves become two frames
   * (2t from [0, C), 2t + 1 from [C, 2C)). Then, per frame and in both modes: nearest ×2 in H and W
   * (nearest-exact equals nearest at ×2) and a 3×3 conv to C/2 channels, fused as UpsampleConv.
   */
  upsample(x: Value, r: WanResampleSpec): Value {
    const g = this.g;
    let y = x;
    if (r.mode === 'upsample3d' && !this.first) {
      const [, c, t, h, w] = x.shape as [unknown, number, number, number, number];
      const key = `${r.key}.time_conv`;
      const doubled = this.conv3d(this.withHistory(x, key, CAUSAL_HISTORY_FRAMES), key, 2 * c, [3, 1, 1]); // [B, 2C, T, H, W]
      y = g.reshape(g.transpose(g.reshape(doubled, [-1, 2, c, t, h, w]), [0, 2, 3, 1, 4, 5]), [-1, c, 2 * t, h, w]);
    }
    const t = y.shape[2] as number;
    const up = g.upsampleConv(this.framesAsBatch(y), this.P(`${r.key}.resample.1.weight`, [r.outChannels, r.channels, 3, 3]), this.P(`${r.key}.resample.1.bias`, [r.outChannels]));
    return this.batchAsFrames(up, t);
  }

  /**
   * Encoder WanResample: per frame, zero-pad right and bottom by 1 and a 3×3 stride-2 conv. downsample3d
   * then keeps the first chunk's frame as is and writes it as state; later chunks run time_conv (kernel
   * 3 × 1 × 1, stride 2 in time, no padding) over [previous chunk's last frame, this chunk's frames].
   */
  downsample(x: Value, r: WanResampleSpec): Value {
    const g = this.g;
    const y = this.conv3d(x, `${r.key}.resample.1`, r.outChannels, [1, 3, 3], { strides: [1, 2, 2], pads: [0, 0, 0, 0, 1, 1], conv2dWeight: true });
    if (r.mode !== 'downsample3d') return y;
    const key = `${r.key}.time_conv`;
    if (this.first) {
      this.writeHistory(key, 1, 0, y);
      return y;
    }
    return this.conv3d(this.withHistory(y, key, 1), key, r.outChannels, [3, 1, 1], { strides: [2, 1, 1] });
  }
}

export interface WanChunkGraphOptions {
  /** Also output submodule results ("tap.post_quant_conv", "tap.decoder.mid_block", "tap.decoder.up_blocks.{i}") to locate a mismatch. */
  taps?: boolean;
}

/**
 * Where the decoder is cut in two: the up blocks from this index on (and the head) have no temporal
 * upsampler, so they run frame by frame (tail graph) — exactly, since their causal convs carry their
 * history in the state — while those before it run one latent frame per chunk (head graphs). At full
 * resolution a frame is a quarter of a chunk, and so is the tail's working memory.
 */
export function wanDecoderSplitLevel(c: WanVAEConfig): number {
  const levels = wanDecoderPlan(c).levels;
  let last = -1;
  levels.forEach((l, i) => {
    if (l.upsampler?.mode === 'upsample3d') last = i;
  });
  return last + 1;
}

/** Shape [C, H, W] of one frame between the decoder's head and tail graphs for a latent of h × w. */
export function wanDecoderSplitShape(c: WanVAEConfig, latentH: number, latentW: number): [number, number, number] {
  const plan = wanDecoderPlan(c);
  const split = wanDecoderSplitLevel(c);
  let [ch, h, w] = [plan.convInChannels, latentH, latentW];
  for (const level of plan.levels.slice(0, split)) {
    ch = level.upsampler ? level.upsampler.outChannels : level.resnets[level.resnets.length - 1].outChannels;
    if (level.upsampler) [h, w] = [2 * h, 2 * w];
  }
  return [ch, h, w];
}

/**
 * The decoder's head for one latent frame: input "z" [B, z_dim, 1, h, w] (raw latent, before
 * post_quant_conv) → output "features" [B, C, F, h', w'] at the split level (wanDecoderSplitShape),
 * F = 1 on the first chunk and 4 after it.
 */
export function buildWanDecoderHeadGraph(c: WanVAEConfig, weights: WanVAEWeights, latentH: number, latentW: number, first: boolean, opts: WanChunkGraphOptions = {}): ChunkGraph {
  const plan = wanDecoderPlan(c);
  const g = new GraphBuilder(`wan_vae_decoder_head_${first ? 'first' : 'next'}_${latentH}x${latentW}`);
  const m = new WanChunkBuilder(g, weights, first, !!opts.taps);
  let x = m.causalConv(g.input('z', 'float32', ['B', c.zDim, 1, latentH, latentW]), 'post_quant_conv', c.zDim, 1);
  m.tap('post_quant_conv', x);
  x = m.causalConv(x, 'decoder.conv_in', plan.convInChannels, 3);
  x = m.mid(x, plan.mid);
  m.tap('decoder.mid_block', x);
  for (const level of plan.levels.slice(0, wanDecoderSplitLevel(c))) {
    for (const r of level.resnets) x = m.resnet(x, r);
    if (level.upsampler) x = m.upsample(x, level.upsampler);
    m.tap(level.key, x);
  }
  g.output('features', x);
  const framesOut = x.shape[2] as number;
  if (framesOut !== (first ? 1 : wanTemporalFactor(c))) throw new Error(`Wan VAE decoder head: ${framesOut} frames per chunk, expected ${first ? 1 : wanTemporalFactor(c)}`);
  return { graph: g.build(), reads: m.reads, writes: m.writes, framesIn: 1, framesOut };
}

/**
 * The decoder's tail for one frame: input "features" [B, C, 1, h', w'] from the head → output "sample"
 * [B, out_channels, 1, 8h, 8w] before the clamp. Its state carries the frames before, across chunks.
 */
export function buildWanDecoderTailGraph(c: WanVAEConfig, weights: WanVAEWeights, latentH: number, latentW: number, opts: WanChunkGraphOptions = {}): ChunkGraph {
  const plan = wanDecoderPlan(c);
  const [ch, h, w] = wanDecoderSplitShape(c, latentH, latentW);
  const g = new GraphBuilder(`wan_vae_decoder_tail_${latentH}x${latentW}`);
  // No temporal resampler lives here, so the tail is the same graph for every chunk.
  const m = new WanChunkBuilder(g, weights, false, !!opts.taps);
  let x = g.input('features', 'float32', ['B', ch, 1, h, w]);
  for (const level of plan.levels.slice(wanDecoderSplitLevel(c))) {
    for (const r of level.resnets) x = m.resnet(x, r);
    if (level.upsampler) x = m.upsample(x, level.upsampler);
    m.tap(level.key, x);
  }
  x = g.silu(m.rmsNorm(x, 'decoder.norm_out.gamma', [plan.headChannels, 1, 1, 1]));
  g.output('sample', m.causalConv(x, 'decoder.conv_out', plan.outChannels, 3));
  return { graph: g.build(), reads: m.reads, writes: m.writes, framesIn: 1, framesOut: 1 };
}

/**
 * One encoder chunk: input "x" [B, in_channels, F, H, W] (F = 1 for the first chunk, 4 after it; H, W
 * multiples of 8), output "moments" [B, 2·z_dim, 1, H/8, W/8] = quant_conv(encoder(x)): mean, then logvar.
 */
export function buildWanEncoderChunkGraph(c: WanVAEConfig, weights: WanVAEWeights, height: number, width: number, first: boolean): ChunkGraph {
  const f = wanSpatialFactor(c);
  if (height % f !== 0 || width % f !== 0) throw new Error(`Wan VAE encoder graph: ${height}×${width} is not a multiple of ${f}`);
  const plan = wanEncoderPlan(c);
  const framesIn = first ? 1 : WAN_ENCODER_CHUNK_FRAMES;
  const g = new GraphBuilder(`wan_vae_encoder_${first ? 'first' : 'next'}_${height}x${width}`);
  const m = new WanChunkBuilder(g, weights, first, false);
  let x = m.causalConv(g.input('x', 'float32', ['B', c.inChannels, framesIn, height, width]), 'encoder.conv_in', plan.convInChannels, 3);
  for (const s of plan.steps) x = s.kind === 'resnet' ? m.resnet(x, s.resnet) : m.downsample(x, s.resample);
  x = m.mid(x, plan.mid);
  x = g.silu(m.rmsNorm(x, 'encoder.norm_out.gamma', [plan.mid.channels, 1, 1, 1]));
  x = m.causalConv(x, 'encoder.conv_out', plan.momentChannels, 3);
  g.output('moments', m.causalConv(x, 'quant_conv', plan.momentChannels, 1));
  return { graph: g.build(), reads: m.reads, writes: m.writes, framesIn, framesOut: 1 };
}
