// Caching at the scale of DiT-XL/2-256, wall speed only: random weights (no trained XL weights can be had
// here, so the samples are noise and no quality is reported), 1 sample with CFG (2 rows), DDIM. For each
// method, full and cached runs alternate (`--pairs` each) and the report gives the wall speedup, the ideal
// 1/(block compute) and their ratio, with the per-step split of the cached run. The weights load from the
// checkpoint bench/dit-xl.ts writes (~/.cache/tcpade/bench/dit-xl-2-256-random).
// Usage: node --import tsx bench/dit-xl-cache.ts [--steps 20,50] [--pairs 1] [--methods tcpade/fast,fora/n3]
import os from 'node:os';
import path from 'node:path';
import { createCacheMethod, listCacheMethods } from '../src/cache/index.js';
import { loadDenoiser } from '../src/models/load.js';
import { generate, type GenerateOptions } from '../src/pipeline/generate.js';
import type { RunStats } from '../src/pipeline/stats.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const stepsList = (opt('--steps') ?? '20,50').split(',').map(Number);
const pairs = Number(opt('--pairs') ?? 1);
const defaults = listCacheMethods().filter((m) => !['none', 'fewer-steps'].includes(m.name)).map((m) => `${m.name}/${m.defaultPreset}`);
const methods = (opt('--methods') ?? [...defaults, 'tcpade/paper-fast'].join(',')).split(',');
const dir = path.join(os.homedir(), '.cache', 'tcpade', 'bench', 'dit-xl-2-256-random');
const model = await loadDenoiser(dir, { threads: 2 });

const base = (steps: number): GenerateOptions => ({ labels: [207], seed: 0, steps, sampler: 'ddim', cfgScale: 1.5, batchSize: 1 });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const perStep = (s: RunStats, steps: number) => Object.fromEntries(Object.entries(s.times).map(([k, v]) => [k, (v as number) / steps]));

console.log(`DiT-XL/2-256, random weights, 1 sample + CFG (2 rows), DDIM, 2 ORT threads, ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
console.log('steps | method | block compute | ideal | wall speedup | speedup/ideal | full s | cached s | per step ms: embed / blocks / head / cache / sampler');
await generate(model, base(2)); // compile the full-run graphs outside every clock
for (const steps of stepsList) {
  for (const label of methods) {
    const [name, preset] = label.split('/');
    const fullMs: number[] = [];
    const cachedMs: number[] = [];
    let stats: RunStats | undefined;
    await generate(model, { ...base(2), cache: createCacheMethod(name, preset, name === 'teacache' ? { coefficients: [1, 0] } : {}) }); // compile its graphs
    for (let p = 0; p < pairs; p++) {
      fullMs.push((await generate(model, base(steps))).stats.wallMs);
      const r = await generate(model, { ...base(steps), cache: createCacheMethod(name, preset, name === 'teacache' ? { coefficients: [1, 0] } : {}) });
      cachedMs.push(r.stats.wallMs);
      stats = r.stats;
    }
    const ratio = stats!.blockComputeRatio;
    const ideal = 1 / ratio;
    const speedup = median(fullMs.map((f, k) => f / cachedMs[k]));
    const t = perStep(stats!, stats!.steps);
    console.log(
      `${steps} | ${label} | ${(100 * ratio).toFixed(1)} % | ${ideal.toFixed(2)}× | ${speedup.toFixed(2)}× | ${(speedup / ideal).toFixed(3)} | ${(median(fullMs) / 1000).toFixed(1)} | ${(median(cachedMs) / 1000).toFixed(1)} | ${t.embedMs.toFixed(1)} / ${t.blocksMs.toFixed(0)} / ${t.headMs.toFixed(1)} / ${t.cacheMs.toFixed(1)} / ${t.samplerMs.toFixed(2)}`,
    );
  }
}
await model.release();
