// Cross-request batching. Jobs wait in arrival order; whenever the engine is free, the oldest job starts
// a batch and every waiting job with the same batch key (model, sampler, steps, cache method) joins it, up
// to a row budget. Rows join only at a batch's start: a job that arrives while a batch runs waits for the
// next one (joining at a step boundary would mix rows at different steps in one model call, which the
// step evaluation does not do). Each job keeps its own cache state and schedule, so its output does not
// depend on its batch. If the engine thread dies, the batch's jobs fail with the reason and a new thread
// is started for the next batch.
import { type EngineThread, type RunningBatch } from './engine.js';
import type { JobSpec } from './request.js';
import { batchKey, jobRows, type BatchJobResult } from './run-jobs.js';

export interface SchedulerEvents {
  /** jobs leave the queue and start together */
  onStart(ids: readonly string[], batch: { rows: number }): void;
  onProgress(id: string, step: number, steps: number): void;
  /** one batch step took stepMs (for the step-latency metric) */
  onStepTime?(stepMs: number, rows: number): void;
  onResult(result: BatchJobResult): void;
  /** positions of waiting jobs changed */
  onQueueChange?(): void;
}

interface Waiting {
  readonly id: string;
  readonly spec: JobSpec;
  readonly key: string;
  readonly rows: number;
}

export interface SchedulerOptions {
  /** most model-batch rows (samples × CFG branches) merged into one batch; a larger single job runs alone */
  readonly maxBatchRows: number;
  /**
   * How long an idle engine waits after a job arrives before starting its batch (ms), so requests sent
   * together start together instead of the first one alone. Default 10.
   */
  readonly gatherMs?: number;
}

export class BatchScheduler {
  private readonly waiting: Waiting[] = [];
  private running: { batch: RunningBatch; rows: number } | undefined;
  private gathering: NodeJS.Timeout | undefined;
  private engine: EngineThread | undefined;
  private closed = false;

  constructor(
    private readonly startEngine: () => Promise<EngineThread>,
    private readonly opts: SchedulerOptions,
    private readonly events: SchedulerEvents,
    engine?: EngineThread,
  ) {
    this.engine = engine;
  }

  /** Queues a job; returns its position (0 = next to start). */
  submit(id: string, spec: JobSpec): number {
    this.waiting.push({ id, spec, key: batchKey(spec), rows: jobRows(spec) });
    const position = this.waiting.length - 1;
    if (!this.running && !this.gathering) {
      this.gathering = setTimeout(() => {
        this.gathering = undefined;
        void this.pump();
      }, this.opts.gatherMs ?? 10);
    }
    return position;
  }

  /** 0-based place in the queue of a waiting job; undefined when it is not waiting. */
  position(id: string): number | undefined {
    const k = this.waiting.findIndex((w) => w.id === id);
    return k < 0 ? undefined : k;
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  /** Cancels a job: a waiting one leaves the queue, a running one stops at its next step boundary. */
  cancel(id: string): 'waiting' | 'running' | undefined {
    const k = this.waiting.findIndex((w) => w.id === id);
    if (k >= 0) {
      this.waiting.splice(k, 1);
      this.events.onQueueChange?.();
      return 'waiting';
    }
    return this.running?.batch.cancel(id) ? 'running' : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.gathering);
    await this.engine?.close();
  }

  /** The next batch: the oldest job, then same-key jobs in arrival order while the row budget allows. */
  private takeBatch(): Waiting[] {
    const head = this.waiting[0];
    const batch = [head];
    let rows = head.rows;
    for (const w of this.waiting.slice(1)) {
      if (w.key === head.key && rows + w.rows <= this.opts.maxBatchRows) {
        batch.push(w);
        rows += w.rows;
      }
    }
    const taken = new Set(batch);
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((w) => !taken.has(w)));
    return batch;
  }

  private async pump(): Promise<void> {
    if (this.running || this.closed || this.waiting.length === 0) return;
    const jobs = this.takeBatch();
    const rows = jobs.reduce((a, j) => a + j.rows, 0);
    let results: readonly BatchJobResult[];
    try {
      if (!this.engine?.alive) this.engine = await this.startEngine();
      const batch = this.engine.run(jobs, {
        onProgress: (id, step, steps, stepMs) => {
          if (stepMs !== undefined) this.events.onStepTime?.(stepMs, rows);
          this.events.onProgress(id, step, steps);
        },
      });
      this.running = { batch, rows };
      this.events.onStart(jobs.map((j) => j.id), { rows });
      this.events.onQueueChange?.();
      results = await batch.done;
    } catch (e) {
      const error = `the model batch failed: ${(e as Error).message}`;
      results = jobs.map((j) => ({ id: j.id, ok: false as const, cancelled: false, error, retryable: true }));
    }
    this.running = undefined;
    for (const r of results) this.events.onResult(r);
    void this.pump();
  }
}
