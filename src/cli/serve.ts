// `tcpade serve`: the generation service (HTTP API, cross-request batching) with an in-process queue, or
// with --redis a BullMQ queue that `tcpade worker` processes run (see src/serve/).
import { Command } from 'commander';
import { defaultThreads } from '../runtime/session.js';
import { startEmbeddedService, startRedisService } from '../serve/server.js';
import { DEFAULT_LIMITS } from '../serve/request.js';
import { intArg, threadsArg } from './args.js';

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve generation over HTTP: jobs, progress events, cancellation, results; concurrent requests for the same model share model batches')
    .option('--models <list>', 'comma-separated shipped model names or model paths to serve', list, ['mnist-dit', 'mnist-dit-flow'])
    .option('--port <n>', 'TCP port', intArg(0, 65535), 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--threads <n>', 'ORT intra-op threads of the engine', threadsArg, defaultThreads())
    .option('--max-batch-rows <n>', 'most rows (samples × CFG branches, all requests) in one model batch', intArg(1, 100000), 64)
    .option('--max-samples <n>', 'most samples one request may ask for', intArg(1, 100000), DEFAULT_LIMITS.maxSamples)
    .option('--max-steps <n>', 'most steps one request may ask for', intArg(1, 100000), DEFAULT_LIMITS.maxSteps)
    .option('--keep-minutes <n>', 'finished jobs and their files are kept this long', intArg(1, 100000), 60)
    .option('--redis <url>', 'queue jobs in Redis (BullMQ) for `tcpade worker` processes instead of running them here (--models, --threads, --max-batch-rows then belong to the workers)')
    .option('--attempts <n>', 'with --redis: tries per job (after an engine failure or a dead worker), exponential backoff', intArg(1, 100), 3)
    .option('--log', 'log every HTTP request')
    .action(async (o) => {
      const limits = { maxSamples: o.maxSamples, maxSteps: o.maxSteps };
      const svc = o.redis
        ? await startRedisService({ redisUrl: o.redis, limits, attempts: o.attempts, keepFinishedSeconds: o.keepMinutes * 60, logger: !!o.log })
        : await startEmbeddedService({
            models: o.models,
            threads: o.threads,
            maxBatchRows: o.maxBatchRows,
            limits,
            keepFinishedMs: o.keepMinutes * 60_000,
            logger: !!o.log,
          });
      const address = await svc.app.listen({ port: o.port, host: o.host });
      const names = (await svc.service.models()).map((m) => m.name).join(', ') || (o.redis ? 'no worker yet' : 'no models');
      console.log(`tcpade serve${o.redis ? ` (queue: ${o.redis})` : ''}: ${names} on ${address} (POST /v1/jobs; GET /v1/models, /v1/methods, /healthz, /metrics)`);
      const stop = async (): Promise<void> => {
        await svc.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
