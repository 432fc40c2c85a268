// The FLUX segments as compiled graphs for any token counts: embed, block ranges (cut into graphs whose
// weights fit one ONNX model), head, the conditioned head and the whole network. Callers pass host arrays
// already checked; `Flux` (the denoiser contract) and `forwardRaw` both run through this.
import { GraphBuilder } from '../../graph/builder.js';
import { Value } from '../../graph/ir.js';
import { CompiledGraph, Feed, MAX_GRAPH_WEIGHT_BYTES, checkThreads, defaultThreads } from '../../runtime/session.js';
import { ModelInputError } from '../denoiser.js';
import { type WeightSource, weightProblems } from '../weights.js';
import { FluxConfig, innerDim, stackDepth } from './config.js';
import { ConditioningValues, ParamSource, RopeValues, TokenCounts, blockModulatedInput0, conditioning, embedTokens, head, stackRange } from './graph.js';
import { GeometryGraphCache } from './graph-cache.js';
import { blockWeightBytes, parameterShapes, stemAndHeadWeightBytes } from './params.js';
import type { RopeTables } from './rope.js';

/**
 * Weight bytes per compiled graph by default: as for DiT, smaller graphs keep the compile-time peak low
 * (a graph briefly holds its weights ~2.5 times over). A block larger than this (FLUX.1's double blocks
 * hold 1.36 GB in float32) gets a graph of its own, up to the ONNX limit MAX_GRAPH_WEIGHT_BYTES.
 */
export const FLUX_GRAPH_WEIGHT_BYTES = 4e8;
/** Models with more float32 weight bytes than this run without ORT's weight pre-packing (memory over ~7 % speed). */
export const FLUX_PREPACK_MAX_WEIGHT_BYTES = 1e9;

export interface FluxEngineOptions {
  threads?: number;
  /** ORT worker spinning (off by default: a step calls several sessions) */
  spin?: boolean;
  /** weight bytes one compiled graph may hold (default FLUX_GRAPH_WEIGHT_BYTES) */
  maxGraphWeightBytes?: number;
  /** ORT weight pre-packing; default only up to FLUX_PREPACK_MAX_WEIGHT_BYTES of weights */
  prepack?: boolean;
  /** token-count geometries whose compiled graphs are kept (each holds a copy of the weights); default 2 */
  maxCachedGeometries?: number;
}

/** Conditioning of a batch on the host, in model units: timestep σ·1000 and guidance ·1000 (as diffusers multiplies). */
export interface HostConditioning {
  readonly timestep: Float32Array; // [B]
  readonly guidance?: Float32Array; // [B], guidance-embedding models only
  readonly pooled: Float32Array; // [B, pooledProjectionDim]
}

export class FluxEngine {
  readonly threads: number;
  readonly hiddenSize: number;
  readonly depth: number;
  private readonly cache: GeometryGraphCache;
  private readonly maxGraphWeightBytes: number;
  private readonly blockBytes: number[];
  private readonly totalBytes: number;

  constructor(
    readonly config: FluxConfig,
    readonly weights: WeightSource,
    opts: FluxEngineOptions = {},
  ) {
    this.threads = checkThreads(opts.threads ?? defaultThreads());
    this.hiddenSize = innerDim(config);
    this.depth = stackDepth(config);
    this.maxGraphWeightBytes = Math.min(opts.maxGraphWeightBytes ?? FLUX_GRAPH_WEIGHT_BYTES, MAX_GRAPH_WEIGHT_BYTES);
    this.blockBytes = Array.from({ length: this.depth }, (_, i) => blockWeightBytes(config, i));
    this.totalBytes = stemAndHeadWeightBytes(config) + this.blockBytes.reduce((a, b) => a + b, 0);
    const tooBig = this.blockBytes.findIndex((b) => b > MAX_GRAPH_WEIGHT_BYTES);
    if (tooBig >= 0) throw new ModelInputError(`FLUX block ${tooBig} holds ${this.blockBytes[tooBig]} weight bytes, more than one ONNX graph can (${MAX_GRAPH_WEIGHT_BYTES})`);
    checkWeights(config, weights);
    const prepack = opts.prepack ?? this.totalBytes <= FLUX_PREPACK_MAX_WEIGHT_BYTES;
    this.cache = new GeometryGraphCache(opts.maxCachedGeometries ?? 2, { threads: this.threads, spin: opts.spin ?? false, prepack });
  }

  get compileMs(): number {
    return this.cache.compileMs;
  }

  /** Token-count geometries with compiled graphs held now ("text+image"). */
  get cachedGeometries(): string[] {
    return this.cache.geometries;
  }

  private params(): ParamSource {
    return (g: GraphBuilder, key: string, shape: readonly number[]): Value => {
      const data = this.weights.get(key);
      if (!data) throw new ModelInputError(`missing FLUX weight "${key}" (expected shape [${shape.join(', ')}])`);
      return g.param(key, shape, data);
    };
  }

  private run(n: TokenCounts, name: string, build: (g: GraphBuilder, P: ParamSource) => void, feeds: Record<string, Feed>): Promise<Record<string, Feed>> {
    const geometry = `${n.text}+${n.image}`;
    return this.cache.run(
      geometry,
      name,
      () => {
        const g = new GraphBuilder(`flux_${name}_${geometry}`);
        build(g, this.params());
        return g.build();
      },
      (cg: CompiledGraph) => cg.run(feeds),
    );
  }

  // ---- graph inputs and their feeds ----

  private conditioningInputs(g: GraphBuilder): ConditioningValues {
    return {
      timestep: g.input('timestep', 'float32', ['B']),
      ...(this.config.guidanceEmbeds ? { guidance: g.input('guidance', 'float32', ['B']) } : {}),
      pooled: g.input('pooled', 'float32', ['B', this.config.pooledProjectionDim]),
    };
  }

  private conditioningFeeds(c: HostConditioning): Record<string, Feed> {
    const B = c.timestep.length;
    return {
      timestep: { data: c.timestep, shape: [B] },
      ...(this.config.guidanceEmbeds ? { guidance: { data: c.guidance!, shape: [B] } } : {}),
      pooled: { data: c.pooled, shape: [B, this.config.pooledProjectionDim] },
    };
  }

  private embedInputs(g: GraphBuilder, n: TokenCounts): [Value, Value] {
    const c = this.config;
    return [g.input('latents', 'float32', ['B', n.image, c.inChannels]), g.input('text', 'float32', ['B', n.text, c.jointAttentionDim])];
  }

  private embedFeeds(n: TokenCounts, latents: Float32Array, text: Float32Array, batch: number): Record<string, Feed> {
    const c = this.config;
    return { latents: { data: latents, shape: [batch, n.image, c.inChannels] }, text: { data: text, shape: [batch, n.text, c.jointAttentionDim] } };
  }

  private ropeInputs(g: GraphBuilder, n: TokenCounts): RopeValues {
    const T = n.text + n.image;
    return { cos: g.input('rope_cos', 'float32', [T, this.config.headDim]), sin: g.input('rope_sin', 'float32', [T, this.config.headDim]) };
  }

  private ropeFeeds(rope: RopeTables): Record<string, Feed> {
    return { rope_cos: { data: rope.cos, shape: [rope.tokens, rope.headDim] }, rope_sin: { data: rope.sin, shape: [rope.tokens, rope.headDim] } };
  }

  private tokenInputs(g: GraphBuilder, n: TokenCounts): [Value, Value] {
    const D = this.hiddenSize;
    return [g.input('h', 'float32', ['B', n.text + n.image, D]), g.input('cond', 'float32', ['B', D])];
  }

  private tokenFeeds(n: TokenCounts, tokens: Float32Array, cond: Float32Array, batch: number): Record<string, Feed> {
    const D = this.hiddenSize;
    const T = n.text + n.image;
    if (tokens.length !== batch * T * D || cond.length !== batch * D) {
      throw new ModelInputError(`FLUX tokens must be [${batch}, ${T}, ${D}] (${batch * T * D} values) and cond [${batch}, ${D}]; got ${tokens.length} and ${cond.length} values`);
    }
    return { h: { data: tokens, shape: [batch, T, D] }, cond: { data: cond, shape: [batch, D] } };
  }

  // ---- segments ----

  /** Segment embed → tokens [B, T, D] ([text; image]) and temb [B, D]; with `withModulatedInput0`, block 0's modulated input. */
  async embed(n: TokenCounts, latents: Float32Array, text: Float32Array, c: HostConditioning, withModulatedInput0: boolean): Promise<{ tokens: Float32Array; cond: Float32Array; modulatedInput0?: Float32Array }> {
    const r = await this.run(
      n,
      withModulatedInput0 ? 'embed_mod0' : 'embed',
      (g, P) => {
        const [x, txt] = this.embedInputs(g, n);
        const tokens = embedTokens(g, P, this.config, x, txt);
        const temb = conditioning(g, P, this.config, this.conditioningInputs(g));
        g.output('tokens', tokens);
        g.output('cond', temb);
        if (withModulatedInput0) g.output('mod0', blockModulatedInput0(g, P, this.config, n, tokens, temb));
      },
      { ...this.embedFeeds(n, latents, text, c.timestep.length), ...this.conditioningFeeds(c) },
    );
    return { tokens: r.tokens.data as Float32Array, cond: r.cond.data as Float32Array, ...(withModulatedInput0 ? { modulatedInput0: r.mod0.data as Float32Array } : {}) };
  }

  /** Blocks [from, ends.at(−1)) returning the joint stream after block e − 1 for each e in `ends` (checked increasing by the caller). */
  async blocksSplit(n: TokenCounts, from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number, rope: RopeTables): Promise<Float32Array[]> {
    const outs = new Map<number, Float32Array>();
    let h = tokens;
    for (const [a, b] of this.chunks(from, ends.at(-1)!)) {
      const cut = [...ends.filter((e) => e > a && e < b), b];
      const r = await this.run(
        n,
        `blocks_${a}_${cut.join('_')}`,
        (g, P) => {
          const [x, temb] = this.tokenInputs(g, n);
          stackRange(g, P, this.config, n, a, b, x, temb, this.ropeInputs(g, n), cut, (e, v) => g.output(`out${e}`, v));
        },
        { ...this.tokenFeeds(n, h, cond, batch), ...this.ropeFeeds(rope) },
      );
      cut.forEach((e) => outs.set(e, r[`out${e}`].data as Float32Array));
      h = outs.get(b)!;
    }
    return ends.map((e) => outs.get(e)!);
  }

  /** Segment head: tokens [B, T, D], temb → [B, L_img, outputWidth]. */
  async head(n: TokenCounts, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array> {
    const r = await this.run(
      n,
      'head',
      (g, P) => {
        const [h, temb] = this.tokenInputs(g, n);
        g.output('out', head(g, P, this.config, n, h, temb));
      },
      this.tokenFeeds(n, tokens, cond, batch),
    );
    return r.out.data as Float32Array;
  }

  /** The head with temb computed from the conditioning in the same call (the same ops as embed's, so the same numbers). */
  async conditionedHead(n: TokenCounts, tokens: Float32Array, c: HostConditioning): Promise<Float32Array> {
    const batch = c.timestep.length;
    const D = this.hiddenSize;
    const T = n.text + n.image;
    if (tokens.length !== batch * T * D) throw new ModelInputError(`FLUX tokens must be [${batch}, ${T}, ${D}] (${batch * T * D} values), got ${tokens.length}`);
    const r = await this.run(
      n,
      'cond_head',
      (g, P) => {
        const h = g.input('h', 'float32', ['B', T, D]);
        g.output('out', head(g, P, this.config, n, h, conditioning(g, P, this.config, this.conditioningInputs(g))));
      },
      { h: { data: tokens, shape: [batch, T, D] }, ...this.conditioningFeeds(c) },
    );
    return r.out.data as Float32Array;
  }

  /** The whole network → [B, L_img, outputWidth]: one graph when every weight fits one, else the segments chained. */
  async forward(n: TokenCounts, latents: Float32Array, text: Float32Array, c: HostConditioning, rope: RopeTables): Promise<Float32Array> {
    const batch = c.timestep.length;
    if (this.totalBytes > this.maxGraphWeightBytes) {
      const e = await this.embed(n, latents, text, c, false);
      const [h] = await this.blocksSplit(n, 0, [this.depth], e.tokens, e.cond, batch, rope);
      return this.head(n, h, e.cond, batch);
    }
    const r = await this.run(
      n,
      'full',
      (g, P) => {
        const [x, txt] = this.embedInputs(g, n);
        const temb = conditioning(g, P, this.config, this.conditioningInputs(g));
        const h = stackRange(g, P, this.config, n, 0, this.depth, embedTokens(g, P, this.config, x, txt), temb, this.ropeInputs(g, n));
        g.output('out', head(g, P, this.config, n, h, temb));
      },
      { ...this.embedFeeds(n, latents, text, batch), ...this.conditioningFeeds(c), ...this.ropeFeeds(rope) },
    );
    return r.out.data as Float32Array;
  }

  /** [from, to) cut greedily into consecutive ranges whose weights fit one graph (a block larger than the limit alone). */
  private chunks(from: number, to: number): [number, number][] {
    const out: [number, number][] = [];
    let start = from;
    let bytes = 0;
    for (let i = from; i < to; i++) {
      if (i > start && bytes + this.blockBytes[i] > this.maxGraphWeightBytes) {
        out.push([start, i]);
        start = i;
        bytes = 0;
      }
      bytes += this.blockBytes[i];
    }
    out.push([start, to]);
    return out;
  }

  async release(): Promise<void> {
    await this.cache.clear();
  }
}

/** Every expected weight present with its element count, and nothing else; all problems in one error. */
function checkWeights(c: FluxConfig, weights: WeightSource): void {
  const expected = parameterShapes(c);
  const problems = weightProblems(expected, weights);
  if (problems.length) throw new ModelInputError(`weights do not match the FLUX config (${problems.length} problems):\n  ${problems.join('\n  ')}`);
}
