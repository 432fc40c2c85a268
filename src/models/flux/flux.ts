// A loaded FLUX.1 transformer on the denoiser contract, bound to one geometry (packed latent grid and text
// length, as FluxPipeline fixes them per call). The block stack is the joint [text; image] token stream:
// double-stream blocks first, then single-stream blocks; the head reads the image tokens only.
import { ModelInputError, type Conditioning, type Denoiser, type OutputSize, type RowTensor, type SegmentOut, type TextConditioning } from '../denoiser.js';
import { nearestMultiples, orList } from '../sizes.js';
import type { Tensor } from '../tensor.js';
import type { WeightSource } from '../weights.js';
import { FluxConfig, ROPE_THETA, innerDim, outputWidth, stackDepth } from './config.js';
import { FluxEngine, FluxEngineOptions, HostConditioning } from './engine.js';
import type { TokenCounts } from './graph.js';
import { unpackLatents } from './packing.js';
import { blockFlopsAt, stackFlops } from './params.js';
import { parseRawInputs } from './raw-inputs.js';
import { RopeTables, imageIds, jointIds, ropeTables, textIds } from './rope.js';

/** The shapes one sampling run fixes. */
export interface FluxGeometry {
  /** packed latent grid, rows × cols tokens: image height/16 × width/16 (VAE ÷8, then 2×2 packing) */
  readonly imageGrid: readonly [number, number];
  /** text tokens: the T5 sequence length (FluxPipeline's max_sequence_length) */
  readonly textTokens: number;
}

/** FluxPipeline's defaults: 1024 × 1024 pixels (a 64 × 64 packed grid) and max_sequence_length 512. */
export const DEFAULT_FLUX_GEOMETRY: FluxGeometry = { imageGrid: [64, 64], textTokens: 512 };

/**
 * The geometry of a FluxPipeline call: an image of height × width pixels (multiples of 16: the VAE halves
 * three times, then 2 × 2 latent patches make one token) and `textTokens` T5 tokens.
 */
export function geometryForImage(heightPx: number, widthPx: number, textTokens: number): FluxGeometry {
  for (const [what, v] of [['height', heightPx], ['width', widthPx]] as const) {
    if (!Number.isInteger(v) || v < 16 || v % 16 !== 0) {
      const near = Number.isFinite(v) && v > 0 ? `; nearest valid: ${orList(nearestMultiples(v, 16))}` : '';
      throw new ModelInputError(`FLUX image ${what} must be a positive multiple of 16 pixels (VAE ÷8, then 2 × 2 packing), got ${v}${near}`);
    }
  }
  return { imageGrid: [heightPx / 16, widthPx / 16], textTokens };
}

export interface FluxOptions extends FluxEngineOptions {
  /** the geometry of the contract's segments (default DEFAULT_FLUX_GEOMETRY); forwardRaw takes any */
  geometry?: FluxGeometry;
}

/**
 * FLUX.1 on the denoiser contract.
 *
 * - Latents are token-major: `latentShape` is the packed [L_img, in_channels] of one sample (FluxPipeline's
 *   `_pack_latents` of the VAE latent; `packLatents` / `unpackLatents` convert), and the output is diffusers'
 *   `.sample`, [B, L_img, outputChannels] with `outputChannels` = proj_out's width (patch² · out_channels):
 *   the channel axis is the last one, and `outputShape(B)` = [B, L_img, outputChannels].
 * - Model time t is σ·1000 (the flow scheduler's timestep); FluxPipeline passes t/1000 to the transformer,
 *   which multiplies by 1000 again, so both meet at the same sinusoid input.
 * - Conditioning per row: `textEmbeddings` [L_txt, joint_attention_dim] (T5), `pooledText` [pooled_projection_dim]
 *   (CLIP), and `guidance` (the scale, e.g. 3.5) exactly when the model embeds guidance (FLUX.1-dev).
 * - Tokens T = L_txt + L_img, text first; `cond` is temb [R, D]. Position ids are FluxPipeline's: text ids
 *   zero, image ids (0, row, col) over `geometry.imageGrid`.
 * - `unconditional(cond)` returns `cond`: FLUX.1-dev is guidance-distilled and schnell timestep-distilled;
 *   both run without classifier-free guidance (a CFG run computes the same prediction twice, so use scale 1).
 *   A negative prompt needs the text encoders, which this model does not own.
 */
export class Flux implements Denoiser {
  readonly family = 'flux' as const;
  readonly objective = 'flow' as const;
  readonly learnedVariance = false;
  readonly depth: number;
  readonly tokens: number;
  readonly hiddenSize: number;
  readonly condSize: number;
  readonly latentShape: readonly number[];
  readonly outputChannels: number;
  /** mean FLOPs of one stack block on one row (double and single blocks differ; depth × this = the stack's) */
  readonly blockFlops: number;
  readonly textConditioning: TextConditioning;
  /** the image tokens, after the text: what the head reads and stack-level caches forecast */
  readonly outputTokens: { readonly start: number; readonly count: number };
  /** 'double' × num_layers, then 'single' × num_single_layers */
  readonly blockKinds: readonly string[];
  private readonly counts: TokenCounts;
  private readonly rope: RopeTables;

  /** A model for `weights` (diffusers keys) and `config`; see loadFlux for checkpoints on disk. */
  static create(config: FluxConfig, weights: WeightSource, opts: FluxOptions = {}): Flux {
    return new Flux(new FluxEngine(config, weights, opts), opts.geometry ?? DEFAULT_FLUX_GEOMETRY);
  }

  private constructor(
    private readonly engine: FluxEngine,
    readonly geometry: FluxGeometry,
  ) {
    const c = engine.config;
    const [rows, cols] = geometry.imageGrid;
    for (const [what, v] of [['imageGrid rows', rows], ['imageGrid cols', cols], ['textTokens', geometry.textTokens]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ModelInputError(`FLUX geometry: ${what} must be a positive integer, got ${v}`);
    }
    this.counts = { text: geometry.textTokens, image: rows * cols };
    this.depth = stackDepth(c);
    this.tokens = this.counts.text + this.counts.image;
    this.hiddenSize = innerDim(c);
    this.condSize = this.hiddenSize;
    this.latentShape = [this.counts.image, c.inChannels];
    this.outputChannels = outputWidth(c);
    this.blockFlops = stackFlops(c, this.tokens) / this.depth;
    this.outputTokens = { start: this.counts.text, count: this.counts.image };
    this.blockKinds = [...new Array<string>(c.numLayers).fill('double'), ...new Array<string>(c.numSingleLayers).fill('single')];
    this.rope = ropeTables(jointIds(textIds(this.counts.text), imageIds(rows, cols)), this.tokens, c.axesDimsRope, ROPE_THETA);
    // FluxPipeline: 1024 × 1024 by default, no CFG (guidance-distilled dev, timestep-distilled schnell).
    this.textConditioning = {
      textWidth: c.jointAttentionDim,
      pooledWidth: c.pooledProjectionDim,
      guidance: c.guidanceEmbeds,
      negativePrompt: false,
      defaults: { heightPx: 16 * DEFAULT_FLUX_GEOMETRY.imageGrid[0], widthPx: 16 * DEFAULT_FLUX_GEOMETRY.imageGrid[1], cfgScale: 1 },
    };
  }

  /** The same model at an image of heightPx × widthPx (multiples of 16) and `textTokens` T5 tokens; FLUX makes images, so no frames. */
  atSize(size: OutputSize): Flux {
    if (size.frames !== undefined) throw new ModelInputError(`FLUX makes images, not video: frames (${size.frames}) do not apply`);
    if (!Number.isInteger(size.textTokens) || size.textTokens < 1) throw new ModelInputError(`FLUX text tokens must be a positive integer, got ${size.textTokens}`);
    return this.withGeometry(geometryForImage(size.heightPx, size.widthPx, size.textTokens));
  }

  /** Packed samples [batch, L_img, in_channels] → VAE latents [batch, in_channels/4, 2·rows, 2·cols] (FluxPipeline._unpack_latents). */
  vaeLatent(samples: Float32Array, batch: number): { data: Float32Array; shape: number[] } {
    const [rows, cols] = this.geometry.imageGrid;
    const shape = [batch, this.engine.config.inChannels / 4, 2 * rows, 2 * cols];
    if (!Number.isInteger(shape[1])) throw new ModelInputError(`FLUX in_channels ${this.engine.config.inChannels} is not 4 × latent channels, so the samples cannot be unpacked for a VAE`);
    return { data: unpackLatents(samples, shape), shape };
  }

  /** The same model (weights, compiled graphs, threads) at another geometry. */
  withGeometry(geometry: FluxGeometry): Flux {
    return new Flux(this.engine, geometry);
  }

  get config(): FluxConfig {
    return this.engine.config;
  }

  get threads(): number {
    return this.engine.threads;
  }

  /** Wall time spent building graphs and sessions so far (ms), shared by every geometry of this model. */
  get compileMs(): number {
    return this.engine.compileMs;
  }

  /** Token counts ("text+image") whose compiled graphs are held now, least recently used first. */
  get compiledGeometries(): string[] {
    return this.engine.cachedGeometries;
  }

  /** FLOPs of stack block i (double or single) on one row at this geometry. */
  blockFlopsAt(i: number): number {
    return blockFlopsAt(this.engine.config, i, this.tokens);
  }

  outputShape(batch: number): number[] {
    return [batch, this.counts.image, this.outputChannels];
  }

  unconditional(cond: Conditioning): Conditioning {
    return cond;
  }

  // ---- checks of contract inputs ----

  private checkLatents(x: Float32Array, shape: readonly number[]): number {
    const [L, C] = this.latentShape;
    if (shape.length !== 3 || shape[1] !== L || shape[2] !== C || !Number.isInteger(shape[0]) || shape[0] < 1) {
      throw new ModelInputError(`FLUX latents must be packed [B, ${L}, ${C}] (L_img = ${this.geometry.imageGrid.join(' × ')} tokens; pack [B, C, H, W] latents with packLatents), got [${shape.join(', ')}]`);
    }
    if (x.length !== shape[0] * L * C) throw new ModelInputError(`FLUX latents hold ${x.length} values but [${shape.join(', ')}] needs ${shape[0] * L * C}`);
    return shape[0];
  }

  private rowTensor(name: string, t: RowTensor | undefined, shape: readonly number[], batch: number): Float32Array {
    if (!t) throw new ModelInputError(`FLUX conditioning needs ${name} (per row [${shape.join(', ')}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelInputError(`FLUX conditioning: ${name} rows must be [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
    const per = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== batch * per) throw new ModelInputError(`FLUX conditioning: ${name} holds ${t.data.length / per} rows, expected ${batch}`);
    return t.data;
  }

  /** The conditioning of `batch` rows in model units (guidance × 1000 as diffusers does, in float32). */
  private hostConditioning(t: readonly number[], cond: Conditioning, batch: number): HostConditioning {
    const c = this.engine.config;
    if (cond.classLabels) throw new ModelInputError('FLUX is text-conditioned: the conditioning carries textEmbeddings, pooledText and guidance, not classLabels');
    if (t.length !== batch || t.some((v) => !Number.isFinite(v))) throw new ModelInputError(`FLUX needs one finite timestep (σ·1000) per row: ${batch} rows, got [${t.join(', ')}]`);
    if (c.guidanceEmbeds) {
      if (!cond.guidance || cond.guidance.length !== batch || cond.guidance.some((v) => !Number.isFinite(v))) {
        throw new ModelInputError(`this FLUX model embeds the guidance scale (guidance_embeds, as FLUX.1-dev): the conditioning needs guidance, one finite value per row (${batch}), e.g. 3.5`);
      }
    } else if (cond.guidance) {
      throw new ModelInputError('this FLUX model has no guidance embedding (guidance_embeds false, as FLUX.1-schnell): leave guidance out of the conditioning');
    }
    return {
      timestep: Float32Array.from(t),
      ...(c.guidanceEmbeds ? { guidance: Float32Array.from(cond.guidance!, (g) => Math.fround(Math.fround(g) * 1000)) } : {}),
      pooled: this.rowTensor('pooledText', cond.pooledText, [c.pooledProjectionDim], batch),
    };
  }

  private textOf(cond: Conditioning, batch: number): Float32Array {
    return this.rowTensor('textEmbeddings', cond.textEmbeddings, [this.counts.text, this.engine.config.jointAttentionDim], batch);
  }

  private checkRange(from: number, ends: readonly number[]): void {
    const to = ends.at(-1) ?? from;
    const increasing = ends.every((e, k) => Number.isInteger(e) && e > (k === 0 ? from : ends[k - 1]));
    if (!(Number.isInteger(from) && 0 <= from && from < to && to <= this.depth && increasing)) {
      throw new ModelInputError(`FLUX block range [${from}, ${to}) split after [${ends.join(', ')}] is not an increasing split inside [0, ${this.depth})`);
    }
  }

  // ---- the contract's segments ----

  async embed(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning, opts: { withModulatedInput0?: boolean } = {}): Promise<SegmentOut> {
    const B = this.checkLatents(x, shape);
    const host = this.hostConditioning(t, cond, B);
    return this.engine.embed(this.counts, x, this.textOf(cond, B), host, !!opts.withModulatedInput0);
  }

  async blocks(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    this.checkRange(from, [to]);
    const [out] = await this.engine.blocksSplit(this.counts, from, [to], tokens, cond, batch, this.rope);
    return out;
  }

  async blocksSplit(from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    this.checkRange(from, ends);
    return this.engine.blocksSplit(this.counts, from, ends, tokens, cond, batch, this.rope);
  }

  async head(tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    return this.engine.head(this.counts, tokens, cond, batch);
  }

  async conditionedHead(tokens: Float32Array, t: readonly number[], cond: Conditioning, batch: number): Promise<Float32Array> {
    return this.engine.conditionedHead(this.counts, tokens, this.hostConditioning(t, cond, batch));
  }

  async forward(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning): Promise<Float32Array> {
    const B = this.checkLatents(x, shape);
    const host = this.hostConditioning(t, cond, B);
    return this.engine.forward(this.counts, x, this.textOf(cond, B), host, this.rope);
  }

  /**
   * diffusers' `FluxTransformer2DModel.forward(...).sample`: hidden_states [B, L_img, in_channels] (packed),
   * encoder_hidden_states [B, L_txt, joint_attention_dim], pooled_projections [B, pooled_projection_dim],
   * timestep [B] (σ = t/1000 as FluxPipeline passes it), img_ids [L_img, 3] and txt_ids [L_txt, 3] (or with a
   * leading batch axis, of which the first is used), guidance [B] iff guidance_embeds → [B, L_img, outputChannels].
   * Any token counts and ids, independent of `geometry`.
   */
  async forwardRaw(inputs: Readonly<Record<string, Tensor>>): Promise<Tensor> {
    const c = this.engine.config;
    const call = parseRawInputs(c, inputs);
    const T = call.counts.text + call.counts.image;
    const rope = ropeTables(call.ids, T, c.axesDimsRope, ROPE_THETA);
    const out = await this.engine.forward(call.counts, call.latents, call.text, call.conditioning, rope);
    return { data: out, shape: [call.batch, call.counts.image, outputWidth(c)] };
  }

  /** Frees every compiled session of this model (all geometries). */
  async release(): Promise<void> {
    await this.engine.release();
  }
}
