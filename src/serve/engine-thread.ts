// The worker thread where a service's sampling runs: onnxruntime-node's `run()` keeps the calling thread
// busy, so inference off the HTTP (or BullMQ) event loop keeps health checks, progress events and job
// locks answered. It loads the served models once, then runs one job batch at a time on request.
// Cancellation arrives through shared memory (one Int32 flag per job), read at every step boundary, since
// the thread is busy inside the batch when a cancel request comes.
import { parentPort, workerData } from 'node:worker_threads';
import type { EngineReply, EngineRequest, EngineStart } from './engine-protocol.js';
import { type BatchJob, type BatchJobResult, loadServedModels, runJobBatch, type ServedModel } from './run-jobs.js';

const port = parentPort!;
const start = workerData as EngineStart;

function post(msg: EngineReply): void {
  port.postMessage(msg);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let models: Map<string, ServedModel>;
try {
  models = await loadServedModels(start.models, start.threads);
  post({ type: 'ready', models: [...models.values()].map((m) => m.info) });
} catch (e) {
  post({ type: 'load-failed', error: messageOf(e) });
  process.exit(1);
}

// One batch at a time: requests are queued behind the running one (the scheduler sends one anyway).
let chain: Promise<void> = Promise.resolve();

port.on('message', (msg: EngineRequest) => {
  chain = chain.then(async () => {
    const flags = new Int32Array(msg.cancelFlags);
    let last = performance.now();
    let lastStep = -1;
    const jobs: BatchJob[] = msg.jobs.map((j, k) => ({
      id: j.id,
      spec: j.spec,
      cancelled: () => Atomics.load(flags, k) === 1,
      onStep: (step, steps) => {
        // every member reports each step; the first report of a step closes the batch's step time
        let stepMs: number | undefined;
        if (step !== lastStep) {
          const now = performance.now();
          stepMs = now - last;
          last = now;
          lastStep = step;
        }
        post({ type: 'progress', batchId: msg.batchId, id: j.id, step: step + 1, steps, ...(stepMs !== undefined ? { stepMs } : {}) });
      },
    }));
    let results: BatchJobResult[];
    try {
      results = await runJobBatch(models, jobs);
    } catch (e) {
      post({ type: 'batch-failed', batchId: msg.batchId, error: messageOf(e) });
      return;
    }
    post({ type: 'batch-done', batchId: msg.batchId, results });
  });
});
