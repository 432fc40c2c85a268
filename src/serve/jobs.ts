// Jobs as the HTTP layer sees them, whoever runs them: the JobService interface, the job views and
// events, and the embedded service — an in-process queue feeding a BatchScheduler and one engine thread,
// with results kept in memory for a while. The Redis service (redis-jobs.ts) implements the same interface.
import { randomUUID } from 'node:crypto';
import { resolveCacheChoice } from '../cli/cache-choice.js';
import type { EngineThread } from './engine.js';
import { type JobSpec, type ModelInfo, RequestError } from './request.js';
import type { BatchJobResult, ServiceStats } from './run-jobs.js';
import { BatchScheduler } from './scheduler.js';
import type { ServiceMetrics } from './metrics.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export const FINISHED: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

/** GET /v1/jobs/:id */
export interface JobView {
  readonly id: string;
  readonly status: JobStatus;
  readonly model: string;
  /** 0-based place in the queue while queued */
  readonly position?: number;
  readonly progress: { readonly step: number; readonly steps: number };
  readonly error?: string;
  readonly summary?: string;
  /** the run's statistics without the per-step decisions (those are in stats.json) */
  readonly stats?: Omit<ServiceStats, 'perStep'>;
  /** output files, once done */
  readonly files?: readonly string[];
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

/** A Server-Sent Event of a job: its name and JSON data. */
export interface JobEvent {
  readonly event: 'queued' | 'running' | 'progress' | 'done' | 'failed' | 'cancelled';
  readonly data: Record<string, unknown>;
}

export interface JobService {
  /** the models this service can run */
  models(): Promise<readonly ModelInfo[]>;
  submit(spec: JobSpec): Promise<{ id: string; position: number }>;
  get(id: string): Promise<JobView | undefined>;
  /** an output file of a finished job ("grid.png", "images/3.png", "samples.safetensors", "stats.json") */
  file(id: string, name: string): Promise<Uint8Array | undefined>;
  /** cancels a queued or running job; a finished job is returned unchanged */
  cancel(id: string): Promise<JobView | undefined>;
  /** the job's events from now on (the first is its current state); undefined for an unknown job */
  subscribe(id: string, listener: (e: JobEvent) => void): Promise<(() => void) | undefined>;
  /** jobs waiting to start */
  queueDepth(): Promise<number>;
  close(): Promise<void>;
}

/** Checks a spec's cache method, preset and settings (as `tcpade generate` would) before it is queued. */
export function checkCacheRequest(spec: JobSpec): void {
  try {
    resolveCacheChoice(spec.cache.method, spec.cache.preset, spec.cache.set, spec.steps);
  } catch (e) {
    throw new RequestError(`cache: ${(e as Error).message}`);
  }
}

/** The event that announces a view's current state. */
export function stateEvent(v: JobView): JobEvent {
  if (v.status === 'queued') return { event: 'queued', data: { id: v.id, position: v.position ?? 0 } };
  if (v.status === 'running') return { event: 'progress', data: { id: v.id, ...v.progress } };
  if (v.status === 'done') return { event: 'done', data: { id: v.id, summary: v.summary, files: v.files } };
  return { event: v.status, data: { id: v.id, ...(v.error ? { error: v.error } : {}) } };
}

interface JobRecord {
  id: string;
  spec: JobSpec;
  status: JobStatus;
  progress: { step: number; steps: number };
  error?: string;
  summary?: string;
  stats?: ServiceStats;
  files?: Map<string, Uint8Array>;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  listeners: Set<(e: JobEvent) => void>;
}

export interface LocalJobsOptions {
  readonly maxBatchRows: number;
  readonly gatherMs?: number;
  /** finished jobs (and their files) are forgotten this long after they finish */
  readonly keepFinishedMs: number;
  /** and at most this many finished jobs are kept */
  readonly keepFinishedJobs: number;
}

/** The embedded service: jobs in this process, sampling in one engine thread. */
export class LocalJobService implements JobService {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly scheduler: BatchScheduler;

  constructor(
    engine: EngineThread,
    restartEngine: () => Promise<EngineThread>,
    private readonly served: readonly ModelInfo[],
    private readonly opts: LocalJobsOptions,
    private readonly metrics?: ServiceMetrics,
  ) {
    this.scheduler = new BatchScheduler(
      restartEngine,
      { maxBatchRows: opts.maxBatchRows, gatherMs: opts.gatherMs },
      {
        onStart: (ids) => ids.forEach((id) => this.started(id)),
        onProgress: (id, step, steps) => this.progressed(id, step, steps),
        onStepTime: (ms, rows) => this.metrics?.observeStep(ms, rows),
        onResult: (r) => this.finished(r),
        onQueueChange: () => this.announcePositions(),
      },
      engine,
    );
  }

  async models(): Promise<readonly ModelInfo[]> {
    return this.served;
  }

  async submit(spec: JobSpec): Promise<{ id: string; position: number }> {
    checkCacheRequest(spec);
    const id = randomUUID();
    const rec: JobRecord = { id, spec, status: 'queued', progress: { step: 0, steps: spec.steps }, createdAt: new Date(), listeners: new Set() };
    this.jobs.set(id, rec);
    const position = this.scheduler.submit(id, spec);
    this.metrics?.jobSubmitted();
    this.evict();
    return { id, position };
  }

  async get(id: string): Promise<JobView | undefined> {
    const rec = this.jobs.get(id);
    return rec && this.view(rec);
  }

  async file(id: string, name: string): Promise<Uint8Array | undefined> {
    return this.jobs.get(id)?.files?.get(name);
  }

  async cancel(id: string): Promise<JobView | undefined> {
    const rec = this.jobs.get(id);
    if (!rec) return undefined;
    if (FINISHED.includes(rec.status)) return this.view(rec);
    const where = this.scheduler.cancel(id);
    // Waiting: gone from the queue now. Running: the engine stops its rows' progress at the next step
    // boundary and makes no outputs; the job is cancelled for the caller from this moment.
    if (where) this.finish(rec, 'cancelled');
    return this.view(rec);
  }

  async subscribe(id: string, listener: (e: JobEvent) => void): Promise<(() => void) | undefined> {
    const rec = this.jobs.get(id);
    if (!rec) return undefined;
    listener(stateEvent(this.view(rec)));
    if (FINISHED.includes(rec.status)) return () => {};
    rec.listeners.add(listener);
    return () => rec.listeners.delete(listener);
  }

  async queueDepth(): Promise<number> {
    return this.scheduler.queueDepth;
  }

  /** Jobs by status (for /metrics). */
  statusCounts(): Record<JobStatus, number> {
    const out: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const r of this.jobs.values()) out[r.status]++;
    return out;
  }

  async close(): Promise<void> {
    await this.scheduler.close();
  }

  private view(rec: JobRecord): JobView {
    const position = rec.status === 'queued' ? this.scheduler.position(rec.id) : undefined;
    const { perStep: _perStep, ...stats } = rec.stats ?? ({} as ServiceStats);
    return {
      id: rec.id,
      status: rec.status,
      model: rec.spec.model,
      ...(position !== undefined ? { position } : {}),
      progress: rec.progress,
      ...(rec.error ? { error: rec.error } : {}),
      ...(rec.summary ? { summary: rec.summary } : {}),
      ...(rec.stats ? { stats } : {}),
      ...(rec.files ? { files: [...rec.files.keys()] } : {}),
      createdAt: rec.createdAt.toISOString(),
      ...(rec.startedAt ? { startedAt: rec.startedAt.toISOString() } : {}),
      ...(rec.finishedAt ? { finishedAt: rec.finishedAt.toISOString() } : {}),
    };
  }

  private emit(rec: JobRecord, e: JobEvent): void {
    for (const l of rec.listeners) l(e);
  }

  private started(id: string): void {
    const rec = this.jobs.get(id);
    if (!rec || rec.status !== 'queued') return;
    rec.status = 'running';
    rec.startedAt = new Date();
    this.emit(rec, { event: 'running', data: { id } });
  }

  private progressed(id: string, step: number, steps: number): void {
    const rec = this.jobs.get(id);
    if (!rec || rec.status !== 'running') return;
    rec.progress = { step, steps };
    this.emit(rec, { event: 'progress', data: { id, step, steps } });
  }

  private finished(r: BatchJobResult): void {
    const rec = this.jobs.get(r.id);
    if (!rec || FINISHED.includes(rec.status)) return;
    if (r.ok) {
      rec.files = r.output.files;
      rec.stats = r.output.stats;
      rec.summary = r.output.summary;
      rec.progress = { step: rec.progress.steps, steps: rec.progress.steps };
      this.metrics?.jobRan(r.output.stats);
      this.finish(rec, 'done');
    } else {
      rec.error = r.error;
      this.finish(rec, r.cancelled ? 'cancelled' : 'failed');
    }
  }

  private finish(rec: JobRecord, status: JobStatus): void {
    rec.status = status;
    rec.finishedAt = new Date();
    this.metrics?.jobFinished(status);
    this.emit(rec, stateEvent(this.view(rec)));
    rec.listeners.clear();
  }

  private announcePositions(): void {
    for (const rec of this.jobs.values()) {
      if (rec.status === 'queued' && rec.listeners.size) this.emit(rec, stateEvent(this.view(rec)));
    }
  }

  /** Forgets finished jobs past their keep time, and the oldest beyond the count. */
  private evict(): void {
    const now = Date.now();
    const finished = [...this.jobs.values()].filter((r) => r.finishedAt).sort((a, b) => a.finishedAt!.getTime() - b.finishedAt!.getTime());
    finished.forEach((r, k) => {
      if (now - r.finishedAt!.getTime() > this.opts.keepFinishedMs || finished.length - k > this.opts.keepFinishedJobs) this.jobs.delete(r.id);
    });
  }
}
