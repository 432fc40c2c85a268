// DiT-XL/2-256 at the scale users run it, with deterministic random weights (no trained XL weights can be
// had here): forward latency and effective GFLOP/s at batch 1 and 2 (one CFG pair), and the peak RSS of a
// short generate against the model's float32 weight bytes. The weights are written once as a safetensors
// checkpoint (2.7 GB, under ~/.cache/tcpade/bench) and loaded the way users load theirs — lazily, so the
// process holds what onnxruntime holds. Run alone (it is also spawned by `npm run bench:engine`):
//   node --import tsx bench/dit-xl.ts [--threads 2] [--steps 4]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSafetensorsSync } from '../src/io/safetensors.js';
import { loadDenoiser } from '../src/models/load.js';
import { configToOriginalJson, namedConfig } from '../src/models/dit/dit-config.js';
import { parameterShapes } from '../src/models/dit/dit-graph.js';
import { randomDiTWeights } from '../src/models/dit/random-weights.js';
import { generate } from '../src/pipeline/generate.js';
import { defaultThreads } from '../src/runtime/session.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const threads = opt('--threads', defaultThreads());
const steps = opt('--steps', 4);
const config = namedConfig('DiT-XL/2-256');
const dir = path.join(os.homedir(), '.cache', 'tcpade', 'bench', 'dit-xl-2-256-random');
const file = path.join(dir, 'model.safetensors');

if (!fs.existsSync(file)) {
  // Built in a child-free way, then dropped before measuring: the measurement below loads from disk.
  fs.mkdirSync(dir, { recursive: true });
  const shapes = parameterShapes(config);
  const w = randomDiTWeights(config);
  writeSafetensorsSync(file, Object.fromEntries([...w].map(([k, v]) => [k, { dtype: 'F32' as const, shape: shapes.get(k)!, data: v }])));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToOriginalJson(config)));
  console.log(`wrote ${file}; run again to measure with a fresh process`);
  process.exit(0);
}

const weightBytes = [...parameterShapes(config).values()].reduce((a, s) => a + 4 * s.reduce((x, y) => x * y, 1), 0);
const model = await loadDenoiser(dir, { threads });
const gflopPerRow = (model.blockFlops * model.depth) / 1e9;

async function timeForward(batch: number): Promise<{ medianMs: number; minMs: number }> {
  const x = Float32Array.from({ length: batch * 4 * 32 * 32 }, (_, i) => Math.sin(i));
  const t = new Array<number>(batch).fill(500);
  const cond = { classLabels: Array.from({ length: batch }, (_, i) => (207 + i) % 1000) };
  for (let i = 0; i < 2; i++) await model.forward(x, [batch, 4, 32, 32], t, cond); // compile, prepack
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await model.forward(x, [batch, 4, 32, 32], t, cond);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[2], minMs: times[0] };
}

console.log(`DiT-XL/2-256 (random weights, ${(weightBytes / 1e9).toFixed(2)} GB float32) — ${os.cpus()[0]?.model ?? 'cpu'}, threads = ${threads}, node ${process.version}`);
const r = await generate(model, { labels: [207], seed: 0, steps, sampler: 'ddim', cfgScale: 4, batchSize: 1 });
console.log(`generate: 1 sample + CFG, ${steps} DDIM steps: ${(r.stats.wallMs / steps).toFixed(0)} ms/step sampling, ${(r.stats.setupMs / 1000).toFixed(1)} s one-time graph setup`);
for (const batch of [1, 2]) {
  const ms = await timeForward(batch);
  console.log(`DiT-XL/2-256 forward, batch ${batch}: ${ms.medianMs.toFixed(1).padStart(9)} ms (min ${ms.minMs.toFixed(1)})  ${((gflopPerRow * batch) / (ms.medianMs / 1000)).toFixed(1).padStart(6)} GFLOP/s (blocks only counted)`);
}
const peak = process.resourceUsage().maxRSS * 1024;
console.log(`peak RSS ${(peak / 1e9).toFixed(2)} GB = ${(peak / weightBytes).toFixed(2)}× the float32 weights`);
await model.release();
