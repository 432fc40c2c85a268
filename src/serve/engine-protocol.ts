// Messages between a service's event loop and its engine thread (structured clones).
import type { JobSpec, ModelInfo } from './request.js';
import type { BatchJobResult } from './run-jobs.js';

/** workerData of the engine thread. */
export interface EngineStart {
  /** shipped model names or paths */
  readonly models: readonly string[];
  /** onnxruntime intra-op threads */
  readonly threads: number;
}

export type EngineRequest =
  | { readonly type: 'run'; readonly batchId: number; readonly jobs: readonly { readonly id: string; readonly spec: JobSpec }[]; readonly cancelFlags: SharedArrayBuffer };

export type EngineReply =
  | { readonly type: 'ready'; readonly models: readonly ModelInfo[] }
  | { readonly type: 'load-failed'; readonly error: string }
  /** `step` steps of `steps` done; `stepMs` once per batch step (the batch's wall time for it) */
  | { readonly type: 'progress'; readonly batchId: number; readonly id: string; readonly step: number; readonly steps: number; readonly stepMs?: number }
  | { readonly type: 'batch-done'; readonly batchId: number; readonly results: readonly BatchJobResult[] }
  | { readonly type: 'batch-failed'; readonly batchId: number; readonly error: string };
