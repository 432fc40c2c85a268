// Schedules and timestep spacing: the linear β schedule and diffusers' leading/trailing/linspace layouts,
// checked against values worked out by hand from the formulas in spacing.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionConfigError, linearBetaSchedule, roundHalfEven, spaceTimesteps } from '../../src/diffusion/index.js';

const descendingBy = (start: number, step: number, n: number): number[] => Array.from({ length: n }, (_, k) => start - k * step);

describe('linear β schedule', () => {
  it('runs β from 1e-4 to 0.02 and ᾱ is the running product of 1 − β', () => {
    const s = linearBetaSchedule();
    assert.equal(s.trainSteps, 1000);
    assert.equal(s.betas[0], 1e-4);
    assert.equal(s.betas[999], 0.02);
    assert.ok(Math.abs(s.betas[500]! - (1e-4 + (500 * (0.02 - 1e-4)) / 999)) < 1e-17);
    assert.equal(s.alphasCumprod[0], 1 - 1e-4);
    assert.ok(Math.abs(s.alphasCumprod[1]! - (1 - 1e-4) * (1 - s.betas[1]!)) < 1e-16);
    // ln ᾱ_999 = Σ ln(1 − β_t) ≈ −(mean β)·1000 − ½·Σβ² = −10.05 − 0.1334…  → ᾱ_999 ≈ 4.04e-5
    assert.ok(Math.abs(s.alphasCumprod[999]! / 4.036e-5 - 1) < 2e-3, `ᾱ_999 = ${s.alphasCumprod[999]}`);
  });

  it('rejects a one-step schedule', () => {
    assert.throws(() => linearBetaSchedule({ trainSteps: 1 }), DiffusionConfigError);
  });
});

describe('roundHalfEven (numpy.round)', () => {
  it('sends halves to the even neighbour', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 166.5, 499.5, 832.5, -2.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 166, 500, 832, -2, 2, 3]);
  });
});

describe('spaceTimesteps, DDIM convention', () => {
  it('leading: arange(0, N)·(1000 // N) reversed', () => {
    assert.deepEqual(spaceTimesteps(1000, 20, 'leading'), descendingBy(950, 50, 20)); // 950, 900, …, 0
    const t50 = spaceTimesteps(1000, 50, 'leading');
    assert.deepEqual(t50.slice(0, 3), [980, 960, 940]);
    assert.deepEqual(t50.slice(-3), [40, 20, 0]);
    assert.deepEqual(spaceTimesteps(1000, 20, 'leading', { stepsOffset: 1 }).slice(-2), [51, 1]);
    // 1000 // 30 = 33: 29·33 = 957 first
    assert.deepEqual(spaceTimesteps(1000, 30, 'leading').slice(0, 2), [957, 924]);
  });

  it('trailing: round(arange(1000, 0, −1000/N)) − 1', () => {
    assert.deepEqual(spaceTimesteps(1000, 20, 'trailing'), descendingBy(999, 50, 20)); // 999, 949, …, 49
    const t50 = spaceTimesteps(1000, 50, 'trailing');
    assert.deepEqual(t50.slice(0, 3), [999, 979, 959]);
    assert.deepEqual(t50.slice(-3), [59, 39, 19]);
    // N = 7: 1000 − k·142.857… = 1000, 857.14, 714.29, 571.43, 428.57, 285.71, 142.86
    assert.deepEqual(spaceTimesteps(1000, 7, 'trailing'), [999, 856, 713, 570, 428, 285, 142]);
    // numpy's arange gives 62 values here; we keep exactly N
    const t61 = spaceTimesteps(1000, 61, 'trailing');
    assert.equal(t61.length, 61);
    assert.equal(t61[60], 15); // round(1000 − 60·16.393…) − 1 = round(16.39) − 1
  });

  it('linspace: round(linspace(0, 999, N)) reversed, ties to even', () => {
    // k·999/19 = 0, 52.58, 105.16, 157.74, 210.32, 262.89, 315.47, 368.05, 420.63, 473.21, 525.79, …
    assert.deepEqual(
      spaceTimesteps(1000, 20, 'linspace'),
      [999, 946, 894, 841, 789, 736, 684, 631, 578, 526, 473, 421, 368, 315, 263, 210, 158, 105, 53, 0],
    );
    // k·999/49 = 20.388·k: 999, 978.61, 958.22, 937.84 … 61.16, 40.78, 20.39, 0
    const t50 = spaceTimesteps(1000, 50, 'linspace');
    assert.deepEqual(t50.slice(0, 4), [999, 979, 958, 938]);
    assert.deepEqual(t50.slice(-4), [61, 41, 20, 0]);
    // k·166.5: 832.5 → 832 and 166.5 → 166 (even), 499.5 → 500
    assert.deepEqual(spaceTimesteps(1000, 7, 'linspace'), [999, 832, 666, 500, 333, 166, 0]);
  });
});

describe('spaceTimesteps, DPM-Solver convention (N + 1 points, final 0 dropped)', () => {
  it('linspace: k·999/20 = 49.95·k', () => {
    const t = spaceTimesteps(1000, 20, 'linspace', { convention: 'dpmsolver' });
    assert.deepEqual(t.slice(0, 4), [999, 949, 899, 849]); // 999, 949.05, 899.1, 849.15
    assert.deepEqual(t.slice(-3), [150, 100, 50]); // 149.85, 99.9, 49.95
    assert.equal(t.length, 20);
  });

  it('leading: arange(0, N + 1)·(1000 // (N + 1)), 1000 // 21 = 47', () => {
    const t = spaceTimesteps(1000, 20, 'leading', { convention: 'dpmsolver' });
    assert.deepEqual([t[0], t[1], t[19]], [940, 893, 47]);
  });

  it('trailing is the same as for DDIM', () => {
    assert.deepEqual(spaceTimesteps(1000, 20, 'trailing', { convention: 'dpmsolver' }), spaceTimesteps(1000, 20, 'trailing'));
  });
});

describe('spaceTimesteps errors', () => {
  it('names the bad value and what to do', () => {
    assert.throws(() => spaceTimesteps(1000, 0, 'leading'), /steps must be an integer in \[1, 1000\], got 0/);
    assert.throws(() => spaceTimesteps(1000, 1001, 'trailing'), DiffusionConfigError);
    assert.throws(() => spaceTimesteps(1000, 20, 'leading', { stepsOffset: 50 }), /outside \[0, 999\]; lower stepsOffset/);
    assert.throws(() => spaceTimesteps(1000, 1000, 'linspace', { convention: 'dpmsolver' }), /repeat timestep/);
    assert.throws(() => spaceTimesteps(1000, 10, 'cosine' as 'leading'), /unknown spacing "cosine"/);
  });
});
