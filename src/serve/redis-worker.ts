// `tcpade worker --redis …`: takes jobs for the models it serves from their BullMQ queues and runs them
// through the same BatchScheduler and engine thread as the embedded service — so jobs that wait together
// share model batches here too. The BullMQ processor only waits on the scheduler: sampling runs in the
// engine thread, so this event loop stays free to renew job locks (a processor that blocked it would
// make BullMQ declare its jobs stalled). Results go to Redis; a worker killed mid-job leaves a stalled job
// that BullMQ's stalled-job check hands to another worker.
import os from 'node:os';
import { Redis } from 'ioredis';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { EngineThread } from './engine.js';
import { CANCEL_CHANNEL, HEARTBEAT_MS, MODELS_KEY, queueName, resultKey } from './redis-keys.js';
import type { JobSpec } from './request.js';
import type { BatchJobResult } from './run-jobs.js';
import { BatchScheduler } from './scheduler.js';

export interface WorkerOptions {
  readonly redisUrl: string;
  readonly models: readonly string[];
  readonly threads: number;
  readonly maxBatchRows: number;
  /** jobs taken from each queue at once (they wait in the scheduler and share batches) */
  readonly concurrency: number;
  /** how long results stay in Redis (s) */
  readonly resultTtlSeconds: number;
  /** most bytes of one job's results (they live in Redis memory) */
  readonly maxResultBytes: number;
  /** BullMQ lock duration (ms): a job whose worker stops renewing it is stalled after this long */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
}

/** What a completed BullMQ job returns (the files themselves are in resultKey(id)). */
export interface JobReturn {
  readonly summary: string;
  readonly stats: Record<string, unknown>;
  readonly files: readonly string[];
}

export interface RunningWorker {
  readonly models: readonly string[];
  close(): Promise<void>;
}

export async function startRedisWorker(o: WorkerOptions): Promise<RunningWorker> {
  const start = () => EngineThread.start({ models: o.models, threads: o.threads });
  const engine = await start();
  // BullMQ does not close connections it is handed: keep them all to close them; their errors while
  // Redis is away are retried by ioredis and surface on the calls that use them.
  const connections: Redis[] = [];
  const connect = (): Redis => {
    const c = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    c.on('error', () => {});
    connections.push(c);
    return c;
  };
  const redis = connect();
  const subscriber = connect();
  const pending = new Map<string, { job: Job; resolve(v: JobReturn): void; reject(e: Error): void }>();
  const workerId = `${os.hostname()}:${process.pid}`;

  const scheduler = new BatchScheduler(
    start,
    { maxBatchRows: o.maxBatchRows },
    {
      onStart: () => {},
      onProgress: (id, step, steps) => void pending.get(id)?.job.updateProgress({ step, steps }).catch(() => {}),
      onResult: (r) => void settle(r),
    },
    engine,
  );

  async function settle(r: BatchJobResult): Promise<void> {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (!r.ok) {
      // A cancelled job or a bad request must not be retried; an engine failure may be.
      p.reject(r.cancelled ? new UnrecoverableError('cancelled') : r.retryable ? new Error(r.error) : new UnrecoverableError(r.error));
      return;
    }
    const files = r.output.files;
    const bytes = [...files.values()].reduce((a, f) => a + f.byteLength, 0);
    if (bytes > o.maxResultBytes) {
      p.reject(new UnrecoverableError(`the results are ${bytes} bytes, over this worker's limit of ${o.maxResultBytes} (--max-result-bytes); ask for fewer samples`));
      return;
    }
    try {
      const key = resultKey(r.id);
      const multi = redis.multi().del(key);
      for (const [name, data] of files) multi.hset(key, name, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      await multi.expire(key, o.resultTtlSeconds).exec();
      const { perStep: _perStep, ...stats } = r.output.stats;
      p.resolve({ summary: r.output.summary, stats: stats as Record<string, unknown>, files: [...files.keys()] });
    } catch (e) {
      p.reject(new Error(`storing the results in Redis failed: ${(e as Error).message}`));
    }
  }

  const processor = (job: Job<{ spec: JobSpec }>): Promise<JobReturn> =>
    new Promise((resolve, reject) => {
      pending.set(job.id!, { job, resolve, reject });
      scheduler.submit(job.id!, job.data.spec);
    });

  const workers = engine.models.map(
    (m) =>
      new Worker(queueName(m.name), processor, {
        connection: connect(),
        concurrency: o.concurrency,
        ...(o.lockDurationMs ? { lockDuration: o.lockDurationMs } : {}),
        ...(o.stalledIntervalMs ? { stalledInterval: o.stalledIntervalMs } : {}),
      }),
  );
  for (const w of workers) w.on('error', (e) => console.error(`tcpade worker: ${e.message}`));

  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on('message', (_channel, id: string) => {
    if (pending.has(id)) scheduler.cancel(id);
  });

  const heartbeat = async (): Promise<void> => {
    const seenAt = Date.now();
    const multi = redis.multi();
    for (const info of engine.models) multi.hset(MODELS_KEY, info.name, JSON.stringify({ info, worker: workerId, seenAt }));
    await multi.exec();
  };
  await heartbeat();
  const timer = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_MS);

  return {
    models: engine.models.map((m) => m.name),
    async close() {
      clearInterval(timer);
      await Promise.all(workers.map((w) => w.close()));
      await scheduler.close();
      for (const c of connections) c.disconnect();
    },
  };
}
