// An independent float64 model of the Wan 2.1 VAE for tests, written from the fixture README's conventions
// as a computation over the whole sequence at once — no chunks, no feature cache — with the temporal
// resamplers' chunk quirks restated in whole-sequence form:
//   decoder upsample3d: frame 0 passes as is; frames 1.. go through the causal time_conv with zero history
//     (the first chunk's frame is not in it), and each output's two channel halves become two frames;
//   encoder downsample3d: frame 0 passes as is; then time_conv (kernel 3, stride 2, no padding) over the whole
//     sequence, windows (0, 1, 2), (2, 3, 4), … — chunk i sees [last frame of chunk i − 1, its frames].
// Every other conv is causal over the whole sequence, which is what the chunked cache reproduces. Slow
// (plain loops) but small models only. Batch 1; tensors are [C, T, H, W].

export interface Vol {
  readonly c: number;
  readonly t: number;
  readonly h: number;
  readonly w: number;
  readonly d: Float64Array;
}

type Weights = ReadonlyMap<string, Float32Array>;

const vol = (c: number, t: number, h: number, w: number): Vol => ({ c, t, h, w, d: new Float64Array(c * t * h * w) });
const at = (v: Vol, c: number, t: number, y: number, x: number): number => ((c * v.t + t) * v.h + y) * v.w + x;

export function fromData(data: ArrayLike<number>, [c, t, h, w]: readonly number[]): Vol {
  return { c, t, h, w, d: Float64Array.from(data) };
}

function get(ws: Weights, key: string): Float32Array {
  const v = ws.get(key);
  if (!v) throw new Error(`whole-sequence model: no weight ${key}`);
  return v;
}

/**
 * Conv with kernel [kt, kh, kw], time padded by `padFront` zeros in front (causal) and `padBack` behind,
 * H and W by `padHW` on both sides (or right/bottom only with `padRightBottom`), strides [st, sh, sw].
 */
function conv(x: Vol, w: Float32Array, b: Float32Array, out: number, [kt, kh, kw]: readonly number[], o: { padFront: number; padHW?: number; padRightBottom?: number; stride?: readonly number[] }): Vol {
  const [st, sh, sw] = o.stride ?? [1, 1, 1];
  const [p0, p1] = o.padRightBottom !== undefined ? [0, o.padRightBottom] : [o.padHW ?? 0, o.padHW ?? 0];
  const ot = Math.floor((x.t + o.padFront - kt) / st) + 1;
  const oh = Math.floor((x.h + p0 + p1 - kh) / sh) + 1;
  const ow = Math.floor((x.w + p0 + p1 - kw) / sw) + 1;
  const y = vol(out, ot, oh, ow);
  for (let oc = 0; oc < out; oc++)
    for (let t = 0; t < ot; t++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = b[oc];
          for (let ic = 0; ic < x.c; ic++)
            for (let a = 0; a < kt; a++) {
              const tt = t * st + a - o.padFront;
              if (tt < 0 || tt >= x.t) continue;
              for (let p = 0; p < kh; p++) {
                const yy = i * sh + p - p0;
                if (yy < 0 || yy >= x.h) continue;
                for (let q = 0; q < kw; q++) {
                  const xx = j * sw + q - p0;
                  if (xx < 0 || xx >= x.w) continue;
                  s += x.d[at(x, ic, tt, yy, xx)] * w[(((oc * x.c + ic) * kt + a) * kh + p) * kw + q];
                }
              }
            }
          y.d[at(y, oc, t, i, j)] = s;
        }
  return y;
}

const causal = (ws: Weights, x: Vol, key: string, out: number, k: 1 | 3): Vol =>
  conv(x, get(ws, `${key}.weight`), get(ws, `${key}.bias`), out, [k, k, k], { padFront: k - 1, padHW: (k - 1) / 2 });

function rms(ws: Weights, x: Vol, key: string): Vol {
  const g = get(ws, key);
  const y = vol(x.c, x.t, x.h, x.w);
  for (let t = 0; t < x.t; t++)
    for (let i = 0; i < x.h; i++)
      for (let j = 0; j < x.w; j++) {
        let ss = 0;
        for (let c = 0; c < x.c; c++) ss += x.d[at(x, c, t, i, j)] ** 2;
        const n = Math.max(Math.sqrt(ss), 1e-12);
        for (let c = 0; c < x.c; c++) y.d[at(y, c, t, i, j)] = (x.d[at(x, c, t, i, j)] / n) * Math.sqrt(x.c) * g[c];
      }
  return y;
}

const map = (x: Vol, f: (v: number) => number): Vol => ({ ...x, d: x.d.map(f) });
const silu = (x: Vol): Vol => map(x, (v) => v / (1 + Math.exp(-v)));
const add = (a: Vol, b: Vol): Vol => ({ ...a, d: a.d.map((v, i) => v + b.d[i]) });

function resnet(ws: Weights, x: Vol, key: string, out: number): Vol {
  const skip = x.c === out ? x : causal(ws, x, `${key}.conv_shortcut`, out, 1);
  let h = causal(ws, silu(rms(ws, x, `${key}.norm1.gamma`)), `${key}.conv1`, out, 3);
  h = causal(ws, silu(rms(ws, h, `${key}.norm2.gamma`)), `${key}.conv2`, out, 3);
  return add(h, skip);
}

/** Per frame: RMS norm, q, k, v by 1×1 conv, one head over the H·W pixels, 1×1 proj, + x. */
function attention(ws: Weights, x: Vol, key: string): Vol {
  const c = x.c;
  const n = rms(ws, x, `${key}.norm.gamma`);
  const [wq, bq, wp, bp] = [get(ws, `${key}.to_qkv.weight`), get(ws, `${key}.to_qkv.bias`), get(ws, `${key}.proj.weight`), get(ws, `${key}.proj.bias`)];
  const y = vol(c, x.t, x.h, x.w);
  const px = x.h * x.w;
  for (let t = 0; t < x.t; t++) {
    const qkv = Array.from({ length: 3 * c }, (_, o) =>
      Float64Array.from({ length: px }, (_, p) => {
        let s = bq[o];
        for (let ic = 0; ic < c; ic++) s += wq[o * c + ic] * n.d[(ic * x.t + t) * px + p];
        return s;
      }),
    );
    const mixed = Array.from({ length: c }, () => new Float64Array(px));
    for (let p = 0; p < px; p++) {
      const scores = Float64Array.from({ length: px }, (_, r) => {
        let s = 0;
        for (let ch = 0; ch < c; ch++) s += qkv[ch][p] * qkv[c + ch][r];
        return s / Math.sqrt(c);
      });
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let r = 0; r < px; r++) s += (e[r] / z) * qkv[2 * c + ch][r];
        mixed[ch][p] = s;
      }
    }
    for (let o = 0; o < c; o++)
      for (let p = 0; p < px; p++) {
        let s = bp[o];
        for (let ic = 0; ic < c; ic++) s += wp[o * c + ic] * mixed[ic][p];
        y.d[(o * x.t + t) * px + p] = s + x.d[(o * x.t + t) * px + p];
      }
  }
  return y;
}

function frames(x: Vol, from: number, to: number): Vol {
  const y = vol(x.c, to - from, x.h, x.w);
  for (let c = 0; c < x.c; c++) for (let t = from; t < to; t++) y.d.set(x.d.subarray(at(x, c, t, 0, 0), at(x, c, t, 0, 0) + x.h * x.w), at(y, c, t - from, 0, 0));
  return y;
}

function catFrames(a: Vol, b: Vol): Vol {
  const y = vol(a.c, a.t + b.t, a.h, a.w);
  for (let c = 0; c < a.c; c++) {
    y.d.set(a.d.subarray(at(a, c, 0, 0, 0), at(a, c, a.t, 0, 0)), at(y, c, 0, 0, 0));
    y.d.set(b.d.subarray(at(b, c, 0, 0, 0), at(b, c, b.t, 0, 0)), at(y, c, a.t, 0, 0));
  }
  return y;
}

/** Per frame: nearest ×2 in H and W, then a 3×3 conv (padding 1) to `out` channels. */
function upsample2d(ws: Weights, x: Vol, key: string, out: number): Vol {
  const up = vol(x.c, x.t, 2 * x.h, 2 * x.w);
  for (let c = 0; c < x.c; c++) for (let t = 0; t < x.t; t++) for (let i = 0; i < up.h; i++) for (let j = 0; j < up.w; j++) up.d[at(up, c, t, i, j)] = x.d[at(x, c, t, i >> 1, j >> 1)];
  return conv(up, get(ws, `${key}.resample.1.weight`), get(ws, `${key}.resample.1.bias`), out, [1, 3, 3], { padFront: 0, padHW: 1 });
}

function upsample3d(ws: Weights, x: Vol, key: string, out: number): Vol {
  let seq = frames(x, 0, 1);
  if (x.t > 1) {
    const rest = frames(x, 1, x.t);
    const doubled = conv(rest, get(ws, `${key}.time_conv.weight`), get(ws, `${key}.time_conv.bias`), 2 * x.c, [3, 1, 1], { padFront: 2 });
    const inter = vol(x.c, 2 * rest.t, x.h, x.w);
    for (let c = 0; c < x.c; c++)
      for (let t = 0; t < rest.t; t++)
        for (let half = 0; half < 2; half++) inter.d.set(doubled.d.subarray(at(doubled, half * x.c + c, t, 0, 0), at(doubled, half * x.c + c, t, 0, 0) + x.h * x.w), at(inter, c, 2 * t + half, 0, 0));
    seq = catFrames(seq, inter);
  }
  return upsample2d(ws, seq, key, out);
}

export interface WholeConfig {
  readonly zDim: number;
  /** Decoder widths per level (out of each up block), deepest first, and the mid width. */
  readonly decoderLevels: readonly { out: number; resnets: number; up?: '2d' | '3d' }[];
  readonly decoderMid: number;
  /** Encoder: per level the width, resnets and the downsampler after it. */
  readonly encoderLevels: readonly { out: number; resnets: number; down?: '2d' | '3d' }[];
  readonly encoderBase: number;
  readonly outChannels: number;
}

/** decode(z) before the clamp: z [z_dim, T, h, w] → [3, 1 + 4(T − 1), 8h, 8w]. */
export function decodeWholeSequence(ws: Weights, cfg: WholeConfig, z: Vol): Vol {
  let x = causal(ws, z, 'post_quant_conv', cfg.zDim, 1);
  x = causal(ws, x, 'decoder.conv_in', cfg.decoderMid, 3);
  x = resnet(ws, x, 'decoder.mid_block.resnets.0', cfg.decoderMid);
  x = attention(ws, x, 'decoder.mid_block.attentions.0');
  x = resnet(ws, x, 'decoder.mid_block.resnets.1', cfg.decoderMid);
  cfg.decoderLevels.forEach((l, i) => {
    for (let j = 0; j < l.resnets; j++) x = resnet(ws, x, `decoder.up_blocks.${i}.resnets.${j}`, l.out);
    if (l.up === '3d') x = upsample3d(ws, x, `decoder.up_blocks.${i}.upsamplers.0`, l.out / 2);
    if (l.up === '2d') x = upsample2d(ws, x, `decoder.up_blocks.${i}.upsamplers.0`, l.out / 2);
  });
  return causal(ws, silu(rms(ws, x, 'decoder.norm_out.gamma')), 'decoder.conv_out', cfg.outChannels, 3);
}

/** quant_conv(encoder(x)): x [3, 1 + 4k, H, W] → moments [2·z_dim, 1 + k, H/8, W/8]. */
export function encodeWholeSequence(ws: Weights, cfg: WholeConfig, input: Vol): Vol {
  let x = causal(ws, input, 'encoder.conv_in', cfg.encoderBase, 3);
  let index = 0;
  for (const l of cfg.encoderLevels) {
    for (let j = 0; j < l.resnets; j++) x = resnet(ws, x, `encoder.down_blocks.${index++}`, l.out);
    if (!l.down) continue;
    const key = `encoder.down_blocks.${index++}`;
    x = conv(x, get(ws, `${key}.resample.1.weight`), get(ws, `${key}.resample.1.bias`), l.out, [1, 3, 3], { padFront: 0, padRightBottom: 1, stride: [1, 2, 2] });
    if (l.down === '3d' && x.t > 1) {
      const strided = conv(x, get(ws, `${key}.time_conv.weight`), get(ws, `${key}.time_conv.bias`), l.out, [3, 1, 1], { padFront: 0, stride: [2, 1, 1] });
      x = catFrames(frames(x, 0, 1), strided);
    }
  }
  const mid = cfg.encoderLevels[cfg.encoderLevels.length - 1].out;
  x = resnet(ws, x, 'encoder.mid_block.resnets.0', mid);
  x = attention(ws, x, 'encoder.mid_block.attentions.0');
  x = resnet(ws, x, 'encoder.mid_block.resnets.1', mid);
  x = causal(ws, silu(rms(ws, x, 'encoder.norm_out.gamma')), 'encoder.conv_out', 2 * cfg.zDim, 3);
  return causal(ws, x, 'quant_conv', 2 * cfg.zDim, 1);
}
