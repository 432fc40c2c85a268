// The service's Prometheus metrics (GET /metrics), through prom-client: queue depth and jobs by status
// (read from the job service when scraped), step latency of model batches, each job's block-compute
// ratio, and the rows computed vs predicted by the caches (their hit share).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobStatus } from './jobs.js';
import type { ServiceStats } from './run-jobs.js';

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly submitted: Counter;
  private readonly finished: Counter<'status'>;
  private readonly stepSeconds: Histogram;
  private readonly batchRows: Histogram;
  private readonly blockComputeRatio: Histogram;
  private readonly rowSteps: Counter<'kind'>;

  /**
   * `queueDepth` and `jobsByStatus` are read at each scrape (they live in the job service: in memory, or
   * in Redis).
   */
  constructor(sources: { queueDepth: () => Promise<number>; jobsByStatus?: () => Promise<Record<JobStatus, number>> }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tcpade_' });
    new Gauge({
      name: 'tcpade_queue_depth',
      help: 'jobs waiting to start',
      registers,
      async collect() {
        this.set(await sources.queueDepth());
      },
    });
    if (sources.jobsByStatus) {
      const byStatus = sources.jobsByStatus;
      new Gauge({
        name: 'tcpade_jobs',
        help: 'jobs the service knows, by status',
        labelNames: ['status'],
        registers,
        async collect() {
          for (const [status, n] of Object.entries(await byStatus())) this.set({ status }, n);
        },
      });
    }
    this.submitted = new Counter({ name: 'tcpade_jobs_submitted_total', help: 'jobs accepted', registers });
    this.finished = new Counter({ name: 'tcpade_jobs_finished_total', help: 'jobs that ended, by how', labelNames: ['status'], registers });
    this.stepSeconds = new Histogram({
      name: 'tcpade_step_seconds',
      help: 'wall time of one sampling step of a model batch (all its rows)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchRows = new Histogram({ name: 'tcpade_batch_rows', help: 'rows (samples × CFG branches, all jobs) per model batch step', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.blockComputeRatio = new Histogram({
      name: 'tcpade_job_block_compute_ratio',
      help: "a finished job's block evaluations / those of the uncached run",
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers,
    });
    this.rowSteps = new Counter({
      name: 'tcpade_row_steps_total',
      help: '(row, step) pairs whose block stack was computed or predicted by the cache; predicted / all = cache hit share',
      labelNames: ['kind'],
      registers,
    });
  }

  jobSubmitted(): void {
    this.submitted.inc();
  }

  jobFinished(status: JobStatus): void {
    this.finished.inc({ status });
  }

  observeStep(ms: number, rows: number): void {
    this.stepSeconds.observe(ms / 1000);
    this.batchRows.observe(rows);
  }

  jobRan(stats: Pick<ServiceStats, 'blockComputeRatio' | 'computedCount' | 'predictedCount'>): void {
    this.blockComputeRatio.observe(stats.blockComputeRatio);
    this.rowSteps.inc({ kind: 'computed' }, stats.computedCount);
    this.rowSteps.inc({ kind: 'predicted' }, stats.predictedCount);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
