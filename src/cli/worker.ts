// `tcpade worker --redis …`: runs the jobs a `tcpade serve --redis …` service queues, for the models given.
import { Command } from 'commander';
import { defaultThreads } from '../runtime/session.js';
import { startRedisWorker } from '../serve/redis-worker.js';
import { intArg, threadsArg } from './args.js';

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('process generation jobs from a Redis (BullMQ) queue that `tcpade serve --redis` fills; jobs waiting together share model batches')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--models <list>', 'comma-separated shipped model names or model paths to serve', list, ['mnist-dit', 'mnist-dit-flow'])
    .option('--threads <n>', 'ORT intra-op threads of the engine', threadsArg, defaultThreads())
    .option('--max-batch-rows <n>', 'most rows (samples × CFG branches, all jobs) in one model batch', intArg(1, 100000), 64)
    .option('--concurrency <n>', 'jobs taken from each queue at once (waiting together, they share batches)', intArg(1, 10000), 32)
    .option('--result-ttl <s>', 'seconds results stay in Redis', intArg(1, 100000000), 3600)
    .option('--max-result-bytes <n>', 'most bytes of one job\'s results (kept in Redis memory)', intArg(1), 256 * 1024 * 1024)
    .option('--lock-ms <n>', 'BullMQ job lock: a job whose worker died is handed to another after this long', intArg(1000), 30_000)
    .action(async (o) => {
      const w = await startRedisWorker({
        redisUrl: o.redis,
        models: o.models,
        threads: o.threads,
        maxBatchRows: o.maxBatchRows,
        concurrency: o.concurrency,
        resultTtlSeconds: o.resultTtl,
        maxResultBytes: o.maxResultBytes,
        lockDurationMs: o.lockMs,
        stalledIntervalMs: Math.max(500, Math.round(o.lockMs / 2)),
      });
      console.log(`tcpade worker: ${w.models.join(', ')} from ${o.redis}`);
      const stop = async (): Promise<void> => {
        await w.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
