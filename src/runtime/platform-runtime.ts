// The onnxruntime this build runs on: onnxruntime-node on the CPU. The browser bundle replaces this module
// with web/src/engine/platform-runtime.ts (onnxruntime-web) — scripts/build-web.ts does the swap — so it
// is the only module under the library's sampling path that imports a Node built-in or a Node-only package.
import os from 'node:os';
import ort from 'onnxruntime-node';
import type { OrtRuntime, OrtTensor, SessionSettings } from './ort-runtime.js';

function createSession(model: Uint8Array, s: SessionSettings) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: s.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: s.memArena !== false,
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: s.spin ? '1' : '0' }, disable_prepacking: s.prepack ? '0' : '1' } },
  });
}

export const platformRuntime: OrtRuntime = {
  describe: () => 'onnxruntime-node (cpu)',
  cores: () => os.availableParallelism(),
  createSession,
  tensor: (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]): OrtTensor => new ort.Tensor(type, data, [...dims]),
};
