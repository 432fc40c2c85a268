// `npm run bench:engine`: latency and effective GFLOP/s of one DiT-S/2-sized block and a full DiT-S/2
// forward (random weights), a cached 20-step sampling run of mnist-dit (several ORT sessions per step), a
// DiT training step (forward + backward + AdamW), then the SD VAE decoder (bench/vae.ts) and DiT-XL/2
// (bench/dit-xl.ts) in processes of their own.
// Usage: npm run bench:engine [-- --threads 2 --skip-xl --spin]  (--spin: let ORT's worker threads busy-wait)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiT } from '../src/models/dit/dit.js';
import { DiTConfig, namedConfig, numTokens } from '../src/models/dit/dit-config.js';
import { blockFlops } from '../src/models/dit/dit-graph.js';
import { randomDiTWeights } from '../src/models/dit/random-weights.js';
import { buildTrainingGraph, FROZEN_PARAMS } from '../src/train/dit-loss.js';
import { CompiledGraph, defaultThreads } from '../src/runtime/session.js';
import { createCacheMethod } from '../src/cache/index.js';
import { generate } from '../src/pipeline/generate.js';
import { ADAMW_DEFAULTS, adamWStep, createAdamWState } from '../src/train/optimizer.js';

const args = process.argv.slice(2);
const threads = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : defaultThreads();
const skipXl = args.includes('--skip-xl');
const spin = args.includes('--spin');

async function timeIt(fn: () => Promise<unknown>, minRuns = 5, minMs = 1500): Promise<{ medianMs: number; minMs: number }> {
  for (let i = 0; i < 2; i++) await fn(); // warm-up (first runs allocate and prepack)
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], minMs: times[0] };
}

const rows: string[] = [];
function report(name: string, ms: { medianMs: number; minMs: number }, gflop: number, extra = ''): void {
  const line = `${name.padEnd(62)} ${ms.medianMs.toFixed(2).padStart(9)} ms (min ${ms.minMs.toFixed(2)})  ${(gflop / (ms.medianMs / 1000)).toFixed(1).padStart(7)} GFLOP/s ${extra}`;
  rows.push(line);
  console.log(line);
}

function inputs(c: DiTConfig, batch: number) {
  const n = batch * c.inChannels * c.inputSize * c.inputSize;
  return {
    x: Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
    shape: [batch, c.inChannels, c.inputSize, c.inputSize],
    t: Array.from({ length: batch }, (_, i) => 100 + i),
    y: Array.from({ length: batch }, (_, i) => i % c.numClasses),
  };
}

async function benchBlockAndFull(name: string, c: DiTConfig, batches: number[], full: boolean): Promise<void> {
  const model = new DiT(c, randomDiTWeights(c), { threads, spin });
  const perBlock = blockFlops(c) / 1e9;
  for (const b of batches) {
    const inp = inputs(c, b);
    const e = await model.embed(inp.x, inp.shape, inp.t, inp.y);
    const ms = await timeIt(() => model.block(0, e.tokens, e.cond, b));
    report(`${name} one block, batch ${b} (${numTokens(c)} tok)`, ms, perBlock * b);
    if (full) {
      const fm = await timeIt(() => model.forward(inp.x, inp.shape, inp.t, inp.y), 3);
      report(`${name} full forward, batch ${b}`, fm, perBlock * b * c.depth, '(blocks only counted)');
    }
  }
  await model.release();
}

/** A bench script in a process of its own, so its peak RSS is its own; its lines join the report. */
function benchScript(name: string, extra: string[] = []): void {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), name);
  const run = () => spawnSync(process.execPath, ['--import', 'tsx', script, '--threads', String(threads), ...extra], { encoding: 'utf8' });
  let r = run();
  if (/run again to measure/.test(r.stdout)) r = run(); // first use writes the random checkpoint
  const lines = (r.stdout + r.stderr).trim().split('\n');
  for (const l of lines) {
    rows.push(l);
    console.log(l);
  }
}

async function benchTraining(): Promise<void> {
  const c = namedConfig('mnist-dit');
  const B = 64;
  const { graph, trainable } = buildTrainingGraph(c);
  const session = await CompiledGraph.create(graph, { paramsAsInputs: true, threads, spin });
  const params = randomDiTWeights(c);
  const adam = createAdamWState(params);
  const px = c.inChannels * c.inputSize * c.inputSize;
  const xs = [B, c.inChannels, c.inputSize, c.inputSize];
  const feeds = {
    xt: { data: Float32Array.from({ length: B * px }, (_, i) => Math.sin(i)), shape: xs },
    t: { data: Float32Array.from({ length: B }, (_, i) => i * 15), shape: [B] },
    y: { data: BigInt64Array.from({ length: B }, (_, i) => BigInt(i % 11)), shape: [B] },
    target: { data: Float32Array.from({ length: B * px }, (_, i) => Math.cos(i)), shape: xs },
  };
  const step = async (): Promise<void> => {
    const r = await session.run(feeds, params);
    const grads = new Map(trainable.map((k) => [k, r[`grad:${k}`].data as Float32Array] as const));
    adamWStep(params, grads, adam, ADAMW_DEFAULTS, 1e-4, 1, FROZEN_PARAMS);
  };
  const nParams = [...params.values()].reduce((a, p) => a + p.length, 0);
  const ms = await timeIt(step, 5, 4000);
  const flops = (6 * nParams * numTokens(c) * B) / 1e9;
  report(`train step mnist-dit (${(nParams / 1e6).toFixed(2)}M, ${numTokens(c)} tok), batch ${B}`, ms, flops, `${((B * 1000) / ms.medianMs).toFixed(0)} images/s`);
  await session.release();
}

async function benchSampling(): Promise<void> {
  // The pipeline calls embed, block ranges and head (separate sessions) every step, as caching needs.
  const c = namedConfig('mnist-dit');
  const model = new DiT(c, randomDiTWeights(c), { threads, spin });
  const labels = Array.from({ length: 8 }, (_, i) => i);
  for (const [label, cache] of [
    ['none', undefined],
    ['tcpade/fast', createCacheMethod('tcpade', 'fast')],
  ] as const) {
    const ms = await timeIt(() => generate(model, { labels, seed: 0, steps: 20, sampler: 'ddim', cfgScale: 1.5, cache }), 3, 3000);
    report(`sample mnist-dit 20 DDIM steps, 8 samples + CFG, ${label}`, ms, (blockFlops(c) * c.depth * 16 * 20) / 1e9, '(full-run block FLOPs counted)');
  }
  await model.release();
}

console.log(`tcpade engine benchmark — ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores, threads = ${threads}, spin = ${spin}, node ${process.version}`);
await benchBlockAndFull('DiT-S/2-256', namedConfig('DiT-S/2-256'), [1, 8], true);
await benchSampling();
await benchTraining();
benchScript('vae.ts', ['--runs', '5']);
if (!skipXl) benchScript('dit-xl.ts');
if (!skipXl) benchScript('flux-wan-blocks.ts'); // real-width FLUX / Wan blocks vs PyTorch: ~15 min, up to ~13.5 GB RSS
