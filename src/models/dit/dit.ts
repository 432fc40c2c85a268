// A loaded DiT on the denoiser contract: weights (original-DiT keys, PyTorch shapes) compiled into ORT
// sessions per segment — embed, block ranges, head — and a `full` graph, each compiled on first use. Block
// ranges whose weights exceed one graph's limit run as consecutive sessions (protobuf caps a model at 2 GB).
import { GraphBuilder } from '../../graph/builder.js';
import { Value } from '../../graph/ir.js';
import { CompiledGraph, MAX_GRAPH_WEIGHT_BYTES, checkThreads, defaultThreads } from '../../runtime/session.js';
import { ModelInputError, type ClassSpace, type Conditioning, type Denoiser, type Objective, type SegmentOut } from '../denoiser.js';
import { numel, type Tensor } from '../tensor.js';
import { type WeightSource, weightProblems } from '../weights.js';
import { DiTConfig, numTokens, outChannels } from './dit-config.js';
import { ParamSource, block, blockFlops, blockModulatedInput, conditioning, embed, head, parameterShapes } from './dit-graph.js';

/** A DiT's weights by original key: a Map, or LazyWeights that load each tensor when a graph needs it. */
export type DiTWeights = WeightSource;

export { ModelInputError };

/** Parameters drawn from a weight map, checked against the expected PyTorch shapes. */
export function paramsFrom(weights: DiTWeights): ParamSource {
  return (g: GraphBuilder, key: string, shape: readonly number[]): Value => {
    const data = weights.get(key);
    if (!data) throw new ModelInputError(`missing weight "${key}" (expected shape [${shape.join(', ')}])`);
    return g.param(key, shape, data);
  };
}

export type { SegmentOut };

/** Class labels per row: the contract's Conditioning, or (as before the contract) a plain label array. */
export type DiTLabels = Conditioning | readonly number[];

function labelsOf(y: DiTLabels): readonly number[] {
  if (Array.isArray(y)) return y as readonly number[];
  const labels = (y as Conditioning).classLabels;
  if (!labels) throw new ModelInputError('a DiT is class-conditional: the conditioning needs classLabels (one per row)');
  return labels;
}

export interface DiTOptions {
  threads?: number;
  spin?: boolean;
  /** what the checkpoint was trained to predict (default ε, as every released DiT) */
  objective?: Objective;
  /** display names of the classes, index = label (a pipeline folder's id2label) */
  labelNames?: readonly string[];
  /** weight bytes one compiled graph may hold (default DIT_GRAPH_WEIGHT_BYTES); larger ranges are chained */
  maxGraphWeightBytes?: number;
  /**
   * Let onnxruntime pre-pack the weights (RuntimeOptions.prepack). Default: only for models up to
   * PREPACK_MAX_WEIGHT_BYTES — beyond, memory matters more than the ~7 % it buys (DiT-XL/2: peak RSS
   * 1.5× instead of 2.2× its weights).
   */
  prepack?: boolean;
}

/**
 * Weight bytes per compiled graph by default. Compiling a graph briefly holds its weights ~2.5 times over
 * (serialized model, ORT's parsed copy, its tensors), so smaller graphs keep the peak low: DiT-XL/2 in
 * 1.35 GB graphs peaked at 2.06× its weights, in 0.4 GB graphs at 1.56× (bench/results/engine-2026-12-06.txt), with no measurable loss of speed.
 */
export const DIT_GRAPH_WEIGHT_BYTES = 4e8;

/** Models with more float32 weight bytes than this run without ORT's weight pre-packing by default. */
export const PREPACK_MAX_WEIGHT_BYTES = 1e9;

export class DiT implements Denoiser {
  readonly family = 'dit' as const;
  readonly objective: Objective;
  readonly tokens: number;
  readonly hiddenSize: number;
  readonly condSize: number;
  readonly latentShape: readonly number[];
  readonly outputChannels: number;
  readonly learnedVariance: boolean;
  readonly classes: ClassSpace;
  readonly blockFlops: number;
  private readonly maxGraphWeightBytes: number;
  private readonly blockWeightBytes: number;
  private readonly stemWeightBytes: number;
  private readonly prepack: boolean;
  private readonly compiled = new Map<string, Promise<CompiledGraph>>();
  private compileMsTotal = 0;
  readonly threads: number;
  /** ORT worker spinning (RuntimeOptions.spin); off by default. */
  readonly spin: boolean;

  constructor(
    readonly config: DiTConfig,
    readonly weights: DiTWeights,
    opts: DiTOptions = {},
  ) {
    this.threads = checkThreads(opts.threads ?? defaultThreads());
    this.spin = opts.spin ?? false;
    this.objective = opts.objective ?? 'eps';
    this.tokens = numTokens(config);
    this.hiddenSize = config.hiddenSize;
    this.condSize = config.hiddenSize;
    this.latentShape = [config.inChannels, config.inputSize, config.inputSize];
    this.outputChannels = outChannels(config);
    this.learnedVariance = config.learnSigma;
    if (opts.labelNames && opts.labelNames.length !== config.numClasses) {
      throw new ModelInputError(`${opts.labelNames.length} label names for a DiT with ${config.numClasses} classes`);
    }
    this.classes = { count: config.numClasses, nullLabel: config.numClasses, ...(opts.labelNames ? { names: opts.labelNames } : {}) };
    this.blockFlops = blockFlops(config);
    this.maxGraphWeightBytes = Math.min(opts.maxGraphWeightBytes ?? DIT_GRAPH_WEIGHT_BYTES, MAX_GRAPH_WEIGHT_BYTES);
    const expected = parameterShapes(config);
    const bytesOf = (keep: (k: string) => boolean): number => [...expected].reduce((a, [k, sh]) => a + (keep(k) ? 4 * numel(sh) : 0), 0);
    this.blockWeightBytes = bytesOf((k) => k.startsWith('blocks.0.'));
    this.stemWeightBytes = bytesOf((k) => !k.startsWith('blocks.'));
    this.prepack = opts.prepack ?? bytesOf(() => true) <= PREPACK_MAX_WEIGHT_BYTES;
    if (this.blockWeightBytes > this.maxGraphWeightBytes) {
      throw new ModelInputError(`one DiT block holds ${this.blockWeightBytes} weight bytes, more than one graph may (${this.maxGraphWeightBytes})`);
    }
    const problems = weightProblems(expected, weights);
    if (problems.length) throw new ModelInputError(`weights do not match the DiT config:\n  ${problems.join('\n  ')}`);
  }

  get depth(): number {
    return this.config.depth;
  }

  /**
   * Wall time spent so far building graphs and creating their sessions (ms). A graph is compiled on its
   * first use, inside whatever call needs it; the pipeline's clocks subtract this so a run's phase times
   * and wall time measure sampling, and report the one-time setup apart.
   */
  get compileMs(): number {
    return this.compileMsTotal;
  }

  private graph(key: string, build: (g: GraphBuilder, P: ParamSource) => void): Promise<CompiledGraph> {
    let p = this.compiled.get(key);
    if (!p) {
      const started = performance.now();
      const g = new GraphBuilder(key);
      build(g, paramsFrom(this.weights));
      // Counted before any awaiting caller resumes, so its clock never sees the compile.
      p = CompiledGraph.create(g.build(), { threads: this.threads, spin: this.spin, prepack: this.prepack }).finally(() => {
        this.compileMsTotal += performance.now() - started;
      });
      this.compiled.set(key, p);
    }
    return p;
  }

  private xShape(): [string, number, number, number] {
    const c = this.config;
    return ['B', c.inChannels, c.inputSize, c.inputSize];
  }

  private checkInputs(x: Float32Array, shape: readonly number[], t: readonly number[], y: readonly number[]): number {
    const c = this.config;
    const [B, C, H, W] = shape;
    if (shape.length !== 4 || C !== c.inChannels || H !== c.inputSize || W !== c.inputSize) {
      throw new ModelInputError(`x must be [B, ${c.inChannels}, ${c.inputSize}, ${c.inputSize}], got [${shape.join(', ')}]`);
    }
    if (x.length !== B * C * H * W) throw new ModelInputError(`x has ${x.length} values but shape [${shape.join(', ')}] needs ${B * C * H * W}`);
    if (t.length !== B || y.length !== B) throw new ModelInputError(`t and y need one entry per sample (B = ${B}), got ${t.length} and ${y.length}`);
    this.checkConditioning(t, y);
    return B;
  }

  private checkConditioning(t: readonly number[], y: readonly number[]): void {
    const c = this.config;
    t.forEach((v) => {
      if (!Number.isFinite(v)) throw new ModelInputError(`timestep ${v} is not finite`);
    });
    y.forEach((v) => {
      if (!Number.isInteger(v) || v < 0 || v > c.numClasses) {
        throw new ModelInputError(`class label ${v} out of range [0, ${c.numClasses}] (${c.numClasses} is the unconditional/null class)`);
      }
    });
  }

  private feedsXty(x: Float32Array, shape: readonly number[], t: readonly number[], y: readonly number[]) {
    return { x: { data: x, shape }, ...this.conditioningFeeds(t, y) };
  }

  /** Feeds for the conditioning inputs declared by `conditioningInputs`. */
  private conditioningFeeds(t: readonly number[], y: readonly number[]) {
    return {
      t: { data: Float32Array.from(t), shape: [t.length] },
      y: { data: BigInt64Array.from(y.map((v) => BigInt(v))), shape: [y.length] },
    };
  }

  /** Graph inputs t [B] (model timesteps) and y [B] (class labels, int64). */
  private conditioningInputs(g: GraphBuilder): [Value, Value] {
    return [g.input('t', 'float32', ['B']), g.input('y', 'int64', ['B'])];
  }

  /** The whole model: x [B,C,H,W], t, y → [B, outC, H, W]; one graph when its weights fit one, else the segments chained. */
  async forward(x: Float32Array, shape: readonly number[], t: readonly number[], y: DiTLabels): Promise<Float32Array> {
    const labels = labelsOf(y);
    const B = this.checkInputs(x, shape, t, labels);
    if (this.stemWeightBytes + this.config.depth * this.blockWeightBytes > this.maxGraphWeightBytes) {
      const e = await this.embed(x, shape, t, labels);
      return this.head(await this.blocks(0, this.config.depth, e.tokens, e.cond, B), e.cond, B);
    }
    const cg = await this.graph('full', (g, P) => {
      const xs = g.input('x', 'float32', this.xShape());
      const e = embed(g, P, this.config, xs, ...this.conditioningInputs(g));
      let h = e.tokens;
      for (let i = 0; i < this.config.depth; i++) h = block(g, P, this.config, i, h, e.cond);
      g.output('out', head(g, P, this.config, h, e.cond));
    });
    const r = await cg.run(this.feedsXty(x, shape, t, labels));
    return r.out.data as Float32Array;
  }

  /**
   * diffusers' `DiTTransformer2DModel.forward(hidden_states, timestep, class_labels).sample`: hidden_states
   * [B, C, H, W] float32, timestep [B] (or one value for every sample; float or int64), class_labels [B]
   * int64 → [B, outC, H, W].
   */
  async forwardRaw(inputs: Readonly<Record<string, Tensor>>): Promise<Tensor> {
    const known = ['hidden_states', 'timestep', 'class_labels'];
    const unknown = Object.keys(inputs).filter((k) => !known.includes(k));
    if (unknown.length) throw new ModelInputError(`DiT forwardRaw: unknown input(s) ${unknown.join(', ')}; it takes ${known.join(', ')}`);
    const { hidden_states: x, timestep, class_labels: labels } = inputs;
    if (!x || !timestep || !labels) throw new ModelInputError(`DiT forwardRaw needs hidden_states, timestep and class_labels; got ${Object.keys(inputs).join(', ') || 'nothing'}`);
    if (!(x.data instanceof Float32Array)) throw new ModelInputError('DiT forwardRaw: hidden_states must be float32 (Float32Array)');
    const B = x.shape[0];
    const numbers = (v: Tensor): number[] => Array.from(v.data as ArrayLike<number | bigint>, Number);
    const tAll = numbers(timestep);
    if (tAll.length !== 1 && tAll.length !== B) throw new ModelInputError(`DiT forwardRaw: timestep must hold 1 or B = ${B} values, got shape [${timestep.shape.join(', ')}]`);
    const t = tAll.length === 1 ? new Array<number>(B).fill(tAll[0]) : tAll;
    const y = numbers(labels);
    const out = await this.forward(x.data, x.shape, t, y);
    return { data: out, shape: this.outputShape(B) };
  }

  /**
   * Segment `embed`: → tokens [B, T, D] and conditioning [B, D]; with `withModulatedInput0`, also block 0's
   * modulated attention input [B, T, D] (TeaCache's signal) from the same session call.
   */
  async embed(x: Float32Array, shape: readonly number[], t: readonly number[], y: DiTLabels, opts: { withModulatedInput0?: boolean } = {}): Promise<SegmentOut> {
    const labels = labelsOf(y);
    this.checkInputs(x, shape, t, labels);
    const withMod = !!opts.withModulatedInput0;
    const cg = await this.graph(withMod ? 'embed_mod0' : 'embed', (g, P) => {
      const e = embed(g, P, this.config, g.input('x', 'float32', this.xShape()), ...this.conditioningInputs(g));
      g.output('tokens', e.tokens);
      g.output('cond', e.cond);
      if (withMod) g.output('mod0', blockModulatedInput(g, P, this.config, 0, e.tokens, e.cond));
    });
    const r = await cg.run(this.feedsXty(x, shape, t, labels));
    return { tokens: r.tokens.data as Float32Array, cond: r.cond.data as Float32Array, modulatedInput0: withMod ? (r.mod0.data as Float32Array) : undefined };
  }

  private tokenFeeds(tokens: Float32Array, cond: Float32Array, batch: number) {
    const D = this.config.hiddenSize;
    if (tokens.length !== batch * this.tokens * D || cond.length !== batch * D) {
      throw new ModelInputError(`tokens must be [${batch}, ${this.tokens}, ${D}] and cond [${batch}, ${D}]`);
    }
    return { h: { data: tokens, shape: [batch, this.tokens, D] }, cond: { data: cond, shape: [batch, D] } };
  }

  private tokenInputs(g: GraphBuilder): [Value, Value] {
    const D = this.config.hiddenSize;
    return [g.input('h', 'float32', ['B', this.tokens, D]), g.input('cond', 'float32', ['B', D])];
  }

  /** [from, to) cut into consecutive ranges whose weights fit one graph. */
  /** Blocks one graph may hold. */
  private get blocksPerGraph(): number {
    return Math.max(1, Math.floor(this.maxGraphWeightBytes / this.blockWeightBytes));
  }

  /** The model's stack does not fit one graph: block ranges run as chained chunk graphs. */
  private get chained(): boolean {
    return this.blocksPerGraph < this.config.depth;
  }

  /**
   * [from, to) cut into consecutive ranges whose weights fit one graph. Chained models cut at multiples of
   * blocksPerGraph, so every method's ranges reuse the same chunk graphs — each a copy of its blocks'
   * weights inside onnxruntime — instead of compiling overlapping ones (only a range starting mid-chunk,
   * like first-block caching's [1, depth), adds a partial chunk).
   */
  private chunks(from: number, to: number): [number, number][] {
    if (!this.chained) return [[from, to]];
    const per = this.blocksPerGraph;
    const out: [number, number][] = [];
    for (let a = from; a < to; ) {
      const b = Math.min(to, (Math.floor(a / per) + 1) * per);
      out.push([a, b]);
      a = b;
    }
    return out;
  }

  /**
   * A chunk of a chained model as one graph returning every block's output: the plain range and every
   * split of it share this graph (the extra outputs cost a copy each, ~1 % of an XL step).
   */
  private async chunkOutputs(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    const cg = await this.graph(`chunk_${from}_${to}`, (g, P) => {
      const [h, c] = this.tokenInputs(g);
      let x = h;
      for (let i = from; i < to; i++) {
        x = block(g, P, this.config, i, x, c);
        g.output(`out${i + 1}`, x);
      }
    });
    const r = await cg.run(this.tokenFeeds(tokens, cond, batch));
    return Array.from({ length: to - from }, (_, k) => r[`out${from + k + 1}`].data as Float32Array);
  }

  /** Blocks `from` … `to − 1` (from = to − 1 is a single block): one session, or chained ones above the graph weight limit. */
  async blocks(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= this.config.depth)) {
      throw new ModelInputError(`block range [${from}, ${to}) is not inside [0, ${this.config.depth})`);
    }
    if (!this.chained) return this.blocksOneGraph(from, to, tokens, cond, batch);
    let h = tokens;
    for (const [a, b] of this.chunks(from, to)) h = (await this.chunkOutputs(a, b, h, cond, batch)).at(-1)!;
    return h;
  }

  private async blocksOneGraph(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    const cg = await this.graph(`blocks_${from}_${to}`, (g, P) => {
      const [h, c] = this.tokenInputs(g);
      let x = h;
      for (let i = from; i < to; i++) x = block(g, P, this.config, i, x, c);
      g.output('out', x);
    });
    const r = await cg.run(this.tokenFeeds(tokens, cond, batch));
    return r.out.data as Float32Array;
  }

  /**
   * Blocks [from, ends.at(−1)) in one session call, returning the hidden state after block e − 1 for each
   * e in `ends` (strictly increasing, [batch, T, D] each): per-block caching on a step where the same rows
   * compute a run of sections needs each section's output, and one call instead of one per section saves
   * their per-call overhead. Above the graph weight limit, one call per chunk.
   */
  async blocksSplit(from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    const to = ends.at(-1) ?? from;
    const increasing = ends.every((e, k) => Number.isInteger(e) && e > (k === 0 ? from : ends[k - 1]));
    if (!(Number.isInteger(from) && 0 <= from && from < to && to <= this.config.depth && increasing)) {
      throw new ModelInputError(`block range [${from}, ${to}) split after [${ends.join(', ')}] is not an increasing split inside [0, ${this.config.depth})`);
    }
    if (!this.chained) return this.blocksSplitOneGraph(from, ends, tokens, cond, batch);
    const outs = new Map<number, Float32Array>();
    let h = tokens;
    for (const [a, b] of this.chunks(from, to)) {
      const r = await this.chunkOutputs(a, b, h, cond, batch);
      r.forEach((o, k) => outs.set(a + k + 1, o));
      h = r[r.length - 1];
    }
    return ends.map((e) => outs.get(e)!);
  }

  private async blocksSplitOneGraph(from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    const to = ends.at(-1)!;
    const cg = await this.graph(`blocks_split_${from}_${ends.join('_')}`, (g, P) => {
      const [h, c] = this.tokenInputs(g);
      let x = h;
      for (let i = from; i < to; i++) {
        x = block(g, P, this.config, i, x, c);
        if (ends.includes(i + 1)) g.output(`out${i + 1}`, x);
      }
    });
    const r = await cg.run(this.tokenFeeds(tokens, cond, batch));
    return ends.map((e) => r[`out${e}`].data as Float32Array);
  }

  /** Blocks [from, to) in one session call, returning every block's output (blocksSplit at every block). */
  blocksEach(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]> {
    return this.blocksSplit(from, Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k + 1), tokens, cond, batch);
  }

  /** Segment `blocks[i]`. */
  block(i: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    return this.blocks(i, i + 1, tokens, cond, batch);
  }

  /** Block i's normalised, modulated attention input [B, T, D] (TeaCache's signal). */
  async modulatedInput(i: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    const cg = await this.graph(`modin_${i}`, (g, P) => {
      const [h, c] = this.tokenInputs(g);
      g.output('out', blockModulatedInput(g, P, this.config, i, h, c));
    });
    const r = await cg.run(this.tokenFeeds(tokens, cond, batch));
    return r.out.data as Float32Array;
  }

  /** Segment `head`: tokens [B, T, D], cond → [B, outC, H, W]. */
  async head(tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    const cg = await this.graph('head', (g, P) => {
      const [h, c] = this.tokenInputs(g);
      g.output('out', head(g, P, this.config, h, c));
    });
    const r = await cg.run(this.tokenFeeds(tokens, cond, batch));
    return r.out.data as Float32Array;
  }

  /**
   * The head on stack outputs made without the embedding (a forecast of the block stack's output), with
   * the conditioning computed from t and y in the same session call: tokens [B, T, D] → [B, outC, H, W].
   * The same ops as `embed`'s conditioning followed by `head`, so the same numbers.
   */
  async conditionedHead(tokens: Float32Array, t: readonly number[], labels: DiTLabels, batch: number): Promise<Float32Array> {
    const D = this.config.hiddenSize;
    const y = labelsOf(labels);
    if (tokens.length !== batch * this.tokens * D || t.length !== batch || y.length !== batch) {
      throw new ModelInputError(`tokens must be [${batch}, ${this.tokens}, ${D}], t and y [${batch}]; got ${tokens.length} values, ${t.length} and ${y.length} entries`);
    }
    this.checkConditioning(t, y);
    const cg = await this.graph('cond_head', (g, P) => {
      const h = g.input('h', 'float32', ['B', this.tokens, D]);
      const cond = conditioning(g, P, this.config, ...this.conditioningInputs(g));
      g.output('out', head(g, P, this.config, h, cond));
    });
    const r = await cg.run({ h: { data: tokens, shape: [batch, this.tokens, D] }, ...this.conditioningFeeds(t, y) });
    return r.out.data as Float32Array;
  }

  outputShape(batch: number): [number, number, number, number] {
    const c = this.config;
    return [batch, outChannels(c), c.inputSize, c.inputSize];
  }

  /** The null class for every row (the CFG unconditional branch). */
  unconditional(cond: Conditioning): Conditioning {
    return { ...cond, classLabels: labelsOf(cond).map(() => this.config.numClasses) };
  }

  async release(): Promise<void> {
    for (const p of this.compiled.values()) await (await p).release();
    this.compiled.clear();
  }
}
