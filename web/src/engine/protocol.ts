// Messages between the page (main thread) and the engine worker, which runs the library: onnxruntime,
// graphs, sampling and caches stay off the main thread, so the page keeps drawing while a step runs.
import type { CacheMethodInfo } from '../../../src/cache/registry.js';
import type { PhaseTimes } from '../../../src/pipeline/stats.js';
import type { BackendChoice, WebRequest } from '../request.js';

export type ToWorker =
  | { readonly type: 'start'; readonly appBase: string; readonly backend: BackendChoice; readonly threads?: number }
  | { readonly type: 'run'; readonly id: number; readonly request: WebRequest; readonly full: boolean };

/** One row of the timeline: a sample's CFG branch, one cell per step. */
export interface TimelineRow {
  readonly sample: number;
  readonly label: number;
  readonly branch: string;
  readonly cells: readonly TimelineCell[];
}

export interface TimelineCell {
  readonly compute: boolean;
  /** what decided: warmup, final, schedule, tsi, teacache, fbcache, … (src/cache/README.md) */
  readonly reason: string;
  /** the deciding signal and its threshold (TSI vs θ, accumulated relative L1 vs δ) */
  readonly signal?: number;
  readonly threshold?: number;
  /** per-block methods: how many blocks ran */
  readonly blocksComputed?: number;
}

export interface RunSummary {
  readonly label: string;
  readonly sampler: string;
  readonly steps: number;
  readonly requestedSteps: number;
  readonly cfg: number;
  readonly samples: number;
  readonly branches: readonly string[];
  /** sampling wall time (ms) without the one-time graph setup, as `tcpade generate`'s stats.json */
  readonly wallMs: number;
  readonly setupMs: number;
  /** model download / cache read and weight parsing (ms), this run */
  readonly loadMs: number;
  /**
   * The first sampling run of this model in the page: its time includes onnxruntime-web's first-run costs
   * (V8 optimising the hot wasm code, first allocations), so the page times it again before comparing.
   */
  readonly firstRun: boolean;
  readonly times: PhaseTimes;
  /** block evaluations run / those of full compute of the requested steps */
  readonly blockComputeRatio: number;
  readonly computedCount: number;
  readonly predictedCount: number;
  readonly cacheBytesPeak: number;
}

export interface RunResult {
  /** samples [N, C, H, W] in [0, 1], as `samples.safetensors` holds them */
  readonly images: Float32Array;
  readonly shape: readonly number[];
  readonly labels: readonly number[];
  /** decisions[k][s] = 1 where sample k's conditional branch computed its blocks at step s */
  readonly decisions: number[][];
  readonly timeline: readonly TimelineRow[];
  readonly summary: RunSummary;
  readonly backend: string;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly backend: string; readonly methods: readonly CacheMethodInfo[] }
  | { readonly type: 'status'; readonly id?: number; readonly text: string; readonly loaded?: number; readonly total?: number }
  | {
      readonly type: 'step';
      readonly id: number;
      /** steps done over the whole run (all batches) and their total */
      readonly done: number;
      readonly total: number;
      /** first sample index of the preview and the samples' x_t in [0, 1], when the step's input was seen */
      readonly preview?: { readonly first: number; readonly images: Float32Array };
    }
  | { readonly type: 'done'; readonly id: number; readonly full: boolean; readonly result: RunResult }
  | { readonly type: 'error'; readonly id?: number; readonly message: string };
