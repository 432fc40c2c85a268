// `npm run bench:web`: the browser app's speed and page weight, in headless Chromium on this machine.
// Speed: the fixed request of the browser test (mnist-dit, classes 0–9, 1 per class, 20 steps, CFG 1.5, seed
// 0, ours `fast`) and its full compute run, sampled in Node (onnxruntime-node, the library's default threads)
// and in the page with wasm threads (the library default, min(2, cores)) and with one thread; rounds
// interleave the three so load from elsewhere hits them alike. Wall time is `stats.wallMs`: sampling without
// the one-time graph setup, the same clock in both. Page weight: body bytes the server sent for a first
// visit (fresh browser profile, the app built with its brotli/gzip copies), with fp32 and fp16 weights, and
// for a second visit (weights and wasm then come from Cache Storage).
// Usage: npm run bench:web [-- --rounds 5 --out bench/results/web-<date>.txt]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildWeb } from '../scripts/build-web.js';
import { startWebServer, type WebServer } from '../src/webapp/server.js';
import { loadDenoiser } from '../src/models/load.js';
import { resolveModelPath } from '../src/models/shipped.js';
import { generate } from '../src/pipeline/generate.js';
import { defaultThreads } from '../src/runtime/session.js';
import { storedTeaCacheCoefficients } from '../src/cli/calibrate.js';
import { resolveRequest } from '../web/src/engine/generate-options.js';
import { DEFAULT_REQUEST, type WebRequest } from '../web/src/request.js';
import { chromiumPath, chromiumVersion } from '../test/web/browser.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const rounds = Number(opt('--rounds', '5'));
const date = new Date().toISOString().slice(0, 10);
const outFile = opt('--out', path.join('bench', 'results', `web-${date}.txt`));

const CLASSES = '0,1,2,3,4,5,6,7,8,9';
const FIXED: WebRequest = { ...DEFAULT_REQUEST, classes: CLASSES, perClass: 1, steps: 20, seed: 0, cache: 'tcpade', preset: 'fast' };
const FULL: WebRequest = { ...FIXED, cache: 'none', preset: undefined };
const query = (r: WebRequest, extra = ''): string => `?model=${r.model}&classes=${r.classes}&perClass=${r.perClass}&steps=${r.steps}&sampler=&cfg=&seed=${r.seed}&cache=${r.cache}&preset=${r.preset ?? ''}${extra}`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines: string[] = [];
const say = (s = ''): void => {
  console.log(s);
  lines.push(s);
};

async function pageWeight(browser: Browser, server: WebServer, weights: 'fp32' | 'fp16'): Promise<{ first: number; second: number; top: string }> {
  const context = await browser.newContext(); // a fresh profile: empty HTTP cache and Cache Storage
  const page = await context.newPage();
  server.resetTally();
  await page.goto(server.url + query(FIXED, `&weights=${weights}&run=1`));
  await page.waitForFunction(() => (window as unknown as { tcpadeResult?: unknown }).tcpadeResult !== undefined, undefined, { timeout: 600_000 });
  const first = server.sent.bodyBytes;
  const top = [...server.sent.byPath].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 4).map(([p, s]) => `${p} ${(s.bytes / 1e6).toFixed(2)} MB (${s.encoding})`).join(', ');
  server.resetTally();
  await page.reload();
  await page.waitForFunction(() => (window as unknown as { tcpadeResult?: unknown }).tcpadeResult !== undefined, undefined, { timeout: 600_000 });
  const second = server.sent.bodyBytes;
  await context.close();
  return { first, second, top };
}

/** One run in an open page; `threads` must be the page's (another count restarts its engine). */
interface Timed {
  wallMs: number;
  /** time in block-stack session calls */
  blocksMs: number;
}

async function browserRun(page: Page, r: WebRequest, threads: number): Promise<Timed & { backend: string }> {
  return page.evaluate(async (q) => {
    const w = window as unknown as { tcpadeRun(q: string): Promise<{ wallMs: number; backend: string; summary: { times: { blocksMs: number } } }> };
    const x = await w.tcpadeRun(q);
    return { wallMs: x.wallMs, blocksMs: x.summary.times.blocksMs, backend: x.backend };
  }, query(r, `&threads=${threads}`));
}

async function openEngine(browser: Browser, server: WebServer, threads: number): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url + query(FIXED, `&threads=${threads}`));
  await page.waitForFunction(() => document.getElementById('backend')?.textContent?.startsWith('wasm'), undefined, { timeout: 120_000 });
  return page;
}

async function main(): Promise<void> {
  const exe = chromiumPath();
  say(`# tcpade in the browser: speed and page weight (npm run bench:web${args.length ? ` -- ${args.join(' ')}` : ''})`);
  say(`date ${new Date().toISOString()}; ${os.cpus()[0].model}, ${os.availableParallelism()} cores; Node ${process.version}; ${chromiumVersion(exe)} headless; load average before ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const distDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-web-bench-'));
  const { manifest } = await buildWeb({ outDir: distDir, precompress: true, log: false });
  const server = await startWebServer({ distDir, port: 0 });
  const browser = await chromium.launch({ executablePath: exe, headless: true });
  try {
    say();
    say('## Page weight (body bytes sent by `tcpade web`; brotli where the browser took it)');
    const size = (p: string): number => fs.statSync(path.join(distDir, p)).size;
    const m = manifest.models.find((x) => x.name === 'mnist-dit')!;
    say(`files: onnxruntime-web wasm ${(manifest.runtimes.wasm.wasmFile.bytes / 1e6).toFixed(2)} MB (br ${(size('ort/ort-wasm-simd-threaded.wasm.br') / 1e6).toFixed(2)} MB); mnist-dit fp32 ${(m.weights.fp32.files['model.safetensors'].bytes / 1e6).toFixed(2)} MB (br ${(size('models/mnist-dit/model.safetensors.br') / 1e6).toFixed(2)} MB), fp16 ${(m.weights.fp16.files['model.safetensors'].bytes / 1e6).toFixed(2)} MB (br ${(size('models/mnist-dit-fp16/model.safetensors.br') / 1e6).toFixed(2)} MB); app.js + worker.js ${((size('app.js') + size('worker.js')) / 1e3).toFixed(0)} kB`);
    const w32 = await pageWeight(browser, server, 'fp32');
    const w16 = await pageWeight(browser, server, 'fp16');
    say(`first visit, fp32 weights: ${(w32.first / 1e6).toFixed(2)} MB — ${w32.top}`);
    say(`first visit, fp16 weights: ${(w16.first / 1e6).toFixed(2)} MB (${((100 * w16.first) / w32.first).toFixed(0)} % of fp32) — ${w16.top}`);
    say(`second visit (reload, same profile): ${(w32.second / 1e3).toFixed(1)} kB fp32, ${(w16.second / 1e3).toFixed(1)} kB fp16 of bodies (the page's files revalidate as 304s; weights and wasm come from Cache Storage)`);

    say();
    say(`## Speed: mnist-dit, classes ${CLASSES} × 1, 20 steps, CFG 1.5, seed 0 (sampling wall ms, median of ${rounds} interleaved rounds [min–max]; one-shot = first run)`);
    const nodePath = resolveModelPath('mnist-dit');
    const nodeModel = await loadDenoiser(nodePath, { threads: defaultThreads() });
    const coefficients = storedTeaCacheCoefficients(nodePath);
    let blockGflop = 0;
    const nodeRun = async (r: WebRequest): Promise<Timed> => {
      const { stats } = await generate(nodeModel, resolveRequest(r, nodeModel, coefficients).options);
      if (r === FIXED) blockGflop = stats.blockFlopsRun / 1e9;
      return { wallMs: stats.wallMs, blocksMs: stats.times.blocksMs };
    };
    const pages = { threads: await openEngine(browser, server, defaultThreads()), one: await openEngine(browser, server, 1) };
    const rows: { name: string; engine: string; samples: Record<string, Timed[]>; oneShot: Record<string, number> }[] = [
      { name: `Node (onnxruntime-node, ${defaultThreads()} threads)`, engine: 'node', samples: { fast: [], full: [] }, oneShot: {} },
      { name: '', engine: 'threads', samples: { fast: [], full: [] }, oneShot: {} },
      { name: '', engine: 'one', samples: { fast: [], full: [] }, oneShot: {} },
    ];
    const once = async (engine: string, r: WebRequest): Promise<Timed> => {
      if (engine === 'node') return nodeRun(r);
      const x = engine === 'threads' ? await browserRun(pages.threads, r, defaultThreads()) : await browserRun(pages.one, r, 1);
      const row = rows.find((z) => z.engine === engine)!;
      row.name ||= `Chromium, onnxruntime-web ${x.backend}`;
      return x;
    };
    for (const row of rows) for (const [k, r] of [['fast', FIXED], ['full', FULL]] as const) row.oneShot[k] = (await once(row.engine, r)).wallMs;
    for (let i = 0; i < rounds; i++) {
      for (const row of rows) for (const [k, r] of [['fast', FIXED], ['full', FULL]] as const) row.samples[k].push(await once(row.engine, r));
    }
    const node = rows[0];
    const wall = (xs: Timed[]): number[] => xs.map((x) => x.wallMs);
    say(`| runtime | ours fast (ms) | one-shot | × Node | full compute (ms) | × Node | speedup of ours fast |`);
    say(`|---|---:|---:|---:|---:|---:|---:|`);
    for (const row of rows) {
      const f = wall(row.samples.fast);
      const u = wall(row.samples.full);
      const span = (xs: number[]): string => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
      say(`| ${row.name} | ${span(f)} | ${row.oneShot.fast.toFixed(0)} | ${(median(f) / median(wall(node.samples.fast))).toFixed(2)}× | ${span(u)} | ${(median(u) / median(wall(node.samples.full))).toFixed(2)}× | ${(median(u) / median(f)).toFixed(2)}× |`);
    }
    say();
    say(`Where ours fast spends it (medians): block-stack session calls vs the rest (embedding, head, cache math, sampler), and the blocks' rate (${blockGflop.toFixed(1)} GFLOP of blocks run)`);
    say(`| runtime | blocks (ms) | GFLOP/s in blocks | the rest (ms) |`);
    say(`|---|---:|---:|---:|`);
    for (const row of rows) {
      const b = median(row.samples.fast.map((x) => x.blocksMs));
      const rest = median(row.samples.fast.map((x) => x.wallMs - x.blocksMs));
      say(`| ${row.name} | ${b.toFixed(0)} | ${(blockGflop / (b / 1000)).toFixed(0)} | ${rest.toFixed(0)} |`);
    }
    say();
    say(`load average after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    await nodeModel.release();
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(distDir, { recursive: true, force: true });
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, lines.join('\n') + '\n');
  console.log(`wrote ${outFile}`);
}

await main();
