// The one-line summary `generate` prints: what was computed, the FLOP saving, the speed-up against the
// last full run of the same request, and compile time apart from sampling time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyTimes, summaryLine, type RunStats } from '../../src/pipeline/stats.js';

function stats(over: Partial<RunStats>): RunStats {
  return {
    method: 'tcpade',
    preset: 'fast',
    settings: {},
    steps: 20,
    sampler: 'ddim',
    samples: 4,
    branches: ['cond', 'uncond'],
    wallMs: 1000,
    setupMs: 0,
    times: emptyTimes(),
    blockComputeRatio: 0.35,
    blockFlopsRun: 35,
    blockFlopsFull: 100,
    predictedCount: 104,
    computedCount: 56,
    cacheBytesPeak: 0,
    perStep: [],
    ...over,
  };
}

describe('summaryLine', () => {
  it('a cached run: steps computed per row, FLOP saving, speed-up vs the last full run, setup apart', () => {
    assert.equal(
      summaryLine(stats({ setupMs: 110 }), 2500),
      'tcpade/fast: computed 7/20 steps per sample and branch, 2.86× fewer block FLOPs, 2.50× faster than the last full run (1.00 s sampling + 0.11 s one-time graph setup)',
    );
  });

  it('a full run says so, and rows that computed unevenly are averaged', () => {
    assert.equal(summaryLine(stats({ method: 'none', preset: '', blockComputeRatio: 1, computedCount: 160, predictedCount: 0 })), 'none: computed 20/20 steps per sample and branch, full block compute (1.00 s sampling)');
    assert.match(summaryLine(stats({ computedCount: 57 })), /computed 7\.1\/20 steps on average per sample and branch/);
  });
});
