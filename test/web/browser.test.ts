// The browser app in real Chromium (headless, Debian's package): the fixed request — mnist-dit, classes 0–9,
// 20 steps, ours `fast`, seed 0 — runs in the page on onnxruntime-web and must make the decisions `tcpade
// generate` makes in Node (a decision may differ only where its signal lies within 1e-4 of the threshold)
// and the same samples within 1e-3; the full compute run the page compares with must match Node's
// `--cache none`; the page reports its backend and a screenshot is written. Bad requests typed into the URL
// show a clear message and raise no uncaught error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listCacheMethods } from '../../src/cache/index.js';
import { readSafetensorsSync, toFloat32 } from '../../src/io/safetensors.js';
import { storedTeaCacheCoefficients } from '../../src/cli/calibrate.js';
import { loadDenoiser } from '../../src/models/load.js';
import { resolveModelPath } from '../../src/models/shipped.js';
import { generate } from '../../src/pipeline/generate.js';
import { toUnitRange } from '../../src/pipeline/unit-range.js';
import { resolveRequest } from '../../web/src/engine/generate-options.js';
import { DEFAULT_REQUEST, type WebRequest } from '../../web/src/request.js';
import { psnrPerImage } from '../../src/eval/fidelity.js';
import type { StepRecord } from '../../src/pipeline/stats.js';
import { repoRoot, tcpade } from '../support/cli.js';
import { type WebFixture, chromiumPath, chromiumVersion, openPage, startWebFixture, waitForOutcome } from './browser.js';

const CLASSES = '0,1,2,3,4,5,6,7,8,9';
const FIXED = `?model=mnist-dit&classes=${CLASSES}&perClass=1&steps=20&sampler=&cfg=&seed=0&cache=tcpade&preset=fast&run=1&compare=1`;
/** Where the screenshots go (out/ is ignored by git); the README's picture is copied from here. */
const SHOTS = path.join(repoRoot, 'out', 'web-test');

interface NodeRun {
  images: Float32Array;
  perStep: StepRecord[];
}

async function nodeGenerate(cache: string, preset?: string): Promise<NodeRun> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-web-node-'));
  try {
    const r = await tcpade('generate', '--model', 'mnist-dit', '--classes', CLASSES, '--per-class', '1', '--steps', '20', '--seed', '0', '--cache', cache, ...(preset ? ['--preset', preset] : []), '--out', out, '--no-progress');
    assert.equal(r.code, 0, r.stderr);
    const st = readSafetensorsSync(path.join(out, 'samples.safetensors'));
    const stats = JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8')) as { perStep: StepRecord[] };
    return { images: toFloat32(st.tensors.get('images')!), perStep: stats.perStep };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface PageTimelineRow {
  sample: number;
  branch: string;
  cells: { compute: boolean; reason: string; signal?: number; threshold?: number }[];
}

let fx: WebFixture;
before(async () => {
  fx = await startWebFixture();
});
after(async () => {
  await fx?.close();
});

test('the fixed request in Chromium matches tcpade generate in Node: decisions, samples, the full-compute comparison', { timeout: 420_000 }, async (t) => {
  const exe = chromiumPath();
  t.diagnostic(`browser: ${chromiumVersion(exe)} (${exe})`);
  const [cachedNode, fullNode] = [await nodeGenerate('tcpade', 'fast'), await nodeGenerate('none')];
  const { page, problems } = await openPage(fx.browser);
  await page.goto(fx.server.url + FIXED);
  await waitForOutcome(page, 300_000);
  const error = await page.evaluate(() => (window as unknown as { tcpadeError?: string }).tcpadeError);
  assert.equal(error, undefined, `the page failed: ${error}`);
  const r = await page.evaluate(() => {
    const w = window as unknown as { tcpadeResult: { images: Float32Array; shape: number[]; decisions: number[][]; backend: string; wallMs: number; timeline: PageTimelineRow[] } };
    const x = w.tcpadeResult;
    return { images: Array.from(x.images), shape: x.shape, decisions: x.decisions, backend: x.backend, wallMs: x.wallMs, timeline: x.timeline, isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency };
  });

  // (c) the backend it used, shown on the page too
  assert.match(r.backend, /^(wasm \(\d+ threads?\)|webgpu)$/);
  assert.equal(await page.textContent('#backend'), r.backend);
  assert.ok(r.isolated, 'the server must make the page cross-origin isolated (COOP/COEP), or wasm gets no threads');
  if (r.backend.startsWith('wasm')) assert.equal(r.backend, `wasm (${Math.min(2, r.cores)} thread${Math.min(2, r.cores) === 1 ? '' : 's'})`, 'the library default: min(2, cores) threads');
  assert.ok(r.wallMs > 0);

  // (a) decisions: every sample and CFG branch, step by step, against Node's stats.json
  assert.deepEqual(r.shape, [10, 1, 28, 28]);
  let compared = 0;
  let maxSignalDiff = 0;
  const differing: string[] = [];
  for (const rec of cachedNode.perStep) {
    for (const d of rec.decisions) {
      const row = r.timeline.find((x) => x.sample === d.sample && x.branch === rec.branch);
      assert.ok(row, `the page has no timeline row for sample ${d.sample}, ${rec.branch}`);
      const cell = row.cells[rec.step];
      compared++;
      if (d.signal !== undefined && cell.signal !== undefined) maxSignalDiff = Math.max(maxSignalDiff, Math.abs(d.signal - cell.signal));
      if (cell.compute !== d.compute || cell.reason !== d.reason) {
        const near = d.signal !== undefined && d.threshold !== undefined && Math.abs(d.signal - d.threshold) <= 1e-4;
        const what = `sample ${d.sample} ${rec.branch} step ${rec.step}: Node ${d.compute ? 'computed' : 'predicted'} (${d.reason} ${d.signal} vs ${d.threshold}), browser ${cell.compute ? 'computed' : 'predicted'} (${cell.reason} ${cell.signal})`;
        assert.ok(near, `a decision differs away from its threshold — ${what}`);
        differing.push(what);
      }
    }
  }
  assert.equal(compared, 10 * 2 * 20);
  // window.tcpadeResult.decisions[k][s]: the conditional branch's cells of the same timeline
  for (const row of r.timeline.filter((x) => x.branch === 'cond')) assert.deepEqual(r.decisions[row.sample], row.cells.map((c) => (c.compute ? 1 : 0)));
  assert.equal(r.decisions.length, 10);
  t.diagnostic(`decisions: ${compared} compared, ${differing.length} differ${differing.length ? `: ${differing.join('; ')}` : ''}; largest |signal difference| ${maxSignalDiff.toExponential(2)}`);

  // (b) samples within 1e-3 of Node's, in [0, 1] as samples.safetensors holds them
  const diff = maxAbsDiff(r.images, cachedNode.images);
  t.diagnostic(`samples: max |browser − node| = ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-3, `samples differ from Node's by ${diff}`);

  // the comparison the page ran on its own: full compute of the same request, the speedup and per-sample PSNR
  await page.waitForFunction(() => (window as unknown as { tcpadeCompare?: unknown }).tcpadeCompare !== undefined || (window as unknown as { tcpadeError?: string }).tcpadeError !== undefined, undefined, { timeout: 300_000 });
  const c = await page.evaluate(() => {
    const x = (window as unknown as { tcpadeCompare: { images: Float32Array; speedup: number; psnrDb: number[]; fullWallMs: number; cachedWallMs: number } }).tcpadeCompare;
    return { images: Array.from(x.images), speedup: x.speedup, psnrDb: x.psnrDb, fullWallMs: x.fullWallMs, cachedWallMs: x.cachedWallMs };
  });
  const fullDiff = maxAbsDiff(c.images, fullNode.images);
  t.diagnostic(`full compute: max |browser − node| = ${fullDiff.toExponential(2)}; page speedup ${c.speedup.toFixed(2)}× (${c.fullWallMs.toFixed(0)} ms vs ${c.cachedWallMs.toFixed(0)} ms warm; the first run took ${r.wallMs.toFixed(0)} ms)`);
  assert.ok(fullDiff <= 1e-3, `full compute samples differ from Node's by ${fullDiff}`);
  const psnr = psnrPerImage(Float32Array.from(r.images), Float32Array.from(c.images), 10);
  psnr.forEach((v, k) => assert.ok(Math.abs(v - c.psnrDb[k]) < 1e-9 || (v === Infinity && c.psnrDb[k] === null), `sample ${k}: page PSNR ${c.psnrDb[k]}, recomputed ${v}`));
  // the first run of a page is timed again warm before the speedup is taken
  assert.ok(c.cachedWallMs > 0 && c.cachedWallMs !== r.wallMs);
  assert.ok(Math.abs(c.speedup - c.fullWallMs / c.cachedWallMs) < 1e-9);
  assert.match((await page.textContent('#stat-speedup')) ?? '', /^\d+\.\d\d×$/);

  // (d) screenshots, desktop and phone-sized (look at them: out/web-test/)
  fs.mkdirSync(SHOTS, { recursive: true });
  const shot = path.join(SHOTS, 'mnist-dit-tcpade-fast.png');
  await page.screenshot({ path: shot, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  const phone = path.join(SHOTS, 'mnist-dit-tcpade-fast-phone.png');
  await page.screenshot({ path: phone, fullPage: true });
  for (const f of [shot, phone]) {
    const png = fs.readFileSync(f);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${f} is not a PNG`);
    assert.ok(png.byteLength > 20_000, `${f} is suspiciously small (${png.byteLength} bytes)`);
  }
  // nothing overflows a phone's width
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'the page scrolls sideways on a phone-sized screen');
  t.diagnostic(`screenshots: ${path.relative(repoRoot, shot)}, ${path.relative(repoRoot, phone)}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a bad request in the URL shows a clear message, and nothing throws uncaught', { timeout: 120_000 }, async () => {
  const cases: [string, RegExp][] = [
    ['?model=mnist-dit&steps=0&run=1', /^steps must be an integer in \[1, 1000\], got "0"$/],
    ['?model=mnist-dit&steps=20&cache=tcpade&preset=fastest&run=1', /^cache method 'tcpade': unknown preset 'fastest'; valid presets: .*\bfast\b/],
    ['?model=mnist-dat&run=1', /^no model "mnist-dat" in this app; it has mnist-dit, mnist-dit-flow$/],
    ['?model=mnist-dit&classes=0,12&run=1', /12/],
    ['?model=mnist-dit&sampler=flow-euler&run=1', /^sampler flow-euler does not fit mnist-dit, trained with the eps objective/],
    ['?model=mnist-dit&stepz=20&run=1', /^unknown parameter "stepz"/],
  ];
  for (const [query, expected] of cases) {
    const { page, problems } = await openPage(fx.browser);
    await page.goto(fx.server.url + query);
    await waitForOutcome(page, 60_000);
    const shown = (await page.textContent('#error'))?.trim() ?? '';
    assert.ok(await page.isVisible('#error'), `${query}: the message is not visible`);
    assert.match(shown, expected, `${query}: the page shows "${shown}"`);
    assert.equal(await page.evaluate(() => (window as unknown as { tcpadeError?: string }).tcpadeError), shown);
    assert.equal(await page.evaluate(() => (window as unknown as { tcpadeResult?: unknown }).tcpadeResult), undefined);
    // the page stays usable: the Run button is enabled again
    assert.equal(await page.isEnabled('#run'), true);
    assert.deepEqual(problems, [], `${query}: ${problems.join('; ')}`);
    await page.close();
  }
});

test('every cache method and form runs in the page as in Node (both models, 2 samples, 12 steps)', { timeout: 420_000 }, async (t) => {
  const forms: [string, string | undefined][] = [
    ...listCacheMethods().map((m) => [m.name, undefined] as [string, undefined]),
    ['tcpade', 'paper-fast'], ['tcpade', 'reference'], ['tcpade', 'lite-fast'], ['taylorseer', 'block-n4o2'], ['fora', 'lite-n3'], ['fewer-steps', 'x2'],
  ];
  const { page, problems } = await openPage(fx.browser);
  await page.goto(fx.server.url);
  await page.waitForFunction(() => document.getElementById('backend')?.textContent !== 'starting…');
  for (const modelName of ['mnist-dit', 'mnist-dit-flow']) {
    const modelPath = resolveModelPath(modelName);
    const model = await loadDenoiser(modelPath, { threads: 2 });
    try {
      for (const [cache, preset] of forms) {
        const r: WebRequest = { ...DEFAULT_REQUEST, model: modelName, classes: '3,8', perClass: 1, steps: 12, seed: 11, cache, preset };
        const node = await generate(model, resolveRequest(r, model, storedTeaCacheCoefficients(modelPath)).options);
        const q = `?model=${modelName}&classes=3,8&perClass=1&steps=12&seed=11&cache=${cache}&preset=${preset ?? ''}`;
        const b = await page.evaluate(async (query) => {
          const x = await (window as unknown as { tcpadeRun(q: string): Promise<{ images: Float32Array; timeline: PageTimelineRow[]; summary: { label: string } }> }).tcpadeRun(query);
          return { images: Array.from(x.images), timeline: x.timeline, label: x.summary.label };
        }, q);
        const what = `${modelName} ${b.label}`;
        let differing = 0;
        for (const rec of node.stats.perStep) {
          for (const d of rec.decisions) {
            const cell = b.timeline.find((x) => x.sample === d.sample && x.branch === rec.branch)!.cells[rec.step];
            if (cell.compute !== d.compute || cell.reason !== d.reason) {
              assert.ok(d.signal !== undefined && d.threshold !== undefined && Math.abs(d.signal - d.threshold) <= 1e-4, `${what}: sample ${d.sample} ${rec.branch} step ${rec.step} decided differently away from its threshold`);
              differing++;
            }
          }
        }
        const diff = maxAbsDiff(b.images, toUnitRange(node.samples));
        t.diagnostic(`${what}: max |browser − node| ${diff.toExponential(2)}, ${differing} decisions differ`);
        assert.ok(diff <= 1e-3, `${what}: samples differ by ${diff}`);
      }
    } finally {
      await model.release();
    }
  }
  assert.deepEqual(problems, []);
  await page.close();
});
