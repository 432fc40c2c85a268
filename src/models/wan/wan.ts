// A loaded Wan2.1 transformer on the denoiser contract: weights (diffusers keys) compiled into ORT
// sessions per segment — embed, block ranges, head — and a full graph, each compiled on first use and
// per input size. Block ranges whose weights exceed one graph's limit run as consecutive sessions.
import { GraphBuilder } from '../../graph/builder.js';
import { Value } from '../../graph/ir.js';
import { CompiledGraph, Feed, MAX_GRAPH_WEIGHT_BYTES, checkThreads, defaultThreads } from '../../runtime/session.js';
import { ModelInputError, rowCount, type Conditioning, type Denoiser, type OutputSize, type RowTensor, type SegmentOut, type TextConditioning } from '../denoiser.js';
import { numel, type Tensor } from '../tensor.js';
import { type WeightSource, weightProblems } from '../weights.js';
import { WanConfig, innerDim } from './config.js';
import { WAN_DEFAULT_TEXT_TOKENS, WAN_PIPELINE_DEFAULTS, WanGeometry, checkGeometry, latentSizeForVideo, condLayout, defaultLatentSize, geometryKey, tokenCount, tokenGrid } from './geometry.js';
import {
  ParamSource,
  RopeInputs,
  block,
  blockFlops,
  blockModulatedInput,
  head,
  packCond,
  parameterShapes,
  patchEmbed,
  textEmbedding,
  timeEmbedding,
  unpackCond,
} from './graph.js';
import { RopeTables, ropeTables } from './rope.js';

export interface WanOptions {
  /** ORT intra-op threads (default min(2, cores)) */
  threads?: number;
  /** ORT worker spinning (RuntimeOptions.spin); off by default */
  spin?: boolean;
  /**
   * One sample's latent [C, F, H, W] for the segment API (embed / blocks / head / forward); default
   * [in_channels, 21, 60, 104], diffusers WanPipeline's 81 frames at 480 × 832 (cut down where the patch
   * or the RoPE table needs it: defaultLatentSize). forwardRaw takes any size.
   */
  latentShape?: readonly number[];
  /** text tokens per row for the segment API (default 512: WanPipeline zero-pads every prompt to 512) */
  textTokens?: number;
  /** the umT5 embedding of the negative prompt [textTokens, text_dim], for `unconditional` (see setNegativeTextEmbedding) */
  negativeTextEmbedding?: RowTensor;
  /** weight bytes one compiled graph may hold (default WAN_GRAPH_WEIGHT_BYTES); larger block ranges are chained */
  maxGraphWeightBytes?: number;
  /** let onnxruntime pre-pack the weights (default: only for models up to PREPACK_MAX_WEIGHT_BYTES) */
  prepack?: boolean;
}

/**
 * Weight bytes per compiled graph by default: as DiT's DIT_GRAPH_WEIGHT_BYTES, small graphs keep the
 * compile-time peak (weights held ~2.5 times over while a graph compiles) low at no measured speed cost.
 * A block above it (Wan 14B: 1.4 GB) runs as a graph of its own, up to MAX_GRAPH_WEIGHT_BYTES.
 */
export const WAN_GRAPH_WEIGHT_BYTES = 4e8;

/** Models with more float32 weight bytes than this run without ORT's weight pre-packing by default (as DiT). */
export const PREPACK_MAX_WEIGHT_BYTES = 1e9;

const NEGATIVE_PROMPT_HINT =
  "Wan's unconditional (CFG) branch is the umT5 embedding of the negative prompt, which the transformer cannot compute: " +
  'encode it with the text encoder (WanPipeline: negative_prompt, default "", zero-padded to 512 tokens) and pass it as ' +
  'loadWan(path, { negativeTextEmbedding }) or wan.setNegativeTextEmbedding({ data, shape: [tokens, text_dim] })';

/** Parameters drawn from a weight source, checked against the expected PyTorch shapes. */
function paramsFrom(weights: WeightSource): ParamSource {
  return (g: GraphBuilder, key: string, shape: readonly number[]): Value => {
    const data = weights.get(key);
    if (!data) throw new ModelInputError(`missing weight "${key}" (expected shape [${shape.join(', ')}])`);
    return g.param(key, shape, data);
  };
}

export class Wan implements Denoiser {
  readonly family = 'wan' as const;
  readonly objective = 'flow' as const;
  readonly depth: number;
  readonly tokens: number;
  readonly hiddenSize: number;
  readonly condSize: number;
  readonly latentShape: readonly number[];
  readonly outputChannels: number;
  readonly learnedVariance = false;
  readonly blockFlops: number;
  /** the latent and text size of the segment API */
  readonly geometry: WanGeometry;
  readonly threads: number;
  readonly spin: boolean;
  /** umT5 hidden states of width text_dim, CFG against a negative prompt; WanPipeline's defaults */
  readonly textConditioning: TextConditioning;
  private negativeText?: Float32Array;
  private readonly options: WanOptions;
  private readonly maxGraphWeightBytes: number;
  private readonly blockWeightBytes: number;
  private readonly stemWeightBytes: number;
  private readonly prepack: boolean;
  private readonly compiled = new Map<string, Promise<CompiledGraph>>();
  private readonly ropes = new Map<string, RopeTables>();
  private compileMsTotal = 0;

  constructor(
    readonly config: WanConfig,
    readonly weights: WeightSource,
    opts: WanOptions = {},
  ) {
    this.options = opts;
    this.textConditioning = { textWidth: config.textDim, guidance: false, negativePrompt: true, defaults: WAN_PIPELINE_DEFAULTS };
    this.threads = checkThreads(opts.threads ?? defaultThreads());
    this.spin = opts.spin ?? false;
    const latent = opts.latentShape ?? [config.inChannels, ...defaultLatentSize(config)];
    if (latent.length !== 4 || latent[0] !== config.inChannels) {
      throw new ModelInputError(`latentShape must be [${config.inChannels}, frames, height, width] (in_channels first), got [${latent.join(', ')}]`);
    }
    this.geometry = { frames: latent[1], height: latent[2], width: latent[3], textTokens: opts.textTokens ?? WAN_DEFAULT_TEXT_TOKENS };
    checkGeometry(config, this.geometry);
    this.latentShape = [...latent];
    this.depth = config.numLayers;
    this.tokens = tokenCount(config, this.geometry);
    this.hiddenSize = innerDim(config);
    this.condSize = condLayout(config, this.geometry).size;
    this.outputChannels = config.outChannels;
    this.blockFlops = blockFlops(config, this.geometry);
    this.maxGraphWeightBytes = Math.min(opts.maxGraphWeightBytes ?? WAN_GRAPH_WEIGHT_BYTES, MAX_GRAPH_WEIGHT_BYTES);

    const expected = parameterShapes(config);
    const bytesOf = (keep: (k: string) => boolean): number => [...expected].reduce((a, [k, sh]) => a + (keep(k) ? 4 * numel(sh) : 0), 0);
    this.blockWeightBytes = bytesOf((k) => k.startsWith('blocks.0.'));
    this.stemWeightBytes = bytesOf((k) => !k.startsWith('blocks.'));
    this.prepack = opts.prepack ?? bytesOf(() => true) <= PREPACK_MAX_WEIGHT_BYTES;
    if (this.blockWeightBytes > MAX_GRAPH_WEIGHT_BYTES) {
      throw new ModelInputError(`one Wan block holds ${this.blockWeightBytes} weight bytes, more than one ONNX graph can (${MAX_GRAPH_WEIGHT_BYTES})`);
    }
    const problems = weightProblems(expected, weights);
    if (problems.length) throw new ModelInputError(`weights do not match the Wan config (${problems.length} problems):\n  ${problems.join('\n  ')}`);
    if (opts.negativeTextEmbedding) this.setNegativeTextEmbedding(opts.negativeTextEmbedding);
  }

  /**
   * The same weights and config for a video of `frames` (4k + 1) × heightPx × widthPx and `textTokens` umT5
   * tokens (a new model: graphs compile per size). The negative-prompt embedding carries over when it has
   * `textTokens` tokens (WanPipeline pads both prompts to the same length); otherwise set it again.
   */
  atSize(size: OutputSize): Wan {
    const [F, H, W] = latentSizeForVideo(this.config, size);
    const keep = this.negativeText && this.negativeText.length === size.textTokens * this.config.textDim;
    return new Wan(this.config, this.weights, {
      ...this.options,
      threads: this.threads,
      latentShape: [this.config.inChannels, F, H, W],
      textTokens: size.textTokens,
      negativeTextEmbedding: keep ? { data: this.negativeText!, shape: [size.textTokens, this.config.textDim] } : undefined,
    });
  }

  /** Samples [batch, C, F, H, W] are the Wan VAE's latents already. */
  vaeLatent(samples: Float32Array, batch: number): { data: Float32Array; shape: number[] } {
    const shape = [batch, ...this.latentShape];
    if (samples.length !== numel(shape)) throw new ModelInputError(`Wan samples hold ${samples.length} values but [${shape.join(', ')}] needs ${numel(shape)}`);
    return { data: samples, shape };
  }

  /** Wall time spent building graphs and creating their sessions so far (ms); see DiT.compileMs. */
  get compileMs(): number {
    return this.compileMsTotal;
  }

  /**
   * Sets the umT5 embedding of the negative prompt, [textTokens, text_dim] (one row), that
   * `unconditional` gives every row. The pipeline encodes it once; the transformer cannot.
   */
  setNegativeTextEmbedding(e: RowTensor): void {
    const [L, W] = [this.geometry.textTokens, this.config.textDim];
    if (e.shape.length !== 2 || e.shape[0] !== L || e.shape[1] !== W || e.data.length !== L * W) {
      throw new ModelInputError(`the negative-prompt embedding must be one row of [${L}, ${W}] (tokens, text_dim), got shape [${e.shape.join(', ')}] with ${e.data.length} values`);
    }
    if (!e.data.every(Number.isFinite)) throw new ModelInputError('the negative-prompt embedding holds NaN or infinite values');
    this.negativeText = Float32Array.from(e.data);
  }

  /** The negative-prompt embedding for every row (the CFG unconditional branch); throws until one is set. */
  unconditional(cond: Conditioning): Conditioning {
    if (!this.negativeText) throw new ModelInputError(NEGATIVE_PROMPT_HINT);
    const rows = rowCount(cond);
    const n = this.negativeText.length;
    const data = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) data.set(this.negativeText, r * n);
    return { ...cond, textEmbeddings: { data, shape: [this.geometry.textTokens, this.config.textDim] } };
  }

  outputShape(batch: number): number[] {
    return [batch, this.config.outChannels, this.geometry.frames, this.geometry.height, this.geometry.width];
  }

  // ---- graphs ----

  private graph(geo: WanGeometry, name: string, build: (g: GraphBuilder, P: ParamSource) => void): Promise<CompiledGraph> {
    const key = `${geometryKey(geo)}_${name}`;
    let p = this.compiled.get(key);
    if (!p) {
      const started = performance.now();
      const g = new GraphBuilder(`wan_${key}`);
      build(g, paramsFrom(this.weights));
      // Counted before any awaiting caller resumes, so its clock never sees the compile.
      p = CompiledGraph.create(g.build(), { threads: this.threads, spin: this.spin, prepack: this.prepack }).finally(() => {
        this.compileMsTotal += performance.now() - started;
      });
      this.compiled.set(key, p);
    }
    return p;
  }

  private videoInput(g: GraphBuilder, geo: WanGeometry): Value {
    return g.input('x', 'float32', ['B', this.config.inChannels, geo.frames, geo.height, geo.width]);
  }

  private tokenInputs(g: GraphBuilder, geo: WanGeometry): { h: Value; cond: Value; rope: RopeInputs } {
    return {
      h: g.input('h', 'float32', ['B', tokenCount(this.config, geo), this.hiddenSize]),
      cond: g.input('cond', 'float32', ['B', condLayout(this.config, geo).size]),
      rope: this.ropeInputs(g, geo),
    };
  }

  private ropeInputs(g: GraphBuilder, geo: WanGeometry): RopeInputs {
    const shape = [tokenCount(this.config, geo), this.config.headDim / 2];
    return { cos: g.input('rope_cos', 'float32', shape), sin: g.input('rope_sin', 'float32', shape) };
  }

  private ropeFeeds(geo: WanGeometry): Record<string, Feed> {
    const key = geometryKey(geo);
    let r = this.ropes.get(key);
    if (!r) {
      r = ropeTables(this.config, tokenGrid(this.config, geo));
      this.ropes.set(key, r);
    }
    const shape = [tokenCount(this.config, geo), this.config.headDim / 2];
    return { rope_cos: { data: r.cos, shape }, rope_sin: { data: r.sin, shape } };
  }

  /** Feeds x [B, C, F, H, W], t [B] and the umT5 text [B, L, text_dim]. */
  private inputFeeds(geo: WanGeometry, x: Float32Array, t: readonly number[], text: Float32Array): Record<string, Feed> {
    const B = t.length;
    return {
      x: { data: x, shape: [B, this.config.inChannels, geo.frames, geo.height, geo.width] },
      t: { data: Float32Array.from(t), shape: [B] },
      text: { data: text, shape: [B, geo.textTokens, this.config.textDim] },
    };
  }

  private tokenFeeds(geo: WanGeometry, tokens: Float32Array, cond: Float32Array, batch: number): Record<string, Feed> {
    const T = tokenCount(this.config, geo);
    const D = this.hiddenSize;
    const C = condLayout(this.config, geo).size;
    if (!Number.isInteger(batch) || batch < 1 || tokens.length !== batch * T * D || cond.length !== batch * C) {
      throw new ModelInputError(`tokens must be [${batch}, ${T}, ${D}] and cond [${batch}, ${C}]; got ${tokens.length} and ${cond.length} values`);
    }
    return { h: { data: tokens, shape: [batch, T, D] }, cond: { data: cond, shape: [batch, C] } };
  }

  // ---- input checks ----

  /** Checks x against [B, …latentShape] and t, text against B rows; returns B. */
  private checkSegmentInputs(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning): { B: number; text: Float32Array } {
    const [B, ...sample] = shape;
    if (shape.length !== 5 || sample.some((d, i) => d !== this.latentShape[i])) {
      throw new ModelInputError(`x must be [B, ${this.latentShape.join(', ')}], got [${shape.join(', ')}] (this Wan was set up for latentShape [${this.latentShape.join(', ')}]; forwardRaw takes any size)`);
    }
    if (x.length !== numel(shape)) throw new ModelInputError(`x has ${x.length} values but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    this.checkTimesteps(t, B);
    return { B, text: this.textOf(cond, B) };
  }

  private checkTimesteps(t: readonly number[], B: number): void {
    if (t.length !== B) throw new ModelInputError(`t needs one timestep per row (B = ${B}), got ${t.length}`);
    for (const v of t) if (!Number.isFinite(v)) throw new ModelInputError(`timestep ${v} is not finite`);
  }

  /** The umT5 hidden states of B rows, [B, L, text_dim] flat, from the conditioning. */
  private textOf(cond: Conditioning, B: number): Float32Array {
    const te = cond.textEmbeddings;
    const [L, W] = [this.geometry.textTokens, this.config.textDim];
    if (!te) throw new ModelInputError(`a Wan transformer is text-conditioned: the conditioning needs textEmbeddings (umT5 hidden states, [${L}, ${W}] per row)`);
    if (te.shape.length !== 2 || te.shape[0] !== L || te.shape[1] !== W) {
      throw new ModelInputError(`textEmbeddings rows must be [${L}, ${W}] (tokens, text_dim), got [${te.shape.join(', ')}]; WanPipeline zero-pads prompts to 512 tokens — pad them so, or load the model with textTokens set`);
    }
    if (te.data.length !== B * L * W) throw new ModelInputError(`textEmbeddings hold ${te.data.length / (L * W)} rows, x and t ${B}`);
    return te.data;
  }

  // ---- segments ----

  /**
   * Segment `embed`: x [R, C, F, H, W], t [R] (0…1000) and the text → tokens [R, T, D] and cond
   * [R, condSize] (temb ‖ timestep_proj ‖ projected text, geometry.ts CondLayout); with
   * `withModulatedInput0`, block 0's modulated self-attention input from the same session call.
   */
  async embed(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning, opts: { withModulatedInput0?: boolean } = {}): Promise<SegmentOut> {
    const { text } = this.checkSegmentInputs(x, shape, t, cond);
    return this.embedAt(this.geometry, x, t, text, !!opts.withModulatedInput0);
  }

  private async embedAt(geo: WanGeometry, x: Float32Array, t: readonly number[], text: Float32Array, withMod: boolean): Promise<SegmentOut> {
    const c = this.config;
    const cg = await this.graph(geo, withMod ? 'embed_mod0' : 'embed', (g, P) => {
      const tokens = patchEmbed(g, P, c, geo, this.videoInput(g, geo));
      const { temb, timestepProj } = timeEmbedding(g, P, c, g.input('t', 'float32', ['B']));
      const context = textEmbedding(g, P, c, g.input('text', 'float32', ['B', geo.textTokens, c.textDim]));
      g.output('tokens', tokens);
      g.output('cond', packCond(g, c, geo, temb, { timestepProj, text: context }));
      if (withMod) g.output('mod0', blockModulatedInput(g, P, c, 0, tokens, timestepProj));
    });
    const r = await cg.run(this.inputFeeds(geo, x, t, text));
    return { tokens: r.tokens.data as Float32Array, cond: r.cond.data as Float32Array, modulatedInput0: withMod ? (r.mod0.data as Float32Array) : undefined };
  }

  /** [from, to) cut into consecutive ranges whose weights fit one graph. */
  private chunks(from: number, to: number): [number, number][] {
    const per = Math.max(1, Math.floor(this.maxGraphWeightBytes / this.blockWeightBytes));
    const out: [number, number][] = [];
    for (let a = from; a < to; a += per) out.push([a, Math.min(to, a + per)]);
    return out;
  }

  /** Blocks `from` … `to − 1` on tokens [batch, T, D]: one session, or chained ones above the graph weight limit. */
  async blocks(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= this.depth)) {
      throw new ModelInputError(`block range [${from}, ${to}) is not inside [0, ${this.depth})`);
    }
    return this.blocksAt(this.geometry, from, to, tokens, cond, batch);
  }

  private async blocksAt(geo: WanGeometry, from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    let h = tokens;
    for (const [a, b] of this.chunks(from, to)) h = (await this.blocksOneGraph(geo, a, [b], h, cond, batch))[0];
    return h;
  }

  /**
   * Blocks [from, ends.at(−1)) in one session call per graph chunk, returning the hidden state after
   * block e − 1 for each e in `ends` (strictly increasing): per-block caching's section outputs.
   */
  async blocksSplit(from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    const to = ends.at(-1) ?? from;
    const increasing = ends.every((e, k) => Number.isInteger(e) && e > (k === 0 ? from : ends[k - 1]));
    if (!(Number.isInteger(from) && 0 <= from && from < to && to <= this.depth && increasing)) {
      throw new ModelInputError(`block range [${from}, ${to}) split after [${ends.join(', ')}] is not an increasing split inside [0, ${this.depth})`);
    }
    const outs = new Map<number, Float32Array>();
    let h = tokens;
    for (const [a, b] of this.chunks(from, to)) {
      const cut = [...ends.filter((e) => e > a && e < b), b];
      const r = await this.blocksOneGraph(this.geometry, a, cut, h, cond, batch);
      cut.forEach((e, k) => outs.set(e, r[k]));
      h = r[r.length - 1];
    }
    return ends.map((e) => outs.get(e)!);
  }

  /** One session: blocks [from, ends.at(−1)) with an output after each block e − 1, e in ends. */
  private async blocksOneGraph(geo: WanGeometry, from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    const to = ends.at(-1)!;
    const c = this.config;
    const cg = await this.graph(geo, `blocks_${from}_${ends.join('_')}`, (g, P) => {
      const inp = this.tokenInputs(g, geo);
      const parts = unpackCond(g, c, geo, inp.cond);
      let x = inp.h;
      for (let i = from; i < to; i++) {
        x = block(g, P, c, geo, i, x, parts, inp.rope);
        if (ends.includes(i + 1)) g.output(`out${i + 1}`, x);
      }
    });
    const r = await cg.run({ ...this.tokenFeeds(geo, tokens, cond, batch), ...this.ropeFeeds(geo) });
    return ends.map((e) => r[`out${e}`].data as Float32Array);
  }

  /** Segment `head`: tokens [batch, T, D] and cond → [batch, out_channels, F, H, W]. */
  async head(tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    return this.headAt(this.geometry, tokens, cond, batch);
  }

  private async headAt(geo: WanGeometry, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    const c = this.config;
    const cg = await this.graph(geo, 'head', (g, P) => {
      const h = g.input('h', 'float32', ['B', tokenCount(c, geo), this.hiddenSize]);
      const { temb } = unpackCond(g, c, geo, g.input('cond', 'float32', ['B', condLayout(c, geo).size]));
      g.output('out', head(g, P, c, geo, h, temb));
    });
    const r = await cg.run(this.tokenFeeds(geo, tokens, cond, batch));
    return r.out.data as Float32Array;
  }

  /**
   * The head on forecast stack outputs, with temb made from t in the same session call (the head reads
   * nothing of the text): tokens [batch, T, D] → [batch, out_channels, F, H, W]; the same ops as embed's
   * time embedding followed by `head`, so the same numbers.
   */
  async conditionedHead(tokens: Float32Array, t: readonly number[], _cond: Conditioning, batch: number): Promise<Float32Array> {
    const c = this.config;
    const geo = this.geometry;
    if (tokens.length !== batch * this.tokens * this.hiddenSize) {
      throw new ModelInputError(`tokens must be [${batch}, ${this.tokens}, ${this.hiddenSize}], got ${tokens.length} values`);
    }
    this.checkTimesteps(t, batch);
    const cg = await this.graph(geo, 'cond_head', (g, P) => {
      const h = g.input('h', 'float32', ['B', this.tokens, this.hiddenSize]);
      const { temb } = timeEmbedding(g, P, c, g.input('t', 'float32', ['B']));
      g.output('out', head(g, P, c, geo, h, temb));
    });
    const r = await cg.run({ h: { data: tokens, shape: [batch, this.tokens, this.hiddenSize] }, t: { data: Float32Array.from(t), shape: [batch] } });
    return r.out.data as Float32Array;
  }

  /** The whole network at the segment API's size: x [R, C, F, H, W] → [R, out_channels, F, H, W]. */
  async forward(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning): Promise<Float32Array> {
    const { text } = this.checkSegmentInputs(x, shape, t, cond);
    return this.forwardAt(this.geometry, x, t, text);
  }

  /** One graph when all weights fit one, else embed → block chunks → head. */
  private async forwardAt(geo: WanGeometry, x: Float32Array, t: readonly number[], text: Float32Array): Promise<Float32Array> {
    const B = t.length;
    if (this.stemWeightBytes + this.depth * this.blockWeightBytes > this.maxGraphWeightBytes) {
      const e = await this.embedAt(geo, x, t, text, false);
      return this.headAt(geo, await this.blocksAt(geo, 0, this.depth, e.tokens, e.cond, B), e.cond, B);
    }
    const c = this.config;
    const cg = await this.graph(geo, 'full', (g, P) => {
      let h = patchEmbed(g, P, c, geo, this.videoInput(g, geo));
      const { temb, timestepProj } = timeEmbedding(g, P, c, g.input('t', 'float32', ['B']));
      const context = textEmbedding(g, P, c, g.input('text', 'float32', ['B', geo.textTokens, c.textDim]));
      const rope = this.ropeInputs(g, geo);
      for (let i = 0; i < this.depth; i++) h = block(g, P, c, geo, i, h, { timestepProj, text: context }, rope);
      g.output('out', head(g, P, c, geo, h, temb));
    });
    const r = await cg.run({ ...this.inputFeeds(geo, x, t, text), ...this.ropeFeeds(geo) });
    return r.out.data as Float32Array;
  }

  /**
   * diffusers' `WanTransformer3DModel.forward(hidden_states, timestep, encoder_hidden_states).sample`:
   * hidden_states [B, C, F, H, W] float32 (any F, H, W the patch tiles), timestep [B] or one value for
   * every sample (float or int64, 0…1000, not divided), encoder_hidden_states [B, L, text_dim] float32
   * (any L) → [B, out_channels, F, H, W]. Sizes other than the segment API's compile graphs of their own.
   */
  async forwardRaw(inputs: Readonly<Record<string, Tensor>>): Promise<Tensor> {
    const known = ['hidden_states', 'timestep', 'encoder_hidden_states'];
    if (inputs.encoder_hidden_states_image) {
      throw new ModelInputError('Wan forwardRaw: encoder_hidden_states_image is for image-to-video transformers; this one is text-to-video');
    }
    const unknown = Object.keys(inputs).filter((k) => !known.includes(k));
    if (unknown.length) throw new ModelInputError(`Wan forwardRaw: unknown input(s) ${unknown.join(', ')}; it takes ${known.join(', ')}`);
    const { hidden_states: x, timestep, encoder_hidden_states: text } = inputs;
    if (!x || !timestep || !text) throw new ModelInputError(`Wan forwardRaw needs hidden_states, timestep and encoder_hidden_states; got ${Object.keys(inputs).join(', ') || 'nothing'}`);
    const c = this.config;
    if (!(x.data instanceof Float32Array) || x.shape.length !== 5 || x.shape[1] !== c.inChannels) {
      throw new ModelInputError(`Wan forwardRaw: hidden_states must be float32 [B, ${c.inChannels}, frames, height, width], got ${x.data.constructor.name} [${x.shape.join(', ')}]`);
    }
    const [B, , F, H, W] = x.shape;
    if (x.data.length !== numel(x.shape)) throw new ModelInputError(`Wan forwardRaw: hidden_states has ${x.data.length} values but shape [${x.shape.join(', ')}] needs ${numel(x.shape)}`);
    if (!(text.data instanceof Float32Array) || text.shape.length !== 3 || text.shape[0] !== B || text.shape[2] !== c.textDim || text.data.length !== numel(text.shape)) {
      throw new ModelInputError(`Wan forwardRaw: encoder_hidden_states must be float32 [${B}, tokens, ${c.textDim}] (B from hidden_states, text_dim from the config), got ${text.data.constructor.name} [${text.shape.join(', ')}] with ${text.data.length} values`);
    }
    if (timestep.shape.length > 1) {
      throw new ModelInputError(`Wan forwardRaw: timestep must be [B] or one value, got shape [${timestep.shape.join(', ')}] (per-token timesteps are Wan2.2 TI2V's, not supported)`);
    }
    const tAll = Array.from(timestep.data as ArrayLike<number | bigint>, Number);
    if (tAll.length !== 1 && tAll.length !== B) throw new ModelInputError(`Wan forwardRaw: timestep must hold 1 or B = ${B} values, got ${tAll.length}`);
    const t = tAll.length === 1 ? new Array<number>(B).fill(tAll[0]) : tAll;
    this.checkTimesteps(t, B);
    const geo: WanGeometry = { frames: F, height: H, width: W, textTokens: text.shape[1] };
    checkGeometry(c, geo);
    const out = await this.forwardAt(geo, x.data, t, text.data);
    return { data: out, shape: [B, c.outChannels, F, H, W] };
  }

  /** Frees every compiled session. */
  async release(): Promise<void> {
    for (const p of this.compiled.values()) await (await p).release();
    this.compiled.clear();
  }
}
