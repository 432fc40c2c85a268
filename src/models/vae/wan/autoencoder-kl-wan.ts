// A loaded AutoencoderKLWan (Wan 2.1 video VAE): decode (raw latent video → video, one latent frame per
// chunk with the causal feature cache, spatially tiled above a size) and encode (video → posterior mean,
// frames [0], [1..4], [5..8], … per chunk). Per input size the decoder compiles a head graph for the first
// chunk, one for later chunks and a tail graph run frame by frame; the encoder a first and a later-chunk
// graph (graph.ts). The state between runs is carried by ChunkChain (chain.ts).
import { weightProblems } from '../../weights.js';
import { checkThreads, defaultThreads } from '../../../runtime/session.js';
import { Tensor, numel } from '../../tensor.js';
import { VAEInputError } from '../errors.js';
import { GraphCache } from '../graph-cache.js';
import { TileOptions, checkTileOptions, decodeTiled, planTiles } from '../tiling.js';
import { DEFAULT_TILING, type TilingSettings } from '../autoencoder-kl.js';
import { WAN_ENCODER_CHUNK_FRAMES, WanVAEConfig, wanSpatialFactor, wanTemporalFactor } from './config.js';
import { wanVAEParameterShapes } from './architecture.js';
import { ChunkGraph, WanVAEWeights, buildWanDecoderHeadGraph, buildWanDecoderTailGraph, buildWanEncoderChunkGraph, wanDecoderSplitShape } from './graph.js';
import { ChunkChain, ChunkSpec } from './chain.js';
import { Shape5, putFrames, sliceFrames } from './frames.js';
import { denormalizeWanLatents, normalizeWanLatents } from './latents.js';
import type { CompiledGraph } from '../../../runtime/session.js';

/**
 * Default tiling, the image VAE's: whole frames up to 64 latent pixels a side (512 px), tiles of 64 latent
 * pixels overlapping by ≥ 16 above. The decoder's causal state alone is 3.6 GB for whole 480 × 832 frames
 * (2 frames of every causal conv's input, mostly at full resolution) and every run copies its new frames out
 * of ORT once more. Measured at 480 × 832, 81 frames (bench/results/wan-vae-2026-12-06.txt): two 60 × 64
 * tiles (1.23× the work) ran in 54 min at 5.0–6.0 GB RSS, peak 8.1 GB; whole frames peaked at 7.7 GB in the
 * first chunk already (about 10–11 GB later, extrapolated). `tile: false` decodes whole frames, as diffusers'
 * untiled decode, where memory allows.
 */
export const WAN_DEFAULT_TILING: TilingSettings = DEFAULT_TILING;

export interface WanDecodeOptions {
  /** Clamp the video to [−1, 1] as diffusers' decode does (default true); false returns the decoder's raw output. */
  clamp?: boolean;
  /** Tile options to tile with, or false to decode whole frames; default: the VAE's tiling settings. */
  tile?: TileOptions | false;
  /** Called after every chunk (one latent frame of one tile) with the chunks done and the total: a long decode's progress. */
  onProgress?: (done: number, total: number) => void;
}

export interface AutoencoderKLWanOptions {
  /** ORT intra-op threads (default min(2, cores)). */
  threads?: number;
  tiling?: Partial<TilingSettings>;
  /** Input sizes whose compiled chunk graphs are kept per direction (each graph holds a copy of its weights); default 1. */
  maxCachedSizes?: number;
  /** Where the weights came from, for messages. */
  source?: string;
}

/** Graphs per size the decoder compiles (head for the first chunk, head for later chunks, tail) and the encoder. */
const DECODER_GRAPHS_PER_SIZE = 3;
const ENCODER_GRAPHS_PER_SIZE = 2;

export class AutoencoderKLWan {
  /** Tells it apart from the image AutoencoderKL where loadVAE may return either. */
  readonly kind = 'video' as const;
  readonly threads: number;
  readonly tiling: TilingSettings;
  readonly source: string;
  private readonly decoders: GraphCache;
  private readonly encoders: GraphCache;
  private readonly specs = new Map<string, ChunkSpec>();
  /** Runs one at a time: ORT already uses every allowed thread, and evictions must not hit a running graph. */
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  constructor(
    readonly config: WanVAEConfig,
    private readonly weights: WanVAEWeights,
    opts: AutoencoderKLWanOptions = {},
  ) {
    this.threads = checkThreads(opts.threads ?? defaultThreads());
    this.source = opts.source ?? '<weights in memory>';
    checkWanWeights(config, weights);
    this.tiling = { tile: opts.tiling?.tile ?? WAN_DEFAULT_TILING.tile, autoAboveLatent: opts.tiling?.autoAboveLatent ?? WAN_DEFAULT_TILING.autoAboveLatent };
    checkTileOptions(this.tiling.tile);
    if (!Number.isInteger(this.tiling.autoAboveLatent) || this.tiling.autoAboveLatent < 1) {
      throw new VAEInputError(`tiling.autoAboveLatent must be a positive integer number of latent pixels, got ${this.tiling.autoAboveLatent}`);
    }
    const sizes = opts.maxCachedSizes ?? 1;
    if (!Number.isInteger(sizes) || sizes < 1) throw new VAEInputError(`maxCachedSizes must be a positive integer, got ${sizes}`);
    // Without ORT's memory arena: each of the chunk graphs would keep its own peak for good, and their sum
    // dominated the decode (at 240 × 416: 4.7 GB peak with the arena, 3.8 GB without; same speed).
    this.decoders = new GraphCache(sizes * DECODER_GRAPHS_PER_SIZE, this.threads, { memArena: false });
    this.encoders = new GraphCache(sizes * ENCODER_GRAPHS_PER_SIZE, this.threads, { memArena: false });
  }

  get latentChannels(): number {
    return this.config.zDim;
  }

  /** Video pixels per latent pixel along H and W (8). */
  get spatialFactor(): number {
    return wanSpatialFactor(this.config);
  }

  /** Video frames per latent frame after the first (4): 1 + 4k frames ↔ 1 + k latent frames. */
  get temporalFactor(): number {
    return wanTemporalFactor(this.config);
  }

  /** Frames decode gives for `latentFrames` latent frames: 1 + 4 · (T − 1). */
  framesFor(latentFrames: number): number {
    return 1 + this.temporalFactor * (latentFrames - 1);
  }

  /** WanPipeline's step before decode: z = latents · latents_std + latents_mean (per channel, float32 as the pipeline). */
  denormalizeLatents(latents: Tensor): Tensor {
    return denormalizeWanLatents(latents, this.config);
  }

  /** The inverse, as WanVideoToVideoPipeline applies it after encode: latents = (z − mean) / std. */
  normalizeLatents(z: Tensor): Tensor {
    return normalizeWanLatents(z, this.config);
  }

  /**
   * z [B, z_dim, T, h, w], the raw latent diffusers' vae.decode(z) takes (already de-normalised, see
   * denormalizeLatents) → video [B, out_channels, 1 + 4(T − 1), 8h, 8w] in [−1, 1] (clamped, as diffusers).
   * Output frame k depends on latent frames 0 … ⌈k / 4⌉ only.
   */
  async decode(z: Tensor, opts: WanDecodeOptions = {}): Promise<Tensor> {
    const shape = this.checkVideo('decode', 'z', z, this.config.zDim, 1);
    const [b, , t, h, w] = shape;
    const clamp = opts.clamp ?? true;
    if (typeof clamp !== 'boolean') throw new VAEInputError(`decode: clamp must be true or false, got ${String(clamp)}`);
    const tile = this.tileFor(h, w, opts.tile);
    const onProgress = opts.onProgress;
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new VAEInputError(`decode: onProgress must be a function, got ${typeof onProgress}`);
    const f = this.spatialFactor;
    const frames = this.framesFor(t);
    const outChannels = this.config.outChannels;
    return this.exclusive(async () => {
      let video: Float32Array;
      if (!tile) {
        video = await this.decodeWhole(z.data as Float32Array, shape, (i) => onProgress?.(i + 1, t));
      } else {
        // A latent [B, C, T, h, w] is a [B, C·T, h, w] image to the spatial tiler, and a decoded tile
        // [B, 3, F, 8h', 8w'] a [B, 3·F, 8h', 8w'] one: blend weights depend on the pixel only.
        const plan = planTiles(h, w, tile);
        const total = t * plan.rowStarts.length * plan.colStarts.length;
        let tilesDone = 0;
        const decodeTile = async (data: Float32Array, s: readonly [number, number, number, number]): Promise<Float32Array> => {
          const out = await this.decodeWhole(data, [s[0], this.config.zDim, t, s[2], s[3]], (i) => onProgress?.(tilesDone * t + i + 1, total));
          tilesDone++;
          return out;
        };
        video = (await decodeTiled(z.data as Float32Array, [b, this.config.zDim * t, h, w], plan, f, outChannels * frames, decodeTile)).data;
      }
      if (clamp) for (let i = 0; i < video.length; i++) video[i] = Math.min(1, Math.max(-1, video[i]));
      return { data: video, shape: [b, outChannels, frames, h * f, w * f] };
    });
  }

  /**
   * x [B, in_channels, 1 + 4k, H, W] in [−1, 1], H and W multiples of 8 → latent_dist.mean
   * [B, z_dim, 1 + k, H/8, W/8].
   */
  async encode(x: Tensor): Promise<Tensor> {
    const moments = await this.encodeMoments(x);
    const [b, , t, h, w] = moments.shape;
    const z = this.config.zDim;
    // Moments are [mean, logvar] along channels: the mean is the first z_dim channels of each sample.
    const per = z * t * h * w;
    const mean = new Float32Array(b * per);
    for (let i = 0; i < b; i++) mean.set((moments.data as Float32Array).subarray(2 * i * per, (2 * i + 1) * per), i * per);
    return { data: mean, shape: [b, z, t, h, w] };
  }

  /**
   * The posterior's moments quant_conv(encoder(x)) [B, 2·z_dim, 1 + k, H/8, W/8]: mean, then logvar
   * (diffusers clamps logvar to [−30, 20] when it builds the distribution; this returns it unclamped).
   */
  async encodeMoments(x: Tensor): Promise<Tensor> {
    const f = this.spatialFactor;
    const shape = this.checkVideo('encode', 'x', x, this.config.inChannels, f);
    const [b, , t, h, w] = shape;
    if ((t - 1) % WAN_ENCODER_CHUNK_FRAMES !== 0) {
      const below = t - ((t - 1) % WAN_ENCODER_CHUNK_FRAMES);
      throw new VAEInputError(`encode: x has ${t} frames; the Wan VAE encodes 1 + ${WAN_ENCODER_CHUNK_FRAMES}k frames (nearest: ${below} or ${below + WAN_ENCODER_CHUNK_FRAMES}). diffusers would silently drop the last ${(t - 1) % WAN_ENCODER_CHUNK_FRAMES}.`);
    }
    const chunks = 1 + (t - 1) / WAN_ENCODER_CHUNK_FRAMES;
    const channels = 2 * this.config.zDim;
    const outShape: Shape5 = [b, channels, chunks, h / f, w / f];
    return this.exclusive(async () => {
      const out = new Float32Array(numel(outShape));
      const chain = new ChunkChain('encoder');
      for (let i = 0; i < chunks; i++) {
        const [t0, n] = i === 0 ? [0, 1] : [1 + WAN_ENCODER_CHUNK_FRAMES * (i - 1), WAN_ENCODER_CHUNK_FRAMES];
        const { graph, spec } = await this.graph(this.encoders, `encoder:${i === 0 ? 'first' : 'next'}:${h}x${w}`, () => buildWanEncoderChunkGraph(this.config, this.weights, h, w, i === 0));
        const result = await chain.run(graph, spec, { x: { data: sliceFrames(x.data as Float32Array, shape, t0, n), shape: [b, this.config.inChannels, n, h, w] } }, b);
        putFrames(out, outShape, result.moments.data as Float32Array, i);
      }
      return { data: out, shape: [...outShape] };
    });
  }

  /** Frees every compiled graph; the VAE cannot be used afterwards. */
  async release(): Promise<void> {
    this.released = true;
    await this.queue.catch(() => undefined);
    await Promise.all([this.decoders.clear(), this.encoders.clear()]);
  }

  /**
   * Decodes [B, z_dim, T, h, w] whole-frame → unclamped [B, 3, F, 8h, 8w]: each latent frame through the
   * head (1 frame out for the first, 4 after), each of those frames through the tail, each graph carrying
   * its state from run to run.
   */
  private async decodeWhole(z: Float32Array, shape: Shape5, chunkDone: (i: number) => void): Promise<Float32Array> {
    const [b, , t, h, w] = shape;
    const f = this.spatialFactor;
    const outShape: Shape5 = [b, this.config.outChannels, this.framesFor(t), h * f, w * f];
    const [fc, fh, fw] = wanDecoderSplitShape(this.config, h, w);
    const video = new Float32Array(numel(outShape));
    // The temporal upsamplers' time_conv skips the first chunk: their history starts, as zeros, at the second.
    const head = new ChunkChain('decoder head', (key, run) => run === 1 && /\.upsamplers\.0\.time_conv\.\d+$/.test(key));
    const tail = new ChunkChain('decoder tail');
    let frame = 0;
    for (let i = 0; i < t; i++) {
      const first = i === 0;
      const h1 = await this.graph(this.decoders, `decoder:head-${first ? 'first' : 'next'}:${h}x${w}`, () => buildWanDecoderHeadGraph(this.config, this.weights, h, w, first));
      const features = (await head.run(h1.graph, h1.spec, { z: { data: sliceFrames(z, shape, i, 1), shape: [b, this.config.zDim, 1, h, w] } }, b)).features;
      const featureShape: Shape5 = [b, fc, features.shape[2], fh, fw];
      for (let k = 0; k < featureShape[2]; k++) {
        const t1 = await this.graph(this.decoders, `decoder:tail:${h}x${w}`, () => buildWanDecoderTailGraph(this.config, this.weights, h, w));
        const one = { data: sliceFrames(features.data as Float32Array, featureShape, k, 1), shape: [b, fc, 1, fh, fw] };
        putFrames(video, outShape, (await tail.run(t1.graph, t1.spec, { features: one }, b)).sample.data as Float32Array, frame++);
      }
      chunkDone(i);
    }
    if (frame !== outShape[2]) throw new Error(`Wan VAE decoder: produced ${frame} frames, expected ${outShape[2]}`);
    return video;
  }

  /** The compiled graph for `key` and its state spec, built on first use. */
  private async graph(cache: GraphCache, key: string, build: () => ChunkGraph): Promise<{ graph: CompiledGraph; spec: ChunkSpec }> {
    const graph = await cache.get(key, () => {
      const built = build();
      this.specs.set(key, { reads: built.reads, writes: built.writes });
      return built.graph;
    });
    return { graph, spec: this.specs.get(key)! };
  }

  /** Which tiles decode uses for an h×w latent: undefined = whole frames. */
  private tileFor(h: number, w: number, option: TileOptions | false | undefined): TileOptions | undefined {
    if (option === false) return undefined;
    if (option !== undefined) {
      if (typeof option !== 'object' || option === null) throw new VAEInputError(`decode: tile must be { latentSize, overlap } or false, got ${String(option)}`);
      checkTileOptions(option);
      return option;
    }
    return Math.max(h, w) > this.tiling.autoAboveLatent ? this.tiling.tile : undefined;
  }

  private checkVideo(method: string, name: string, t: Tensor, channels: number, multiple: number): Shape5 {
    const expected = method === 'decode' ? `[B, ${channels}, T, h, w]` : `[B, ${channels}, 1 + 4k, H, W]`;
    const shape = t?.shape;
    if (!Array.isArray(shape) || shape.length !== 5 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      const hint = Array.isArray(shape) && shape.length === 4 ? ' (the Wan VAE takes video: add the time axis, T = 1 for a single frame)' : '';
      throw new VAEInputError(`${method}: ${name} must be a 5-D tensor ${expected}, got shape ${JSON.stringify(shape)}${hint}`);
    }
    if (!(t.data instanceof Float32Array)) throw new VAEInputError(`${method}: ${name} must hold a Float32Array, got ${t.data?.constructor?.name ?? typeof t.data}`);
    if (t.data.length !== numel(shape)) throw new VAEInputError(`${method}: ${name} has ${t.data.length} values but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    if (shape[1] !== channels) {
      const [field, hint] = method === 'decode' ? ['z_dim', ' (a latent made for another VAE?)'] : ['in_channels', ''];
      throw new VAEInputError(`${method}: ${name} has ${shape[1]} channels but this VAE's ${field} is ${channels}: expected ${expected}, got [${shape.join(', ')}]${hint}`);
    }
    if (shape[3] % multiple !== 0 || shape[4] % multiple !== 0) {
      throw new VAEInputError(`${method}: ${name} is ${shape[3]}×${shape[4]}, not a multiple of the spatial factor ${multiple}; crop or pad it to a multiple of ${multiple}`);
    }
    if (this.released) throw new VAEInputError(`${method}: this VAE (${this.source}) was released`);
    return shape as unknown as Shape5;
  }

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Weights handed to the constructor directly (not through loadVAE) get the same all-at-once check. */
function checkWanWeights(config: WanVAEConfig, weights: WanVAEWeights): void {
  const problems = weightProblems(wanVAEParameterShapes(config), weights);
  if (problems.length) throw new VAEInputError(`AutoencoderKLWan: the weights do not match the config (${problems.length} problems):\n  ${problems.join('\n  ')}`);
}
