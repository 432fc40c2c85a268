// The judgements the bench report makes from rows (baselines beating ours, best settings, Pareto front,
// targets), the fewer-steps step counts, the order statistics, and the markdown they end up in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { baselinesBeatingOurs, bestSetting, checkSpeedTarget, paretoFront } from '../../src/eval/bench/compare.js';
import { fingerprintDiff } from '../../src/eval/bench/config.js';
import { quantile, spreadOf } from '../../src/eval/bench/numbers.js';
import { renderMarkdown } from '../../src/eval/bench/report-md.js';
import { BENCH_FORMAT, type BenchFile, type BenchRow } from '../../src/eval/bench/rows.js';
import { speedupFloor } from '../../src/eval/bench/timing.js';
import { fewerStepsVariants } from '../../src/eval/bench/variants.js';

function row(method: string, preset: string, speedupWall: number, fid: number, psnr: number, extra: Partial<BenchRow> = {}): BenchRow {
  const spread = { median: speedupWall, min: speedupWall, q1: speedupWall, q3: speedupWall, max: speedupWall };
  return {
    key: `m|20|${method}|${preset}`,
    model: 'm',
    modelPath: '/x/m',
    objective: 'eps',
    sampler: 'ddim',
    steps: 20,
    stepsRun: 20,
    method,
    preset,
    label: `${method}/${preset}`,
    settings: {},
    n: 100,
    seed: 0,
    labels: 'k mod 10',
    cfgScale: 1.5,
    threads: 1,
    machine: 'test',
    date: '2026-01-01T00:00:00.000Z',
    blockComputeRatio: 1 / speedupWall,
    computedSteps: 20 / speedupWall,
    predictedPasses: 0,
    computedPasses: 0,
    timing: { speedup: spread, fullWallMs: [1], methodWallMs: [1 / speedupWall], reps: 1, samples: 10 },
    speedupWall,
    speedupBound: 0.9,
    blocksShare: 0.9,
    psnr,
    ssim: 0.9,
    fid,
    fidFull: 10,
    fidReal: 5,
    classAcc: 0.9,
    cacheMsPerStep: 0.1,
    cacheOverheadPct: 1,
    signalMsPerStep: 0,
    cacheBytesPeak: 0,
    qualityWallMs: 1,
    ...extra,
  };
}

const group: BenchRow[] = [
  row('none', 'default', 1, 10, 100),
  row('tcpade', 'fast', 2.5, 11, 30),
  row('tcpade', 'slow', 2.0, 10.5, 35),
  row('fora', 'n2', 1.9, 10.2, 40), // faster than nothing of ours: no beat
  row('fora', 'n3', 2.6, 12, 31), // ≥ fast's speed and better PSNR than fast (31 > 30): beats fast on PSNR
  row('taylorseer', 'n4o2', 2.2, 10.4, 20), // ≥ slow's speed, FID 10.4 < 10.5: beats slow on FID only
  row('teacache', 'slow', 1.4, 9, 50), // below 1.5×: never counted
  row('fewer-steps', 'k8', 2.5, 10.9, 25, { stepsRun: 8, label: 'fewer-steps 8/20', settings: { derivedFrom: 'x2.5' } }), // as fast as fast, FID 10.9 < 11; not better than slow
];

describe('bench report judgements', () => {
  it('baselinesBeatingOurs: at ≥ 1.5× and at least as fast as an ours row, better FID or PSNR', () => {
    const beats = baselinesBeatingOurs(group).map((b) => `${b.baseline.label}>${b.ours.label}:${b.metrics.join('+')}`);
    assert.deepEqual(beats.sort(), ['fewer-steps 8/20>tcpade/fast:FID', 'fora/n3>tcpade/fast:PSNR', 'taylorseer/n4o2>tcpade/slow:FID'].sort());
  });

  it('with bootstrap spreads, an FID lead counts only beyond twice the combined spread', () => {
    const spread = (r: BenchRow, fidStd: number): BenchRow => ({ ...r, fidStd });
    // slow: 10.5 ± 0.3; n4o2: 10.4 ± 0.4 → 0.1 < 2·0.5: noise; a 9.0 ± 0.4 baseline clears 1.0.
    const noisy = group.map((r) => spread(r, r.preset === 'slow' ? 0.3 : 0.4));
    const beats = baselinesBeatingOurs(noisy).map((b) => `${b.baseline.label}>${b.ours.label}:${b.metrics.join('+')}`);
    assert.deepEqual(beats.sort(), ['fora/n3>tcpade/fast:PSNR']);
    const clear = [...noisy, spread(row('fora', 'n4', 2.1, 9.0, 20), 0.4)];
    const more = baselinesBeatingOurs(clear).map((b) => `${b.baseline.label}>${b.ours.label}:${b.metrics.join('+')}`);
    assert.ok(more.includes('fora/n4>tcpade/slow:FID'), more.join(', '));
  });

  it('bestSetting: lowest FID among presets ≥ 1.5×, else the fastest', () => {
    const fora = [row('fora', 'n2', 1.9, 10.2, 40), row('fora', 'n3', 2.6, 12, 31), row('fora', 'n4', 1.2, 9, 45)];
    assert.equal(bestSetting(fora)?.preset, 'n2');
    assert.equal(bestSetting([row('x', 'a', 1.1, 5, 1), row('x', 'b', 1.3, 50, 1)])?.preset, 'b');
  });

  it('paretoFront keeps only undominated points, by speed', () => {
    const pts = [
      { s: 1, q: 10 },
      { s: 2, q: 12 },
      { s: 2, q: 11 }, // dominates {2, 12}
      { s: 3, q: 11 }, // dominates {2, 11}
      { s: 4, q: 20 },
    ];
    assert.deepEqual(paretoFront(pts, (p) => p.s, (p) => p.q, true), [{ s: 1, q: 10 }, { s: 3, q: 11 }, { s: 4, q: 20 }]);
    assert.deepEqual(paretoFront(pts, (p) => p.s, (p) => p.q, false), [{ s: 4, q: 20 }]);
  });

  it('checkSpeedTarget: ≥ 2.5×, PSNR ≥ 25 dB, FID ≤ 1.10 × fidFull, each judged separately', () => {
    const t = checkSpeedTarget(group, 'm');
    assert.deepEqual([t.speedupOk, t.psnrOk, t.fidOk], [true, true, true]);
    const worse = checkSpeedTarget([row('tcpade', 'fast', 2.4, 11.2, 24)], 'm');
    assert.deepEqual([worse.speedupOk, worse.psnrOk, worse.fidOk], [false, false, false]);
    assert.equal(checkSpeedTarget(group, 'other').row, undefined);
  });

  it('speedupFloor is issue 5’s 0.9 / (1 − f·b)', () => {
    assert.equal(speedupFloor(1, 0.9), 0.9);
    assert.ok(Math.abs(speedupFloor(0.4, 0.95) - 0.9 / (1 - 0.6 * 0.95)) < 1e-12);
  });

  it('fewer-steps: K = round(S/d) per divisor plus the cached median, merged and without K = S', () => {
    const v = fewerStepsVariants(20, [1.5, 2, 2.5, 3], [8, 7, 9, 11, 1]);
    assert.deepEqual(v.map((x) => [x.stepsRun, (x.derivedFrom ?? []).join(',')]), [[13, 'x1.5'], [10, 'x2'], [8, 'x2.5,matched'], [7, 'x3']]);
    assert.deepEqual(fewerStepsVariants(4, [1.1], []), [], 'round(4/1.1) = 4 = S is not fewer steps');
  });

  it('quantiles interpolate linearly (numpy default) and ignore NaN', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([4, NaN, 1, 3, 2], 0.25), 1.75);
    assert.deepEqual(spreadOf([3, 1, 2]), { median: 2, min: 1, q1: 1.5, q3: 2.5, max: 3 });
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });

  it('resume fingerprint differences name the key and both values', () => {
    assert.deepEqual(fingerprintDiff({ n: 10, seed: 0 }, { n: 12, seed: 0 }), ['n: 10 → 12']);
  });

  it('the markdown states setup, targets, beats and the capped PSNR', () => {
    const data: BenchFile = {
      format: BENCH_FORMAT,
      run: 'unit',
      created: 'c',
      updated: 'u',
      fingerprint: { n: 100, threads: 1, seed: 0, cfgScale: 1.5, batchSize: 50, reps: 3, timingN: 10, classifier: 'mnist-classifier' },
      config: { quick: false },
      machine: { cpuModel: 'CPU X', cores: 2, availableParallelism: 2, memoryBytes: 2 ** 33, platform: 'linux', node: 'v20', onnxruntime: '1.30.0', hostname: 'h' },
      git: { commit: 'abc123', dirty: false },
      models: {},
      rows: group,
      study: [],
      notes: [],
    };
    const md = renderMarkdown(data, { pareto: () => 'unit/p.svg', grid: () => undefined, predictionError: () => undefined, perStepError: () => undefined });
    assert.match(md, /CPU X \(2 cores/);
    assert.match(md, /threads: \*\*1\*\*/);
    assert.match(md, /N = \*\*100\*\*/);
    assert.match(md, /abc123/);
    assert.match(md, /`tcpade\/fast` 2\.50× \(≥ 2\.5×: met\), PSNR 30\.00 dB \(≥ 25: met\), FID 11\.000 vs full 10\.000 = 1\.100× \(≤ 1\.10×: met\)/);
    assert.match(md, /`fora\/n3` \(2\.60×, FID 12\.000, PSNR 31\.00\) beats `tcpade\/fast` .* on PSNR/);
    assert.match(md, /\| none\/default \| 100\.0 % \| 1\.00× \| 1\.00× \[1\.00–1\.00\] \| 0\.90× \| 100 \(cap\) \|/);
    assert.match(md, /!\[speedup vs FID and PSNR, m @ 20 steps\]\(unit\/p\.svg\)/);
    // Headline: one best row per baseline method (fora: n2, the lowest FID at ≥ 1.5×), every TC-Padé form;
    // fewer-steps only at the cached rows' median computed steps (round(9.55) = 10: no such row here).
    const headline = md.slice(md.indexOf('## Headline'), md.indexOf('## m @ 20'));
    assert.match(headline, /\| m \| fora\/n2 \|/);
    assert.match(headline, /\| m \| \*\*tcpade\/fast\*\* \|/);
    assert.doesNotMatch(headline, /fora\/n3/);
    assert.doesNotMatch(headline, /\| m \| fewer-steps/);
  });
});
