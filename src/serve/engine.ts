// The event loop's handle on an engine thread: start it (resolves once the models are loaded), send it a
// job batch, hear each job's progress and results, cancel a job by flipping its shared flag. If the
// thread dies, every pending call rejects with the reason, and the owner starts a new one.
import { Worker } from 'node:worker_threads';
import type { EngineReply, EngineRequest, EngineStart } from './engine-protocol.js';
import type { JobSpec, ModelInfo } from './request.js';
import type { BatchJobResult } from './run-jobs.js';

/**
 * The engine thread's entry. Compiled (dist/), the .js module itself. From source under tsx (tests,
 * scripts), a worker does not inherit tsx's loader (Node 20 runs a worker's entry before `--import`), so
 * the entry is a tiny ES module that registers tsx in the thread and then imports the .ts module.
 */
function engineThreadEntry(): URL {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new URL('./engine-thread.js', self);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./engine-thread.ts', self).href;
  const code = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

export interface BatchHandlers {
  onProgress(id: string, step: number, steps: number, stepMs?: number): void;
}

/** A batch sent to the engine: cancel a member by id, and its results when it ends. */
export interface RunningBatch {
  readonly ids: readonly string[];
  cancel(id: string): boolean;
  readonly done: Promise<readonly BatchJobResult[]>;
}

export class EngineError extends Error {
  override name = 'EngineThreadError';
}

export class EngineThread {
  private nextId = 1;
  private readonly batches = new Map<number, { handlers: BatchHandlers; resolve(r: readonly BatchJobResult[]): void; reject(e: Error): void }>();
  private exited: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly models: readonly ModelInfo[],
  ) {
    worker.on('message', (msg: EngineReply) => this.onMessage(msg));
    const fail = (e: Error): void => {
      this.exited ??= e;
      for (const b of this.batches.values()) b.reject(this.exited);
      this.batches.clear();
    };
    worker.on('error', (e) => fail(new EngineError(`the engine thread failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new EngineError(`the engine thread exited (code ${code})`)));
  }

  /** Starts a thread that loads `models` (shipped names or paths) and resolves once they are ready. */
  static start(opts: EngineStart): Promise<EngineThread> {
    const worker = new Worker(engineThreadEntry(), { workerData: opts });
    return new Promise((resolve, reject) => {
      const onMessage = (msg: EngineReply): void => {
        if (msg.type === 'ready') {
          worker.off('message', onMessage);
          worker.off('exit', onExit);
          worker.off('error', onError);
          resolve(new EngineThread(worker, msg.models));
        } else if (msg.type === 'load-failed') {
          reject(new EngineError(`loading the served models failed: ${msg.error}`));
        }
      };
      const onExit = (code: number): void => reject(new EngineError(`the engine thread exited while loading models (code ${code})`));
      const onError = (e: Error): void => reject(new EngineError(`the engine thread failed while loading models: ${e.message}`));
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.once('error', onError);
    });
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  /** Runs jobs that share a batch key as one model batch. */
  run(jobs: readonly { id: string; spec: JobSpec }[], handlers: BatchHandlers): RunningBatch {
    const batchId = this.nextId++;
    const cancelFlags = new SharedArrayBuffer(4 * jobs.length);
    const flags = new Int32Array(cancelFlags);
    const done = new Promise<readonly BatchJobResult[]>((resolve, reject) => {
      if (this.exited) return reject(this.exited);
      this.batches.set(batchId, { handlers, resolve, reject });
      this.send({ type: 'run', batchId, jobs, cancelFlags });
    });
    return {
      ids: jobs.map((j) => j.id),
      cancel: (id) => {
        const k = jobs.findIndex((j) => j.id === id);
        if (k < 0) return false;
        Atomics.store(flags, k, 1);
        return true;
      },
      done,
    };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private send(msg: EngineRequest): void {
    this.worker.postMessage(msg);
  }

  private onMessage(msg: EngineReply): void {
    switch (msg.type) {
      case 'progress':
        this.batches.get(msg.batchId)?.handlers.onProgress(msg.id, msg.step, msg.steps, msg.stepMs);
        return;
      case 'batch-done':
        this.batches.get(msg.batchId)?.resolve(msg.results);
        this.batches.delete(msg.batchId);
        return;
      case 'batch-failed':
        this.batches.get(msg.batchId)?.reject(new EngineError(msg.error));
        this.batches.delete(msg.batchId);
        return;
      default:
        return;
    }
  }
}
