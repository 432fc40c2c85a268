// The slice of onnxruntime the engine uses — create a session from ONNX bytes, make input tensors, count
// cores — as one interface, so the same graph/session code runs on onnxruntime-node (Node, the default:
// platform-runtime.ts) and onnxruntime-web (the browser app swaps platform-runtime.ts for its own module
// at bundle time, see scripts/build-web.ts). Types only: this module loads no runtime.
import type { InferenceSession, Tensor } from 'onnxruntime-common';

/** What a compiled graph asks of its session; each runtime maps it to its own session options. */
export interface SessionSettings {
  /** intra-op threads (onnxruntime-web has one pool per page, fixed at start: it refuses another count) */
  readonly threads: number;
  /** let intra-op workers busy-wait between parallel regions (RuntimeOptions.spin) */
  readonly spin: boolean;
  /** let ORT pre-pack constant GEMM/conv weights (RuntimeOptions.prepack) */
  readonly prepack: boolean;
  /** keep the CPU memory arena (RuntimeOptions.memArena); runtimes without one ignore it */
  readonly memArena?: boolean;
}

export type OrtSession = InferenceSession;
export type OrtTensor = Tensor;

export interface OrtRuntime {
  /** what runs the sessions, for display and reports: "onnxruntime-node (cpu)", "wasm (2 threads)", "webgpu" */
  describe(): string;
  /** logical cores this process may use: the ceiling for `threads` */
  cores(): number;
  createSession(model: Uint8Array, settings: SessionSettings): Promise<OrtSession>;
  tensor(type: 'float32', data: Float32Array, dims: readonly number[]): OrtTensor;
  tensor(type: 'int64', data: BigInt64Array, dims: readonly number[]): OrtTensor;
}
