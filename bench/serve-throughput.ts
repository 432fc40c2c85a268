// Throughput of `tcpade serve` (embedded queue, one engine thread) with cross-request batching: C small
// requests sent at once vs the same C requests one after another (each waits for the previous), for C = 1,
// 4, 16, with and without a cache method. Requests differ in class and seed; the same method, steps and
// sampler let them share model batches. Writes bench/results/serve-throughput-<date>.txt.
//
//   node --import tsx bench/serve-throughput.ts [--threads 2] [--repeats 3] [--steps 20]
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomicSync } from '../src/io/atomic.js';
import { startEmbeddedService } from '../src/serve/server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number): number => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : dflt;
};
const threads = arg('threads', 2);
const repeats = arg('repeats', 3);
const steps = arg('steps', 20);

const svc = await startEmbeddedService({ models: ['mnist-dit'], threads, maxBatchRows: 64 });
const url = await svc.app.listen({ port: 0, host: '127.0.0.1' });

interface Request {
  model: string;
  classes: number[];
  perClass: number;
  steps: number;
  seed: number;
  cfg: number;
  cache: { method: string; preset?: string };
}

async function runJob(body: Request): Promise<void> {
  const r = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const { id } = (await r.json()) as { id: string };
  // the SSE stream ends when the job does
  const events = await (await fetch(`${url}/v1/jobs/${id}/events`)).text();
  if (!events.includes('event: done')) throw new Error(`job ${id} did not finish: ${events.slice(-300)}`);
}

function requests(count: number, cache: Request['cache']): Request[] {
  return Array.from({ length: count }, (_, k) => ({ model: 'mnist-dit', classes: [k % 10], perClass: 1, steps, seed: 100 + k, cfg: 1.5, cache }));
}

async function timeMs(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const lines: string[] = [];
const log = (s: string): void => {
  console.log(s);
  lines.push(s);
};
log(`# tcpade serve throughput — ${new Date().toISOString().slice(0, 10)}`);
log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}, engine thread with ${threads} ORT threads; load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
log(`request: mnist-dit, 1 class × 1 sample, ${steps} DDIM steps, CFG 1.5 (2 rows each); classes and seeds differ per request`);
log(`each number: median of ${repeats} runs; "sequential" sends each request after the previous one finished`);
log('');
log('| cache | concurrent requests | sequential (s) | concurrent (s) | throughput gain | requests/s concurrent |');
log('|---|---|---|---|---|---|');
for (const cache of [{ method: 'none' }, { method: 'tcpade', preset: 'fast' }]) {
  await runJob(requests(1, cache)[0]); // warm-up: graphs compiled, caches' code paths hot
  for (const c of [1, 4, 16]) {
    const seq: number[] = [];
    const con: number[] = [];
    for (let rep = 0; rep < repeats; rep++) {
      const reqs = requests(c, cache);
      seq.push(await timeMs(async () => {
        for (const r of reqs) await runJob(r);
      }));
      con.push(await timeMs(() => Promise.all(reqs.map(runJob))));
    }
    const [s, k] = [median(seq), median(con)];
    log(`| ${cache.method}${cache.preset ? `/${cache.preset}` : ''} | ${c} | ${(s / 1000).toFixed(2)} | ${(k / 1000).toFixed(2)} | ${(s / k).toFixed(2)}× | ${((c * 1000) / k).toFixed(1)} |`);
  }
}
await svc.close();
const out = path.join(here, 'results', `serve-throughput-${new Date().toISOString().slice(0, 10)}.txt`);
writeFileAtomicSync(out, lines.join('\n') + '\n');
console.log(`wrote ${out}`);
