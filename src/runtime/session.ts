// ORT sessions for our graphs: explicit thread count (never more than the cores), Float32Array in
// and out, symbolic dims bound from the fed shapes. The only module that runs onnxruntime sessions; which
// onnxruntime (node or web) is platform-runtime.ts's business (ort-runtime.ts).
import { platformRuntime } from './platform-runtime.js';
import type { OrtSession, OrtTensor } from './ort-runtime.js';
import { Graph, GraphError } from '../graph/ir.js';
import { bindShape, resolveShape } from '../graph/dims.js';
import { LowerOptions, toOnnxModel } from '../graph/onnx.js';

export type HostArray = Float32Array | BigInt64Array;

export interface Feed {
  data: HostArray;
  shape: readonly number[];
}

export interface RuntimeOptions {
  /** Intra-op threads; default min(2, cores). More threads than cores is refused (it was 2.4× slower). */
  threads?: number;
  /**
   * Let ORT's intra-op worker threads busy-wait between parallel regions (ORT's default). Default false:
   * every session owns its own pool, and a DiT run uses several sessions (embed, block ranges, head), so
   * spinning pools fight over the cores: a 20-step mnist-dit sampling run took 2.6× longer with spinning
   * (1.37 s vs 0.52 s), and single big sessions were no faster (bench/results/spinning-2026-11-27.txt).
   */
  spin?: boolean;
  /** weight bytes the graph may embed (default MAX_GRAPH_WEIGHT_BYTES) */
  maxWeightBytes?: number;
  /**
   * Let ORT pre-pack constant GEMM/conv weights into its kernels' layout (default true). Pre-packed weights
   * are kept beside part of the originals: on DiT-XL/2 onnxruntime then holds ~1.5× the weight bytes
   * against ~1.1× without, for 7 % more block time (docs/findings.md §11).
   */
  prepack?: boolean;
  /**
   * Keep ORT's CPU memory arena (default true). Each session's arena keeps its peak for good, so a model run
   * as several large sessions holds the sum of their peaks; false frees each buffer when it is dead. The
   * Wan video VAE's chunk graphs run without it (bench/results/wan-vae-2026-12-06.txt).
   */
  memArena?: boolean;
}

/**
 * Weight bytes one graph may embed. An ONNX model is one protobuf message, which cannot exceed 2 GiB;
 * DiT-XL/2 (2.7 GB in float32) therefore runs as several graphs. Kept well below the cap for the
 * graph's own structure and the serializer's headroom.
 */
export const MAX_GRAPH_WEIGHT_BYTES = 1.5e9;

/** onnxruntime failed to compile or run a graph; the message names the graph and what ORT said. */
export class EngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
  }
}

export function defaultThreads(): number {
  return Math.max(1, Math.min(2, platformRuntime.cores()));
}

/** What runs the sessions ("onnxruntime-node (cpu)", "wasm (2 threads)", "webgpu"), for reports. */
export function runtimeDescription(): string {
  return platformRuntime.describe();
}

export function checkThreads(threads: number): number {
  const cores = platformRuntime.cores();
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  if (threads > cores) throw new RangeError(`threads = ${threads} exceeds the ${cores} available cores; oversubscribing makes ORT much slower`);
  return threads;
}

/** One compiled graph. `run` takes feeds by input name and returns outputs by name. */
export class CompiledGraph {
  private constructor(
    readonly graph: Graph,
    private readonly session: OrtSession,
    private readonly paramsAsInputs: boolean,
  ) {}

  static async create(graph: Graph, opts: RuntimeOptions & LowerOptions = {}): Promise<CompiledGraph> {
    const threads = checkThreads(opts.threads ?? defaultThreads());
    const weightBytes = opts.paramsAsInputs ? 0 : graph.params.reduce((a, p) => a + (p.data?.byteLength ?? 0), 0);
    const maxBytes = opts.maxWeightBytes ?? MAX_GRAPH_WEIGHT_BYTES;
    if (weightBytes > maxBytes) {
      // Checked before serializing: past the protobuf cap ORT fails deep inside its loader.
      throw new EngineError(`graph ${graph.name} would embed ${(weightBytes / 1e9).toFixed(3)} GB of weights, more than one ONNX graph can hold (${maxBytes / 1e9} GB); run it as several segments`);
    }
    let session: OrtSession;
    try {
      const bytes = toOnnxModel(graph, opts);
      session = await platformRuntime.createSession(bytes, { threads, spin: !!opts.spin, prepack: opts.prepack !== false, memArena: opts.memArena !== false });
    } catch (e) {
      throw new EngineError(`onnxruntime could not compile graph ${graph.name}: ${(e as Error).message}`, { cause: e });
    }
    // An inference session holds its weights itself: keeping the graph's parameter and constant arrays
    // here would keep a second copy of the model alive in JS.
    const kept: Graph = opts.paramsAsInputs ? graph : { ...graph, params: [], consts: [], nodes: [] };
    return new CompiledGraph(kept, session, !!opts.paramsAsInputs);
  }

  /** Runs the graph. With paramsAsInputs, `params` supplies every parameter by name. */
  async run(feeds: Readonly<Record<string, Feed>>, params?: ReadonlyMap<string, Float32Array>): Promise<Record<string, Feed>> {
    const bindings: Record<string, number> = {};
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const v of this.graph.inputs) {
      const f = feeds[v.name];
      if (!f) throw new GraphError(`${this.graph.name}: missing input "${v.name}" (expected ${v.dtype}[${v.shape.join(', ')}])`);
      bindShape(v.shape, f.shape, bindings, `${this.graph.name} input ${v.name}`);
      const want = v.dtype === 'int64' ? BigInt64Array : Float32Array;
      if (!(f.data instanceof want)) throw new GraphError(`${this.graph.name}: input ${v.name} must be a ${want.name}`);
      ortFeeds[v.name] = f.data instanceof BigInt64Array ? platformRuntime.tensor('int64', f.data, f.shape) : platformRuntime.tensor('float32', f.data, f.shape);
    }
    if (this.paramsAsInputs) {
      for (const p of this.graph.params) {
        const data = params?.get(p.value.name) ?? p.data;
        if (!(data instanceof Float32Array)) throw new GraphError(`${this.graph.name}: parameter ${p.value.name} must be float32`);
        ortFeeds[p.value.name] = platformRuntime.tensor('float32', data, p.value.shape as number[]);
      }
    }
    let out: Awaited<ReturnType<OrtSession['run']>>;
    try {
      out = await this.session.run(ortFeeds);
    } catch (e) {
      const shapes = Object.entries(ortFeeds).filter(([k]) => feeds[k]).map(([k, t]) => `${k} [${t.dims.join(', ')}]`).join(', ');
      throw new EngineError(`onnxruntime failed running graph ${this.graph.name} (inputs ${shapes}): ${(e as Error).message}`, { cause: e });
    }
    const result: Record<string, Feed> = {};
    for (const o of this.graph.outputs) {
      const t = out[o.name];
      result[o.name] = { data: t.data as HostArray, shape: t.dims.length ? [...t.dims] : resolveShape(o.shape, bindings) };
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
