// The onnxruntime the browser build runs on: onnxruntime-web (wasm SIMD + threads, or WebGPU). The web
// build swaps src/runtime/platform-runtime.ts (onnxruntime-node) for this module, so src/runtime/session.ts
// — and every graph, model segment and cache method above it — runs unchanged. onnxruntime-web keeps one
// thread pool per page (worker), fixed when it starts: startWebRuntime() must run before the first session.
import type * as OrtWeb from 'onnxruntime-web';
import type { OrtRuntime, OrtSession, OrtTensor, SessionSettings } from '../../../src/runtime/ort-runtime.js';

export type WebBackend = 'wasm' | 'webgpu';

export interface WebRuntimeStart {
  backend: WebBackend;
  /** wasm threads: 1 = no worker threads; more need a cross-origin isolated page (COOP/COEP) */
  threads: number;
  /** URL of the folder holding onnxruntime-web's .mjs and .wasm files */
  ortBase: string;
  /** the .wasm binary, fetched by the caller (cached in Cache Storage) */
  wasmBinary: Uint8Array;
}

/** Which ORT module and wasm build each backend needs (the WebGPU build is twice the download). */
export const ORT_FILES: Readonly<Record<WebBackend, { module: string; wasm: string; glue: string }>> = {
  wasm: { module: 'ort.wasm.min.mjs', wasm: 'ort-wasm-simd-threaded.wasm', glue: 'ort-wasm-simd-threaded.mjs' },
  webgpu: { module: 'ort.webgpu.min.mjs', wasm: 'ort-wasm-simd-threaded.asyncify.wasm', glue: 'ort-wasm-simd-threaded.asyncify.mjs' },
};

let ort: typeof OrtWeb | undefined;
let started: WebRuntimeStart | undefined;

/** Loads onnxruntime-web for `backend` and fixes its thread count; once per worker. */
export async function startWebRuntime(s: WebRuntimeStart): Promise<string> {
  if (started) throw new Error(`onnxruntime-web already started (${describe()}); its backend and threads are fixed per page`);
  if (s.threads > 1 && !globalThis.crossOriginIsolated) {
    throw new Error(`${s.threads} wasm threads need a cross-origin isolated page (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); use threads=1 or a server that sends them (tcpade web)`);
  }
  // A URL import, not bundled: onnxruntime-web loads its .mjs glue and spawns its thread workers from
  // beside its own module, so it stays a file of its own.
  const mod = (await import(/* webpackIgnore: true */ new URL(ORT_FILES[s.backend].module, s.ortBase).href)) as typeof OrtWeb;
  mod.env.wasm.numThreads = s.threads;
  mod.env.wasm.wasmBinary = s.wasmBinary;
  mod.env.logLevel = 'error';
  ort = mod;
  started = s;
  return describe();
}

function describe(): string {
  if (!started) return 'onnxruntime-web (not started)';
  return started.backend === 'webgpu' ? 'webgpu' : `wasm (${started.threads} thread${started.threads === 1 ? '' : 's'})`;
}

function runtime(): typeof OrtWeb {
  if (!ort) throw new Error('onnxruntime-web is not started: call startWebRuntime() before loading a model');
  return ort;
}

function createSession(model: Uint8Array, s: SessionSettings): Promise<OrtSession> {
  const o = runtime();
  if (s.threads !== started!.threads) {
    throw new Error(`a session asked for ${s.threads} threads, but onnxruntime-web runs one pool of ${started!.threads} per page (set at start)`);
  }
  return o.InferenceSession.create(model, {
    executionProviders: [started!.backend],
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // onnxruntime-node's defaults, which onnxruntime-web leaves off: without the arena every run mallocs
    // its intermediates inside the wasm heap
    enableCpuMemArena: true,
    enableMemPattern: true,
    logSeverityLevel: 3,
    // spinning is a property of onnxruntime-web's one global pool, not of a session
    extra: { session: { disable_prepacking: s.prepack ? '0' : '1' } },
  }) as Promise<OrtSession>;
}

export const platformRuntime: OrtRuntime = {
  describe,
  cores: () => globalThis.navigator?.hardwareConcurrency ?? 1,
  createSession,
  tensor: (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]): OrtTensor =>
    new (runtime().Tensor)(type as 'float32', data as Float32Array, [...dims]) as unknown as OrtTensor,
};
