// The bench's speed-only path on the tiny synthetic model (random weights): rows with wall speedup, ideal,
// their ratio and the per-step split, no quality fields; the decoder timed once; full runs chained between
// method runs; the report says why there is no quality; --resume measures nothing twice. No timing values
// are asserted (they depend on the machine), only that they exist and how runs are paired.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quickBenchConfig, BenchConfigError, type BenchConfig } from '../../src/eval/bench/config.js';
import { modelEntries } from '../../src/eval/bench/model-entries.js';
import { runBench } from '../../src/eval/bench/runner.js';
import { loadBenchFile, type SpeedRow } from '../../src/eval/bench/rows.js';
import { medianSplit, stepSplit } from '../../src/eval/bench/step-split.js';
import { cachedVariants, checkPresetFilter } from '../../src/eval/bench/variants.js';
import { ModelInputError } from '../../src/models/denoiser.js';
import { syntheticDenoiser, syntheticModelInfo } from '../../src/models/synthetic.js';

const MODEL = 'dit-tiny-random';
const STEPS = 8;
let dir: string;
let config: BenchConfig;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-bench-speed-'));
  config = {
    ...quickBenchConfig(1),
    models: [MODEL],
    steps: [STEPS],
    reps: 2,
    timingN: 1,
    // A speed-only run never loads the metric classifier: a path that does not exist proves it.
    classifier: path.join(dir, 'no-such-classifier'),
    presets: ['default', 'tcpade/paper-fast'],
    study: { steps: [STEPS], n: 1, maxGap: 2 },
  };
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const QUALITY_FIELDS = ['psnr', 'ssim', 'fid', 'fidFull', 'fidReal', 'classAcc', 'fidStd', 'qualityWallMs', 'samplesSha256'];
const SPLIT_FIELDS = ['embed', 'blocks', 'head', 'signal', 'cache', 'sampler', 'other', 'total'] as const;

function checkSpeedRow(r: SpeedRow): void {
  assert.equal(r.steps, STEPS);
  assert.ok(r.blockComputeRatio > 0 && r.blockComputeRatio <= 1, `${r.key}: block compute ${r.blockComputeRatio}`);
  assert.ok(Math.abs(r.idealSpeedup - 1 / r.blockComputeRatio) < 1e-9, `${r.key}: ideal`);
  assert.ok(Number.isFinite(r.speedupWall) && r.speedupWall > 0, `${r.key}: speedup ${r.speedupWall}`);
  assert.ok(Math.abs(r.speedupOverIdeal - r.speedupWall / r.idealSpeedup) < 1e-9, `${r.key}: speedup / ideal`);
  assert.ok(Number.isFinite(r.cpuTiming.speedup.median) && r.cpuTiming.speedup.median > 0, `${r.key}: CPU-time speedup`);
  assert.ok(Math.abs(r.cpuSpeedupOverIdeal - r.cpuTiming.speedup.median / r.idealSpeedup) < 1e-9, `${r.key}: CPU-time speedup / ideal`);
  assert.equal(r.cpuTiming.fullCpuMs.length, 2);
  assert.equal(r.timing.reps, 2);
  assert.equal(r.timing.fullWallMs.length, 2);
  assert.equal(r.samples, 1);
  assert.equal(r.modelRows, 2, 'one sample with CFG: two model rows');
  for (const k of SPLIT_FIELDS) assert.ok(Number.isFinite(r.split[k]), `${r.key}: split.${k} = ${r.split[k]}`);
  assert.ok(r.split.total > 0 && r.split.blocks >= 0);
  for (const k of QUALITY_FIELDS) assert.ok(!(k in r), `${r.key} has a quality field ${k}`);
}

describe('synthetic models', () => {
  it('are built by name, describe their random weights, and refuse unknown names', async () => {
    const info = syntheticModelInfo('dit-xl-256-random');
    assert.match(info.architecture, /DiT-XL\/2-256.*256 tokens, hidden 1152, depth 28/);
    assert.match(info.weights, /random/);
    assert.deepEqual(info.decoder?.latentShape, [1, 4, 32, 32]);
    assert.match(info.decoder?.description ?? '', /block_out_channels \[128, 256, 512, 512\].*256×256 px/);
    const m = syntheticDenoiser(MODEL, 1);
    try {
      assert.equal(m.depth, 2);
      assert.deepEqual([...m.latentShape], [4, 8, 8]);
    } finally {
      await m.release();
    }
    assert.throws(() => syntheticDenoiser('dit-nope', 1), ModelInputError);
    const [entry] = modelEntries([MODEL]);
    assert.equal(entry.path, `synthetic:${MODEL}`);
    assert.equal(entry.synthetic?.name, MODEL);
  });
});

describe('--presets', () => {
  it("selects each method's default preset plus named ones, and refuses unknown ones", () => {
    const labels = cachedVariants(undefined, ['default', 'tcpade/paper-fast']).map((v) => `${v.method}/${v.preset}`);
    assert.deepEqual(labels, ['none/default', 'fora/n3', 'delta-dit/n2', 'taylorseer/n4o2', 'teacache/slow', 'fbcache/slow', 'tcpade/paper-fast', 'tcpade/fast']);
    assert.throws(() => checkPresetFilter(['tcpade/nope'], undefined), BenchConfigError);
    assert.throws(() => checkPresetFilter(['nope/x'], undefined), BenchConfigError);
    assert.throws(() => checkPresetFilter(['fora/n3'], ['tcpade']), BenchConfigError);
    checkPresetFilter(['all', 'default', 'fora/lite-n3'], undefined);
  });
});

describe('step split', () => {
  it('divides the phase clocks by the steps and keeps the rest as other', () => {
    const times = { embedMs: 10, blocksMs: 100, headMs: 6, signalMs: 2, cacheMs: 4, samplerMs: 8 };
    const s = stepSplit({ times, wallMs: 140, steps: 2 });
    assert.deepEqual(s, { embed: 5, blocks: 50, head: 3, signal: 1, cache: 2, sampler: 4, other: 5, total: 70 });
    const m = medianSplit([{ times, wallMs: 140, steps: 2 }, { times: { ...times, blocksMs: 200 }, wallMs: 240, steps: 2 }, { times, wallMs: 140, steps: 2 }]);
    assert.equal(m.blocks, 50);
  });
});

describe('tcpade bench, speed-only path (tiny synthetic model)', () => {
  it('measures speed, ideal and split per method, times the decoder, reports without quality, resumes', async () => {
    const logs: string[] = [];
    const first = await runBench(config, { outDir: dir, runName: 's', resume: false, events: { onLog: (m) => logs.push(m) } });
    assert.ok(first.complete, first.failed.join('; '));
    const data = loadBenchFile(path.join(dir, 's.json'));
    assert.equal(data.rows.length, 0, 'no quality rows for a synthetic model');
    assert.equal(data.study.length, 0, 'no prediction study for a synthetic model');
    const rows = data.speedRows ?? [];
    const labels = rows.map((r) => `${r.method}/${r.preset}`);
    for (const l of ['none/default', 'fora/n3', 'delta-dit/n2', 'taylorseer/n4o2', 'teacache/slow', 'fbcache/slow', 'tcpade/fast', 'tcpade/paper-fast']) {
      assert.ok(labels.includes(l), `no speed row for ${l}`);
    }
    const fewer = rows.filter((r) => r.method === 'fewer-steps');
    assert.equal(fewer.length, 1, 'speed-only groups measure the matched fewer-steps row only');
    assert.equal(fewer[0].blockComputeRatio, fewer[0].stepsRun / STEPS);
    for (const r of rows) checkSpeedRow(r);
    assert.equal(rows.find((r) => r.method === 'none')!.blockComputeRatio, 1);

    // The chain: a method run is paired with the full run before it and the one after it, and the next
    // row's first full run is this row's last (same measured wall times, not equal-by-chance values).
    const methodRows = rows.filter((r) => r.method !== 'none');
    for (const r of methodRows) assert.equal(r.timing.methodWallMs[0], r.timing.methodWallMs[1], `${r.key}: one method run in both pairs`);
    for (let i = 1; i < methodRows.length; i++) assert.equal(methodRows[i].timing.fullWallMs[0], methodRows[i - 1].timing.fullWallMs[1], `${methodRows[i].key} starts on ${methodRows[i - 1].key}'s last full run`);

    const rec = data.models[MODEL];
    assert.ok(rec.speedOnly && /random/.test(rec.speedOnly.weights));
    assert.equal(rec.teacache.source, 'calibrated-on-the-fly');
    const dec = rec.decoder!;
    assert.deepEqual(dec.latentShape, [1, 4, 8, 8]);
    assert.deepEqual(dec.imageShape, [1, 3, 16, 16]);
    assert.equal(dec.runsMs.length, 2);
    assert.ok(dec.msPerSample.median > 0);

    const md = fs.readFileSync(path.join(dir, 's.md'), 'utf8');
    assert.match(md, /## dit-tiny-random: speed at scale \(random weights — speed only\)/);
    assert.match(md, /\*\*No quality columns\*\*/);
    assert.match(md, /\| method \| block compute \| ideal \| wall speedup \[min–max\] \| speedup \/ ideal \| CPU-time speedup \(÷ ideal\) \| embed \| blocks \| head \| signal \| cache \| sampler \| other \| step ms \|/);
    assert.match(md, /VAE decode.*not part of any sampling wall time/);
    assert.match(md, /`tcpade\/fast` \(ours\) @ 8 steps: .* of its ideal/);
    assert.doesNotMatch(md, /\| PSNR dB \||\| FID \||\| class acc \||Targets at 20 steps/);
    for (const l of labels.filter((x) => !x.startsWith('fewer-steps'))) assert.ok(md.includes(`| ${l} |`) || md.includes(`| **${l}** |`), `report has no row for ${l}`);

    const again = await runBench(config, { outDir: dir, runName: 's', resume: true });
    assert.ok(again.complete);
    assert.equal(again.rowsMeasured, 0);
    assert.equal(again.rowsSkipped, rows.length);
    assert.deepEqual(loadBenchFile(path.join(dir, 's.json')).speedRows, rows);
  });
});
