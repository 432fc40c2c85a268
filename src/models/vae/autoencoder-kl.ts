// A loaded AutoencoderKL: decode (raw latent → image, tiled above a size) and encode (image → posterior
// mean), each run through ORT graphs compiled per input size on first use and kept in a small cache.
import { weightProblems } from '../weights.js';
import { checkThreads, defaultThreads } from '../../runtime/session.js';
import { Tensor, numel } from '../tensor.js';
import { VAEConfig, downscaleFactor } from './config.js';
import { vaeParameterShapes } from './architecture.js';
import { VAEInputError } from './errors.js';
import { GraphCache } from './graph-cache.js';
import { VAEWeights, buildDecoderGraph, buildEncoderGraph } from './graph.js';
import { TileOptions, checkTileOptions, decodeTiled, planTiles } from './tiling.js';

export interface TilingSettings {
  /** Tile size and minimum overlap used when decode tiles automatically. */
  readonly tile: TileOptions;
  /** decode tiles automatically when the latent is larger than this many pixels in height or width. */
  readonly autoAboveLatent: number;
}

/**
 * Default tiling: 64-latent tiles (512 px for SD/FLUX) overlapping by ≥ 16 (diffusers' 0.25 overlap
 * factor), used automatically above 64 latent pixels. So SD's native 512² decodes whole, and no decode
 * needs more than a 512² one: measured peak RSS of an SD decode (bench/vae.ts, float32) 1.6 GB at 256²,
 * 3.0 GB at 512², 6.7 GB at 768² whole but 2.0 GB tiled (bench/results/vae-2026-12-06.txt).
 */
export const DEFAULT_TILING: TilingSettings = { tile: { latentSize: 64, overlap: 16 }, autoAboveLatent: 64 };

export interface DecodeOptions {
  /** Tile options to tile with, or false to decode whole; default: the VAE's tiling settings, above autoAboveLatent. */
  tile?: TileOptions | false;
}

export interface AutoencoderKLOptions {
  /** ORT intra-op threads (default min(2, cores)). */
  threads?: number;
  tiling?: Partial<TilingSettings>;
  /** Compiled sizes kept per direction (each holds a copy of the weights); default 2. */
  maxCachedGraphs?: number;
  /** Where the weights came from, for messages. */
  source?: string;
}

type Shape4 = [number, number, number, number];

export class AutoencoderKL {
  readonly threads: number;
  readonly tiling: TilingSettings;
  readonly source: string;
  private readonly decoders: GraphCache;
  private readonly encoders: GraphCache;
  /** Runs one at a time: ORT already uses every allowed thread, and evictions must not hit a running graph. */
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  constructor(
    readonly config: VAEConfig,
    private readonly weights: VAEWeights,
    opts: AutoencoderKLOptions = {},
  ) {
    this.threads = checkThreads(opts.threads ?? defaultThreads());
    this.source = opts.source ?? '<weights in memory>';
    checkWeights(config, weights);
    this.tiling = { tile: opts.tiling?.tile ?? DEFAULT_TILING.tile, autoAboveLatent: opts.tiling?.autoAboveLatent ?? DEFAULT_TILING.autoAboveLatent };
    checkTileOptions(this.tiling.tile);
    if (!Number.isInteger(this.tiling.autoAboveLatent) || this.tiling.autoAboveLatent < 1) {
      throw new VAEInputError(`tiling.autoAboveLatent must be a positive integer number of latent pixels, got ${this.tiling.autoAboveLatent}`);
    }
    const capacity = opts.maxCachedGraphs ?? 2;
    this.decoders = new GraphCache(capacity, this.threads);
    this.encoders = new GraphCache(capacity, this.threads);
  }

  /** Diffusion-space latents = (z − shiftFactor) · scalingFactor; decode takes z. */
  get scalingFactor(): number {
    return this.config.scalingFactor;
  }

  get shiftFactor(): number {
    return this.config.shiftFactor;
  }

  get latentChannels(): number {
    return this.config.latentChannels;
  }

  /** Image pixels per latent pixel along each axis (8 for SD and FLUX). */
  get downscaleFactor(): number {
    return downscaleFactor(this.config);
  }

  /**
   * z [B, latent_channels, h, w], the raw latent diffusers' vae.decode(z) takes (already divided by the
   * scaling factor and shifted) → image [B, out_channels, f·h, f·w], about [-1, 1] for a trained VAE.
   */
  async decode(z: Tensor, opts: DecodeOptions = {}): Promise<Tensor> {
    const shape = this.checkInput('decode', 'z', z, this.config.latentChannels, 1);
    const [b, , h, w] = shape;
    const tile = this.tileFor(h, w, opts.tile);
    const data = z.data as Float32Array;
    return this.exclusive(async () => {
      const decodeWhole = async (latent: Float32Array, s: readonly [number, number, number, number]): Promise<Float32Array> => {
        const graph = await this.decoders.get(`${s[2]}x${s[3]}`, () => buildDecoderGraph(this.config, this.weights, s[2], s[3]));
        const out = await graph.run({ z: { data: latent, shape: s } });
        return out.sample.data as Float32Array;
      };
      if (!tile) {
        const f = this.downscaleFactor;
        return { data: await decodeWhole(data, shape), shape: [b, this.config.outChannels, h * f, w * f] };
      }
      return decodeTiled(data, shape, planTiles(h, w, tile), this.downscaleFactor, this.config.outChannels, decodeWhole);
    });
  }

  /** x [B, in_channels, H, W] in [-1, 1], H and W multiples of downscaleFactor → latent_dist.mean [B, latent_channels, H/f, W/f]. */
  async encode(x: Tensor): Promise<Tensor> {
    const f = this.downscaleFactor;
    const shape = this.checkInput('encode', 'x', x, this.config.inChannels, f);
    const [b, , h, w] = shape;
    return this.exclusive(async () => {
      const graph = await this.encoders.get(`${h}x${w}`, () => buildEncoderGraph(this.config, this.weights, h, w));
      const out = await graph.run({ x: { data: x.data as Float32Array, shape } });
      return { data: out.mean.data as Float32Array, shape: [b, this.config.latentChannels, h / f, w / f] };
    });
  }

  /** Frees every compiled graph; the VAE cannot be used afterwards. */
  async release(): Promise<void> {
    this.released = true;
    await this.queue.catch(() => undefined);
    await Promise.all([this.decoders.clear(), this.encoders.clear()]);
  }

  /** Which tiles decode uses for an h×w latent: undefined = decode whole. */
  private tileFor(h: number, w: number, option: TileOptions | false | undefined): TileOptions | undefined {
    if (option === false) return undefined;
    if (option !== undefined) {
      if (typeof option !== 'object' || option === null) throw new VAEInputError(`decode: tile must be { latentSize, overlap } or false, got ${String(option)}`);
      checkTileOptions(option);
      return option;
    }
    return Math.max(h, w) > this.tiling.autoAboveLatent ? this.tiling.tile : undefined;
  }

  private checkInput(method: string, name: string, t: Tensor, channels: number, multiple: number): Shape4 {
    const expected = `[B, ${channels}, H, W]`;
    const shape = t?.shape;
    if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new VAEInputError(`${method}: ${name} must be a 4-D tensor ${expected}, got shape ${JSON.stringify(shape)}`);
    }
    if (!(t.data instanceof Float32Array)) throw new VAEInputError(`${method}: ${name} must hold a Float32Array, got ${t.data?.constructor?.name ?? typeof t.data}`);
    if (t.data.length !== numel(shape)) throw new VAEInputError(`${method}: ${name} has ${t.data.length} values but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    if (shape[1] !== channels) {
      const [field, hint] = method === 'decode' ? ['latent_channels', ' (a latent made for another VAE?)'] : ['in_channels', ''];
      throw new VAEInputError(`${method}: ${name} has ${shape[1]} channels but this VAE's ${field} is ${channels}: expected ${expected}, got [${shape.join(', ')}]${hint}`);
    }
    if (shape[2] % multiple !== 0 || shape[3] % multiple !== 0) {
      throw new VAEInputError(`${method}: ${name} is ${shape[2]}×${shape[3]}, not a multiple of the downscale factor ${multiple}; crop or pad it to a multiple of ${multiple}`);
    }
    if (this.released) throw new VAEInputError(`${method}: this VAE (${this.source}) was released`);
    return shape as Shape4;
  }

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Weights handed to the constructor directly (not through loadVAE) get the same all-at-once check. */
function checkWeights(config: VAEConfig, weights: VAEWeights): void {
  const problems = weightProblems(vaeParameterShapes(config), weights);
  if (problems.length) throw new VAEInputError(`AutoencoderKL: the weights do not match the config (${problems.length} problems):\n  ${problems.join('\n  ')}`);
}
