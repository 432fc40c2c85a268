// Assembles a service: the engine thread with the served models, the embedded job service (or, with a
// Redis URL, the BullMQ one), metrics and the HTTP API; starts and stops them together.
import type { FastifyInstance } from 'fastify';
import { EngineThread } from './engine.js';
import { buildHttpApi } from './http.js';
import { type JobService, LocalJobService } from './jobs.js';
import { ServiceMetrics } from './metrics.js';
import { RedisJobService } from './redis-jobs.js';
import { DEFAULT_LIMITS, type RequestLimits } from './request.js';

export interface ServeOptions {
  /** shipped model names or paths (embedded mode loads them; Redis mode: the workers do) */
  readonly models: readonly string[];
  readonly threads: number;
  readonly maxBatchRows: number;
  readonly gatherMs?: number;
  readonly limits?: RequestLimits;
  readonly keepFinishedMs?: number;
  readonly keepFinishedJobs?: number;
  readonly logger?: boolean;
}

export interface RunningService {
  readonly app: FastifyInstance;
  readonly service: JobService;
  readonly metrics: ServiceMetrics;
  close(): Promise<void>;
}

/** The embedded service: in-process queue, one engine thread, results in memory. */
export async function startEmbeddedService(o: ServeOptions): Promise<RunningService> {
  const start = () => EngineThread.start({ models: o.models, threads: o.threads });
  const engine = await start();
  let service: LocalJobService | undefined;
  const metrics = new ServiceMetrics({ queueDepth: async () => (service ? service.queueDepth() : 0), jobsByStatus: async () => service!.statusCounts() });
  service = new LocalJobService(engine, start, engine.models, { maxBatchRows: o.maxBatchRows, gatherMs: o.gatherMs, keepFinishedMs: o.keepFinishedMs ?? 3_600_000, keepFinishedJobs: o.keepFinishedJobs ?? 1000 }, metrics);
  return withHttp(service, metrics, o);
}

export interface RedisServeOptions {
  readonly redisUrl: string;
  readonly limits?: RequestLimits;
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly keepFinishedSeconds?: number;
  readonly logger?: boolean;
}

/** The Redis service: jobs on BullMQ queues, run by `tcpade worker` processes; this process runs no model. */
export async function startRedisService(o: RedisServeOptions): Promise<RunningService> {
  const service = new RedisJobService({ redisUrl: o.redisUrl, attempts: o.attempts ?? 3, backoffMs: o.backoffMs ?? 2000, keepFinishedSeconds: o.keepFinishedSeconds ?? 3600 });
  await service.ready();
  const metrics = new ServiceMetrics({ queueDepth: () => service.queueDepth(), jobsByStatus: () => service.statusCounts() });
  return withHttp(service, metrics, o);
}

/** The HTTP API over a job service; closing stops the listener, then the service. */
function withHttp(service: JobService, metrics: ServiceMetrics, o: { limits?: RequestLimits; logger?: boolean }): RunningService {
  const app = buildHttpApi(service, { limits: o.limits ?? DEFAULT_LIMITS, metrics, logger: o.logger });
  return {
    app,
    service,
    metrics,
    async close() {
      await app.close();
      await service.close();
    },
  };
}
