// ORT sessions for our graphs: explicit thread count (never more than the cores), Float32Array in
// and out, symbolic dims bound from the fed shapes. The only module that touches onnxruntime types.
import os from 'node:os';
import ort from 'onnxruntime-node';
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
}

export function defaultThreads(): number {
  return Math.max(1, Math.min(2, os.availableParallelism()));
}

export function checkThreads(threads: number): number {
  const cores = os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  if (threads > cores) throw new RangeError(`threads = ${threads} exceeds the ${cores} available cores; oversubscribing makes ORT much slower`);
  return threads;
}

/** One compiled graph. `run` takes feeds by input name and returns outputs by name. */
export class CompiledGraph {
  private constructor(
    readonly graph: Graph,
    private readonly session: ort.InferenceSession,
    private readonly paramsAsInputs: boolean,
  ) {}

  static async create(graph: Graph, opts: RuntimeOptions & LowerOptions = {}): Promise<CompiledGraph> {
    const threads = checkThreads(opts.threads ?? defaultThreads());
    const bytes = toOnnxModel(graph, opts);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: opts.spin ? '1' : '0' } } },
    });
    return new CompiledGraph(graph, session, !!opts.paramsAsInputs);
  }

  /** Runs the graph. With paramsAsInputs, `params` supplies every parameter by name. */
  async run(feeds: Readonly<Record<string, Feed>>, params?: ReadonlyMap<string, Float32Array>): Promise<Record<string, Feed>> {
    const bindings: Record<string, number> = {};
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const v of this.graph.inputs) {
      const f = feeds[v.name];
      if (!f) throw new GraphError(`${this.graph.name}: missing input "${v.name}" (expected ${v.dtype}[${v.shape.join(', ')}])`);
      bindShape(v.shape, f.shape, bindings, `${this.graph.name} input ${v.name}`);
      const want = v.dtype === 'int64' ? BigInt64Array : Float32Array;
      if (!(f.data instanceof want)) throw new GraphError(`${this.graph.name}: input ${v.name} must be a ${want.name}`);
      ortFeeds[v.name] = new ort.Tensor(v.dtype === 'int64' ? 'int64' : 'float32', f.data, [...f.shape]);
    }
    if (this.paramsAsInputs) {
      for (const p of this.graph.params) {
        const data = params?.get(p.value.name) ?? p.data;
        if (!(data instanceof Float32Array)) throw new GraphError(`${this.graph.name}: parameter ${p.value.name} must be float32`);
        ortFeeds[p.value.name] = new ort.Tensor('float32', data, p.value.shape as number[]);
      }
    }
    const out = await this.session.run(ortFeeds);
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
