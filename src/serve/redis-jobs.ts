// The job service of `tcpade serve --redis …`: jobs go on the BullMQ queue of their model, `tcpade worker`
// processes anywhere run them, progress comes back through BullMQ's QueueEvents, results from Redis.
// This process runs no model: it knows the served models from the workers' heartbeats.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Job, Queue, QueueEvents } from 'bullmq';
import { type JobEvent, type JobService, type JobStatus, type JobView, checkCacheRequest, stateEvent } from './jobs.js';
import { CANCEL_CHANNEL, JOB_MODEL_KEY, MODELS_KEY, WORKER_STALE_MS, cancelledKey, queueName, resultKey } from './redis-keys.js';
import type { JobSpec, ModelInfo } from './request.js';
import type { JobReturn } from './redis-worker.js';

export interface RedisJobsOptions {
  readonly redisUrl: string;
  /** attempts per job (retries after an engine failure or a stalled worker), with exponential backoff */
  readonly attempts: number;
  readonly backoffMs: number;
  /** finished jobs are kept this long (s) */
  readonly keepFinishedSeconds: number;
}

/** The queue is unreachable: the caller should retry later (HTTP 503). */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

interface QueueHandle {
  readonly queue: Queue;
  readonly events: QueueEvents;
}

export class RedisJobService implements JobService {
  private readonly redis: Redis;
  private readonly queues = new Map<string, QueueHandle>();
  private readonly listeners = new Map<string, Set<(e: JobEvent) => void>>();
  /** every connection this service opened: BullMQ does not close connections it is handed */
  private readonly connections: Redis[] = [];

  constructor(private readonly o: RedisJobsOptions) {
    // Fail fast instead of queueing commands while Redis is down, so requests get a clear answer.
    this.redis = this.connect(true);
  }

  /** A connection that reconnects quietly while Redis is away (its errors surface on the calls that use it). */
  private connect(failFast: boolean): Redis {
    const c = new Redis(this.o.redisUrl, failFast ? { maxRetriesPerRequest: 1, enableOfflineQueue: false } : { maxRetriesPerRequest: null });
    c.on('error', () => {});
    this.connections.push(c);
    return c;
  }

  /** Waits until Redis answers (a server should not listen before its queue is reachable). */
  async ready(timeoutMs = 10_000): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      try {
        await this.redis.ping();
        return;
      } catch (e) {
        if (Date.now() - t0 > timeoutMs) throw new QueueUnavailableError(`Redis at ${this.o.redisUrl} does not answer: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async guard<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof QueueUnavailableError) throw e;
      const msg = (e as Error).message;
      if (/Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue|max retries|ETIMEDOUT/i.test(msg)) {
        throw new QueueUnavailableError(`the job queue (Redis) is unavailable while ${what}: ${msg}; try again shortly`);
      }
      throw e;
    }
  }

  private handle(model: string): QueueHandle {
    let h = this.queues.get(model);
    if (!h) {
      const name = queueName(model);
      const queue = new Queue(name, { connection: this.connect(true) });
      const events = new QueueEvents(name, { connection: this.connect(false) });
      queue.on('error', () => {});
      events.on('error', () => {});
      events.on('active', ({ jobId }) => this.emit(jobId, { event: 'running', data: { id: jobId } }));
      events.on('progress', ({ jobId, data }) => this.emit(jobId, { event: 'progress', data: { id: jobId, ...(data as object) } }));
      const final = (jobId: string): void => {
        void this.get(jobId).then((v) => {
          if (v) this.emit(jobId, stateEvent(v));
        });
      };
      events.on('completed', ({ jobId }) => final(jobId));
      events.on('failed', ({ jobId }) => final(jobId));
      h = { queue, events };
      this.queues.set(model, h);
    }
    return h;
  }

  private emit(id: string, e: JobEvent): void {
    const set = this.listeners.get(id);
    if (!set) return;
    for (const l of set) l(e);
    if (['done', 'failed', 'cancelled'].includes(e.event)) this.listeners.delete(id);
  }

  async models(): Promise<readonly ModelInfo[]> {
    const entries = await this.guard('listing models', () => this.redis.hgetall(MODELS_KEY));
    const now = Date.now();
    return Object.values(entries)
      .map((v) => JSON.parse(v) as { info: ModelInfo; seenAt: number })
      .filter((e) => now - e.seenAt < WORKER_STALE_MS)
      .map((e) => e.info)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async submit(spec: JobSpec): Promise<{ id: string; position: number }> {
    checkCacheRequest(spec);
    const id = randomUUID();
    const { queue } = this.handle(spec.model);
    await this.guard('queueing the job', async () => {
      await this.redis.hset(JOB_MODEL_KEY, id, spec.model);
      await queue.add('generate', { spec }, {
        jobId: id,
        attempts: this.o.attempts,
        backoff: { type: 'exponential', delay: this.o.backoffMs },
        removeOnComplete: { age: this.o.keepFinishedSeconds },
        removeOnFail: { age: this.o.keepFinishedSeconds },
      });
    });
    const position = Math.max(0, (await this.guard('counting the queue', () => queue.getWaitingCount())) - 1);
    return { id, position };
  }

  private async modelOf(id: string): Promise<string | undefined> {
    return (await this.guard('finding the job', () => this.redis.hget(JOB_MODEL_KEY, id))) ?? undefined;
  }

  async get(id: string): Promise<JobView | undefined> {
    const model = await this.modelOf(id);
    if (!model) return undefined;
    const { queue } = this.handle(model);
    // The state first, then the job: a job read before it completed carries no return value, while a
    // state read first is at most one transition behind the job (finished states are final).
    const state = await this.guard('reading the job', () => queue.getJobState(id));
    const [job, cancelled] = await this.guard('reading the job', () => Promise.all([Job.fromId<{ spec: JobSpec }, JobReturn>(queue, id), this.redis.get(cancelledKey(id))]));
    const base = { id, model, createdAt: new Date(job?.timestamp ?? Date.now()).toISOString() };
    if (cancelled) {
      const c = JSON.parse(cancelled) as { steps: number; step: number; createdAt: string };
      return { ...base, createdAt: c.createdAt, status: 'cancelled', progress: { step: c.step, steps: c.steps } };
    }
    if (!job) return undefined;
    const status: JobStatus = state === 'active' ? 'running' : state === 'completed' ? 'done' : state === 'failed' ? (job.failedReason === 'cancelled' ? 'cancelled' : 'failed') : 'queued';
    const steps = job.data.spec.steps;
    const progress = status === 'done' ? { step: steps, steps } : typeof job.progress === 'object' && job.progress !== null ? (job.progress as { step: number; steps: number }) : { step: 0, steps };
    const position = status === 'queued' ? await this.position(queue, id) : undefined;
    return {
      ...base,
      status,
      ...(position !== undefined ? { position } : {}),
      progress,
      ...(status === 'failed' ? { error: job.failedReason } : {}),
      ...(status === 'done' && job.returnvalue ? { summary: job.returnvalue.summary, stats: job.returnvalue.stats as unknown as JobView['stats'], files: job.returnvalue.files } : {}),
      ...(job.processedOn ? { startedAt: new Date(job.processedOn).toISOString() } : {}),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
    };
  }

  /** 0-based place among the waiting jobs of its queue (oldest first). */
  private async position(queue: Queue, id: string): Promise<number | undefined> {
    const waiting = await this.guard('reading the queue', () => queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true));
    const k = waiting.findIndex((j) => j.id === id);
    return k < 0 ? undefined : k;
  }

  async file(id: string, name: string): Promise<Uint8Array | undefined> {
    return (await this.guard('reading results', () => this.redis.hgetBuffer(resultKey(id), name))) ?? undefined;
  }

  async cancel(id: string): Promise<JobView | undefined> {
    const v = await this.get(id);
    if (!v || ['done', 'failed', 'cancelled'].includes(v.status)) return v;
    // Mark first (the view answers "cancelled" from now on), then remove a waiting job or ask the worker
    // running it to stop at its next step boundary.
    await this.guard('cancelling', () => this.redis.set(cancelledKey(id), JSON.stringify({ step: v.progress.step, steps: v.progress.steps, createdAt: v.createdAt }), 'EX', this.o.keepFinishedSeconds));
    const { queue } = this.handle(v.model);
    const job = await Job.fromId(queue, id);
    if (job && v.status === 'queued') await job.remove().catch(() => {});
    await this.guard('cancelling', () => this.redis.publish(CANCEL_CHANNEL, id));
    const after = (await this.get(id))!;
    this.emit(id, stateEvent(after));
    return after;
  }

  async subscribe(id: string, listener: (e: JobEvent) => void): Promise<(() => void) | undefined> {
    const v = await this.get(id);
    if (!v) return undefined;
    listener(stateEvent(v));
    if (['done', 'failed', 'cancelled'].includes(v.status)) return () => {};
    this.handle(v.model);
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  async queueDepth(): Promise<number> {
    const models = await this.models();
    const counts = await Promise.all(models.map((m) => this.guard('counting the queue', () => this.handle(m.name).queue.getJobCountByTypes('waiting', 'prioritized', 'delayed'))));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Jobs by status over every served model's queue (for /metrics). */
  async statusCounts(): Promise<Record<JobStatus, number>> {
    const out: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const m of await this.models()) {
      const c = await this.guard('counting jobs', () => this.handle(m.name).queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'));
      out.queued += (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
      out.running += c.active ?? 0;
      out.done += c.completed ?? 0;
      out.failed += c.failed ?? 0;
    }
    return out;
  }

  async close(): Promise<void> {
    for (const { queue, events } of this.queues.values()) {
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
    }
    for (const c of this.connections) c.disconnect();
  }
}
