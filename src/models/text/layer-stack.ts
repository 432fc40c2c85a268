// Runs a text encoder's layers one session call each, through ONE compiled layer graph whose weights are graph
// inputs: every layer of an encoder has the same structure, so the graph is compiled once per sequence length
// and each call feeds the weights of the layer it computes. That keeps memory to one layer's float32 weights
// when the encoder is too large to hold (T5-XXL: 0.77 GB a layer, 18.5 GB in all): weights stay in their file
// dtype on disk and are widened one layer at a time, just before that layer runs. Smaller encoders keep their
// widened weights between calls ("resident"), so a repeated encode reads nothing from disk.
// Why not one graph per layer with embedded weights, as the DiT chains its block graphs? Those graphs are
// kept compiled because a sampler calls them at every step; an encoder runs once per prompt batch, and
// recompiling 24 graphs of 0.77 GB per call (each serialised and held ~2.5 times over while ORT loads it)
// would cost more than the encode and raise the peak. Fed weights cost ORT its weight pre-packing: measured
// in bench/results/t5-xxl-encode-*.txt.
import { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import { CompiledGraph, type Feed } from '../../runtime/session.js';
import { ModelInputError } from '../denoiser.js';
import type { ParamSource } from '../layers.js';
import type { WeightSource } from '../weights.js';

/** What a stack of identical layers needs from its encoder. */
export interface StackSpec {
  /** names the compiled graphs (e.g. "clip_text", "t5_encoder") */
  readonly label: string;
  readonly numLayers: number;
  /** hidden width D of h [B, L, D] */
  readonly width: number;
  /** one layer's weights by local name (the same for every layer) with PyTorch shapes */
  readonly layerShapes: ReadonlyMap<string, readonly number[]>;
  /** the weight key that feeds local name `local` in layer `layer` */
  keyOf(layer: number, local: string): string;
  /** one layer: h [B, L, D] → [B, L, D]; declares the per-call inputs it reads (masks, buckets) with g.input */
  buildLayer(g: GraphBuilder, W: ParamSource, h: Value, L: number): Value;
  /** the weights after the last layer (final norm) by key, with shapes */
  readonly finalShapes: ReadonlyMap<string, readonly number[]>;
  buildFinal(g: GraphBuilder, W: ParamSource, h: Value): Value;
}

/** The weights a stack draws from: whole tensors by key and, for streaming, a read into an array it reuses. */
export interface StackWeights extends WeightSource {
  /** `key` widened to float32 into `out` (exactly its size) */
  readInto?(key: string, out: Float32Array): void;
}

export interface StackOptions {
  threads?: number;
  /** keep the widened layer weights between calls (true) or read and widen each layer per call (false) */
  resident: boolean;
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Float32 bytes of every layer's weights (what residency holds). */
export function stackWeightBytes(spec: StackSpec): number {
  let perLayer = 0;
  for (const s of spec.layerShapes.values()) perLayer += 4 * numel(s);
  return perLayer * spec.numLayers;
}

/** A ParamSource that declares each weight once as a float32 graph input named by its key. */
function weightInputs(): ParamSource {
  const declared = new Map<string, Value>();
  return (g, key, shape) => {
    let v = declared.get(key);
    if (!v) declared.set(key, (v = g.input(key, 'float32', shape)));
    return v;
  };
}

/** Where a stack's time went, summed over its calls (ms). */
export interface StackTiming {
  /** reading and widening weights (streamed: every call; resident: the first) */
  weightMs: number;
  /** session calls of the layers and the final norm */
  runMs: number;
}

export class LayerStack {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  private readonly resident = new Map<string, Float32Array>();
  /** streamed mode: one array per local weight name, refilled for every layer (kept until release) */
  private readonly streamBuffers = new Map<string, Float32Array>();
  private compileMsTotal = 0;
  readonly timing: StackTiming = { weightMs: 0, runMs: 0 };

  constructor(
    private readonly spec: StackSpec,
    private readonly weights: StackWeights,
    private readonly opts: StackOptions,
  ) {}

  /** Wall time spent compiling graphs so far (ms). */
  get compileMs(): number {
    return this.compileMsTotal;
  }

  private graph(name: string, build: (g: GraphBuilder) => void): Promise<CompiledGraph> {
    let p = this.graphs.get(name);
    if (!p) {
      const started = performance.now();
      const g = new GraphBuilder(`${this.spec.label}_${name}`);
      build(g);
      p = CompiledGraph.create(g.build(), { threads: this.opts.threads }).finally(() => {
        this.compileMsTotal += performance.now() - started;
      });
      this.graphs.set(name, p);
    }
    return p;
  }

  /** A weight by key: from the resident copy, or read (and widened) now. */
  private weight(key: string, shape: readonly number[]): Float32Array {
    const kept = this.resident.get(key);
    if (kept) return kept;
    const data = this.weights.get(key);
    if (!data) throw new ModelInputError(`${this.spec.label}: missing weight ${key} [${shape.join(', ')}]`);
    if (data.length !== numel(shape)) throw new ModelInputError(`${this.spec.label}: weight ${key} holds ${data.length} values, expected [${shape.join(', ')}]`);
    if (this.opts.resident) this.resident.set(key, data);
    return data;
  }

  /**
   * A layer weight when streaming: read into the array this local name reuses for every layer. Fresh arrays
   * per layer cost more in first-touch page faults than the read and widening themselves (a T5-XXL layer from
   * page-cached BF16 shards: 4.2 s with fresh arrays, 0.3 s with reused ones).
   */
  private streamed(local: string, key: string, shape: readonly number[]): Float32Array {
    if (!this.weights.readInto) return this.weight(key, shape);
    let buf = this.streamBuffers.get(local);
    if (!buf) this.streamBuffers.set(local, (buf = new Float32Array(numel(shape))));
    this.weights.readInto(key, buf);
    return buf;
  }

  private layerFeeds(layer: number): Record<string, Feed> {
    const started = performance.now();
    const feeds: Record<string, Feed> = {};
    for (const [local, shape] of this.spec.layerShapes) {
      const key = this.spec.keyOf(layer, local);
      feeds[local] = { data: this.opts.resident ? this.weight(key, shape) : this.streamed(local, key, shape), shape };
    }
    this.timing.weightMs += performance.now() - started;
    return feeds;
  }

  private async timed<T>(p: Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await p;
    } finally {
      this.timing.runMs += performance.now() - started;
    }
  }

  /**
   * Every layer, then the final weights: h [B, L, D] → [B, L, D]. `inputs` are the per-call graph inputs the
   * layer reads (masks, buckets). `onLayer` sees each layer's output (taps for tests and debugging).
   */
  async run(h: Float32Array, B: number, L: number, inputs: Readonly<Record<string, Feed>>, onLayer?: (layer: number, h: Float32Array) => void): Promise<Float32Array> {
    const D = this.spec.width;
    if (h.length !== B * L * D) throw new ModelInputError(`${this.spec.label}: hidden states hold ${h.length} values, expected [${B}, ${L}, ${D}]`);
    const layer = await this.graph(`layer_L${L}`, (g) => {
      const x = g.input('h', 'float32', ['B', L, D]);
      g.output('out', this.spec.buildLayer(g, weightInputs(), x, L));
    });
    let x = h;
    for (let i = 0; i < this.spec.numLayers; i++) {
      const feeds = this.layerFeeds(i);
      const r = await this.timed(layer.run({ h: { data: x, shape: [B, L, D] }, ...inputs, ...feeds }));
      x = r.out.data as Float32Array;
      onLayer?.(i, x);
    }
    const final = await this.graph(`final_L${L}`, (g) => {
      g.output('out', this.spec.buildFinal(g, weightInputs(), g.input('h', 'float32', ['B', L, D])));
    });
    const finalFeeds: Record<string, Feed> = {};
    for (const [key, shape] of this.spec.finalShapes) finalFeeds[key] = { data: this.weight(key, shape), shape };
    return (await this.timed(final.run({ h: { data: x, shape: [B, L, D] }, ...finalFeeds }))).out.data as Float32Array;
  }

  /** Frees the compiled graphs and the resident weights. */
  async release(): Promise<void> {
    const graphs = [...this.graphs.values()];
    this.graphs.clear();
    this.resident.clear();
    this.streamBuffers.clear();
    for (const p of graphs) await (await p).release();
  }
}
