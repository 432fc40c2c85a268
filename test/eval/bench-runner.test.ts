// The bench runner end to end on a tiny random-weights model: every method/preset gets one sane row,
// files are written, `--resume` adds only what is missing, and an interrupted run loses nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCacheMethods } from '../../src/cache/index.js';
import { namedConfig } from '../../src/models/dit/dit-config.js';
import { randomDiTWeights } from '../../src/models/dit/random-weights.js';
import { exportModel } from '../../src/train/trainer.js';
import { quickBenchConfig, type BenchConfig } from '../../src/eval/bench/config.js';
import { runBench } from '../../src/eval/bench/runner.js';
import { loadBenchFile, PSNR_CAP_DB, type BenchRow } from '../../src/eval/bench/rows.js';
import { loadClassifier, MnistReference } from '../../src/eval/metrics.js';

const classifier = fileURLToPath(new URL('../../models/mnist-classifier', import.meta.url));
let dir: string;
let modelDir: string;
let config: BenchConfig;
let reference: MnistReference;

before(async () => {
  // One metric reference for every run below: the MNIST test statistics are computed once.
  reference = new MnistReference(await loadClassifier(classifier, 1));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-bench-'));
  modelDir = path.join(dir, 'tiny-eps');
  const c = namedConfig('mnist-dit-tiny');
  exportModel(modelDir, c, randomDiTWeights(c, 7), { objective: 'eps' });
  // Small enough for seconds: 8 steps (fewer-steps k = 5, 4, 3), 10 samples, one timing pair on 2.
  config = {
    ...quickBenchConfig(1),
    models: [modelDir],
    steps: [8],
    n: 10,
    batchSize: 10,
    reps: 1,
    timingN: 2,
    classifier,
    gridSeeds: 4,
    study: { steps: [8], n: 1, maxGap: 2 },
    teacacheCalibration: { steps: [8], samples: 2 },
  };
});
after(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await reference.classifier.release();
});

const STEPS = 8;
const expectedCached = listCacheMethods().flatMap((m) => (m.name === 'none' ? [] : m.presets.map((p) => `${m.name}/${p}`)));

function checkRow(r: BenchRow): void {
  assert.ok(r.blockComputeRatio > 0 && r.blockComputeRatio <= 1, `${r.key}: block compute ratio ${r.blockComputeRatio}`);
  assert.ok(Math.abs(r.computedSteps - r.blockComputeRatio * STEPS) < 1e-9, `${r.key}: computed steps`);
  assert.ok(Number.isFinite(r.speedupWall) && r.speedupWall > 0, `${r.key}: speedup ${r.speedupWall}`);
  assert.equal(r.timing.fullWallMs.length, 1);
  assert.equal(r.timing.methodWallMs.length, 1);
  assert.ok(r.psnr > 0 && r.psnr <= PSNR_CAP_DB, `${r.key}: psnr ${r.psnr}`);
  assert.ok(r.ssim > -1 && r.ssim <= 1, `${r.key}: ssim ${r.ssim}`);
  // FID is a number, or null with the reason (the Fréchet eigen-solver can fail on N < 128; reported).
  assert.ok((typeof r.fid === 'number' && r.fid >= 0) || (r.fid === null && typeof r.fidError === 'string'), `${r.key}: fid ${r.fid} ${r.fidError ?? ''}`);
  assert.ok(r.classAcc >= 0 && r.classAcc <= 1);
  assert.ok(r.blocksShare > 0 && r.blocksShare < 1, `${r.key}: blocks share ${r.blocksShare}`);
  assert.ok(r.cacheMsPerStep >= 0 && Number.isFinite(r.cacheOverheadPct));
  assert.equal(r.n, 10);
  assert.equal(r.steps, STEPS);
}

describe('tcpade bench runner (tiny random model)', () => {
  it('a run restricted to fora + fewer-steps, then --resume with every method, gives one sane row per method/preset', async () => {
    const first = await runBench({ ...config, methods: ['fora', 'fewer-steps'] }, { outDir: dir, runName: 'r', resume: false, reference });
    assert.ok(first.complete);
    const file = path.join(dir, 'r.json');
    const before1 = loadBenchFile(file);
    const labels1 = before1.rows.map((r) => r.label);
    assert.deepEqual(
      labels1.filter((l) => !l.startsWith('fewer-steps')),
      ['none/default', ...expectedCached.filter((l) => l.startsWith('fora/'))],
    );

    const second = await runBench(config, { outDir: dir, runName: 'r', resume: true, reference });
    assert.ok(second.complete);
    const data = loadBenchFile(file);
    const keys = data.rows.map((r) => r.key);
    assert.equal(new Set(keys).size, keys.length, 'duplicate rows after --resume');
    // Rows of the first invocation are kept as they were, not measured again.
    for (const r of before1.rows) assert.deepEqual(data.rows.find((x) => x.key === r.key), r);
    assert.equal(second.rowsSkipped, before1.rows.length);
    const labels = data.rows.map((r) => `${r.method}/${r.preset}`);
    for (const l of expectedCached) assert.ok(labels.includes(l), `no row for ${l}`);

    for (const r of data.rows) checkRow(r);
    const full = data.rows.find((r) => r.method === 'none')!;
    assert.equal(full.blockComputeRatio, 1);
    assert.equal(full.psnr, PSNR_CAP_DB);
    assert.equal(full.ssim, 1);
    assert.match(full.samplesSha256 ?? '', /^[0-9a-f]{64}$/);
    for (const r of data.rows) if (r.method !== 'none' && r.fid !== null && full.fid !== null) assert.equal(r.fidFull, full.fid);

    // fewer-steps: K of 8 steps, counted against the 8 requested; 8/1.5, 8/2, 8/2.5, 8/3 → 5, 4, 3.
    const fewer = data.rows.filter((r) => r.method === 'fewer-steps');
    assert.deepEqual(
      fewer.map((r) => r.stepsRun).filter((k) => [5, 4, 3].includes(k)),
      [5, 4, 3],
    );
    for (const r of fewer) assert.equal(r.blockComputeRatio, r.stepsRun / STEPS);
    assert.ok(fewer.some((r) => String(r.settings.derivedFrom).includes('matched')), 'no fewer-steps row matched to the cached rows');

    // The study and the report files.
    assert.deepEqual(data.study.map((s) => s.steps), [8]);
    const cells = data.study[0].cells;
    assert.equal(cells.length, 7 * 2 * 2, '7 predictors × 2 targets × gaps 1..2');
    assert.ok(cells.every((c) => c.count === (c.gap === 1 ? 5 : 2) * 2), 'steps s ≥ 3g of 8, × 2 CFG branches');
    assert.equal(data.models['tiny-eps'].teacache.source, 'calibrated-on-the-fly');
    const md = fs.readFileSync(path.join(dir, 'r.md'), 'utf8');
    for (const l of expectedCached) assert.ok(md.includes(`| ${l} |`) || md.includes(`| **${l}** |`), `report has no table row for ${l}`);
    assert.match(md, /calibrated on the fly/);
    for (const f of ['r/pareto-tiny-eps-8steps.svg', 'r/grid-tiny-eps-8steps.png', 'r/prediction-error-tiny-eps.svg', 'r/prediction-error-per-step-tiny-eps.svg']) {
      assert.ok(fs.statSync(path.join(dir, f)).size > 1000, `${f} missing or empty`);
    }
    assert.match(fs.readFileSync(path.join(dir, 'r/pareto-tiny-eps-8steps.svg'), 'utf8'), /^<svg/);

    const third = await runBench(config, { outDir: dir, runName: 'r', resume: true, reference });
    assert.equal(third.rowsMeasured, 0);
    assert.equal(loadBenchFile(file).rows.length, data.rows.length);
  });

  it('an interrupted run keeps its finished rows; --resume completes it; other settings are refused', async () => {
    const controller = new AbortController();
    let seen = 0;
    const cfg = { ...config, methods: ['tcpade'], study: null };
    const r1 = await runBench(cfg, {
      outDir: dir,
      runName: 'i',
      resume: false,
      signal: controller.signal,
      reference,
      events: { onRow: () => ++seen === 2 && controller.abort() },
    });
    assert.equal(r1.complete, false);
    assert.equal(loadBenchFile(path.join(dir, 'i.json')).rows.length, 2);
    await assert.rejects(runBench({ ...cfg, n: 12 }, { outDir: dir, runName: 'i', resume: true, reference }), /measured with other settings.*n: 10 → 12/);
    await assert.rejects(runBench(cfg, { outDir: dir, runName: 'i', resume: false, reference }), /exists; pass --resume/);
    const r2 = await runBench(cfg, { outDir: dir, runName: 'i', resume: true, reference });
    assert.ok(r2.complete);
    assert.equal(r2.rowsSkipped, 2);
    const rows = loadBenchFile(path.join(dir, 'i.json')).rows;
    assert.deepEqual(rows.map((r) => `${r.method}/${r.preset}`), ['none/default', ...listCacheMethods().find((m) => m.name === 'tcpade')!.presets.map((p) => `tcpade/${p}`)]);
  });
});
