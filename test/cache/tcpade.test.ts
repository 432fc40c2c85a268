// TC-Padé sample caches (paper, ours, reference) driven by hand: which steps compute at 20 and 50 steps,
// stages per request, the TSI gate, hand-computed predictions, spacing-aware exactness, NaN fallbacks.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCacheMethod, stabilityFactor } from '../../src/cache/index.js';
import { computedSet, drive, evenTaus } from './drive.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);
/** Equal up to float32 rounding of a few terms (the SIMD kernels accumulate in float32). */
const assertCloseF32 = (actual: Float32Array, expected: Float32Array): void => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 4 * 2 ** -23 * Math.abs(e), `element ${i}: ${actual[i]} vs ${e}`));
};
/** A residual moving along a straight line: TSI = 0, so the gate never closes. */
const straight = (s: number): Float32Array => f32(1 + 0.1 * s, 2 + 0.2 * s);
const range = (a: number, b: number, step = 1): number[] => Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);

describe('tcpade schedule (paper presets: warm-up 3, final 1, grid opened by the last warm-up step)', () => {
  it('paper-fast (N = 4) at 20 steps computes exactly {0,1,2,6,10,14,18,19}', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-fast'), { taus: evenTaus(20), residual: straight });
    assert.deepEqual(computedSet(steps), [0, 1, 2, 6, 10, 14, 18, 19]);
  });
  it('paper-slow (N = 3) at 20 steps computes exactly {0,1,2,5,8,11,14,17,19}', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-slow'), { taus: evenTaus(20), residual: straight });
    assert.deepEqual(computedSet(steps), [0, 1, 2, 5, 8, 11, 14, 17, 19]);
  });
  it('paper-fast at 50 steps: the same rules over the new step count', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-fast'), { taus: evenTaus(50), residual: straight });
    assert.deepEqual(computedSet(steps), [0, 1, ...range(2, 46, 4), 49]);
  });
  it('ours: fast computes every 4th step after warm-up and no forced final step; slow every 3rd', () => {
    const fast = drive(createCacheMethod('tcpade', 'fast'), { taus: evenTaus(20), residual: straight });
    assert.deepEqual(computedSet(fast), [0, 1, 2, 6, 10, 14, 18]);
    const slow = drive(createCacheMethod('tcpade', 'slow'), { taus: evenTaus(20), residual: straight });
    assert.deepEqual(computedSet(slow), [0, 1, 2, 5, 8, 11, 14, 17]);
  });
  it('stages follow THIS request: 20 steps → 5 early, 6..15 middle, 16 late; 50 steps → 14 early, 15 middle, 40 late', () => {
    const s20 = drive(createCacheMethod('tcpade', 'paper-fast'), { taus: evenTaus(20), residual: straight });
    assert.deepEqual([3, 4, 5, 7, 15, 16, 17].map((s) => s20[s].decision.stage), ['early', 'early', 'early', 'middle', 'middle', 'late', 'late']);
    const s50 = drive(createCacheMethod('tcpade', 'paper-fast'), { taus: evenTaus(50), residual: straight });
    assert.deepEqual([13, 15, 39, 40].map((s) => s50[s].decision.stage), ['early', 'middle', 'middle', 'late']);
    assert.deepEqual([13, 15, 39, 40].map((s) => s50[s].decision.compute), [false, false, false, false]);
  });
  it('intervalMode since-compute restarts the interval after a gate-forced compute', () => {
    const m = createCacheMethod('tcpade', 'paper-fast', { intervalMode: 'since-compute' });
    const steps = drive(m, { taus: evenTaus(20), residual: straight });
    assert.deepEqual(computedSet(steps), [0, 1, 2, 6, 10, 14, 18, 19]);
  });
});

describe('tcpade predictions (hand-computed)', () => {
  // History R(0) = [0.25, 0.5], R(1) = [0.5, 1], R(2) = [1, 2]: moves along one direction (TSI = 0).
  const history = (s: number): Float32Array => (s === 0 ? f32(0.25, 0.5) : s === 1 ? f32(0.5, 1) : s === 2 ? f32(1, 2) : f32(9, 9));
  const input = (): Float32Array => f32(10, 20);

  it('early stage: x_in + 0.9·R1 + 0.1·R2', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-fast'), { taus: evenTaus(20), residual: history, input });
    assert.deepEqual(steps[3].decision, { compute: false, reason: 'tsi', signal: 0, threshold: 0.9, stage: 'early' });
    assertCloseF32(steps[3].output, f32(10 + 0.95, 20 + 1.9));
  });

  it('middle stage: x_in + (2σR1 − σR2)/(1 + σ/10·R1) with σ = e^(−10/3)', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-fast', { earlyFraction: 0 }), { taus: evenTaus(20), residual: history, input });
    const sigma = Math.exp(-10 / 3);
    assert.equal(steps[3].decision.stage, 'middle');
    assertCloseF32(steps[3].output, f32(10 + (1.5 * sigma) / (1 + 0.1 * sigma), 20 + (3 * sigma) / (1 + 0.2 * sigma)));
  });

  it('late stage: middle + 0.3·(R1 − R2)', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-fast', { earlyFraction: 0, lateFraction: 0 }), { taus: evenTaus(20), residual: history, input });
    const sigma = Math.exp(-10 / 3);
    assert.equal(steps[3].decision.stage, 'late');
    const expected = [10 + (1.5 * sigma) / (1 + 0.1 * sigma) + 0.3 * 0.5, 20 + (3 * sigma) / (1 + 0.2 * sigma) + 0.3 * 1];
    expected.forEach((e, i) => assert.ok(Math.abs(steps[3].output[i] - e) < 1e-5, `element ${i}: ${steps[3].output[i]} vs ${e}`));
  });

  it('linear option: x_in + R1 + σ·r·(R1 − R2) with r = (τ − τ1)/(τ1 − τ2) from the actual taus', () => {
    const taus = [0.95, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1]; // uneven
    const m = createCacheMethod('tcpade', 'fast', { extrapolation: 'linear', damping: 'sigma', earlyFraction: 0, target: 'residual' });
    const steps = drive(m, { taus, residual: history, input });
    const sigma = stabilityFactor(f32(1, 2), f32(0.5, 1), 10);
    const r = (0.4 - 0.7) / (0.7 - 0.8);
    assertCloseF32(steps[3].output, f32(10 + 1 + sigma * r * 0.5, 20 + 2 + sigma * r * 1));
  });
});

describe('tcpade (ours) spacing-aware extrapolation is exact where the paper form is not', () => {
  const taus = [0.97, 0.9, 0.74, 0.61, 0.33, 0.3, 0.12, 0.05]; // very uneven
  const noStages = { earlyFraction: 0, lateFraction: 1, damping: 'none', theta: 1.5, finalSteps: 0 } as const;
  const check = (overrides: Record<string, string | number>, residual: (t: number) => number[], exact: boolean): void => {
    const m = createCacheMethod('tcpade', 'fast', { ...noStages, ...overrides });
    const steps = drive(m, { taus, residual: (_s, t) => Float32Array.from(residual(t)) });
    const skipped = steps.flatMap((st, s) => (st.decision.compute ? [] : [s]));
    assert.ok(skipped.length >= 2, 'needs skipped steps');
    const err = Math.max(...skipped.flatMap((s) => residual(taus[s]).map((v, i) => Math.abs(steps[s].output[i] - v))));
    if (exact) assert.ok(err < 1e-5, `${JSON.stringify(overrides)}: max error ${err}`);
    else assert.ok(err > 1e-2, `${JSON.stringify(overrides)}: expected a visible error, got ${err}`);
  };
  const linear = (t: number): number[] => [0.5 + 2 * t, -1 + 0.3 * t];
  const rational = (t: number): number[] => [(0.5 + 2 * t) / (1 + 3 * t), 1 / (1 + t)];
  const quadratic = (t: number): number[] => [1 - 2 * t + 3 * t * t, 0.5 * t * t];

  it('target raw extrapolates the output itself: exact on an output linear in tau under any input', () => {
    // output(t) linear, input(t) curved: the residual output − input is curved, the output is not
    const input = (_s: number, t: number): Float32Array => Float32Array.of(Math.sin(7 * t), t ** 3);
    const run = (target: string): number => {
      const m = createCacheMethod('tcpade', 'fast', { ...noStages, extrapolation: 'linear', spacing: 'tau', target });
      const steps = drive(m, { taus, input, residual: (s, t) => Float32Array.from(linear(t), (v, i) => v - input(s, t)[i]) });
      const skipped = steps.flatMap((st, k) => (st.decision.compute ? [] : [k]));
      assert.ok(skipped.length >= 2, 'needs skipped steps');
      return Math.max(...skipped.flatMap((k) => linear(taus[k]).map((v, i) => Math.abs(steps[k].output[i] - v))));
    };
    assert.ok(run('raw') < 1e-5, `raw: ${run('raw')}`);
    assert.ok(run('residual') > 1e-2, `residual: ${run('residual')}`);
  });
  it('linear in tau: exact with spacing tau, not with the paper spacing', () => {
    check({ extrapolation: 'linear', spacing: 'tau' }, linear, true);
    check({ extrapolation: 'linear', spacing: 'none' }, linear, false);
  });
  it('rational in tau: exact with the rational extrapolator', () => {
    check({ extrapolation: 'rational', spacing: 'tau' }, rational, true);
    check({ extrapolation: 'linear', spacing: 'tau' }, rational, false);
  });
  it('quadratic in tau: exact with lsq of degree 2', () => {
    check({ extrapolation: 'lsq', spacing: 'tau', lsqDegree: 2, historySize: 5 }, quadratic, true);
    check({ extrapolation: 'lsq', spacing: 'tau', lsqDegree: 1, historySize: 5 }, quadratic, false);
  });
});

describe('tcpade TSI gate', () => {
  // R(0) = 0, R(1) = [1, 0], R(2) = 0 (reversal, TSI 1), then R(3) = [0, 1] (right angle, TSI 0.7071).
  const turning = (s: number): Float32Array => (s === 1 ? f32(1, 0) : s === 3 ? f32(0, 1) : s === 2 ? f32(0, 0) : s === 0 ? f32(0, 0) : f32(0, 1 + s));

  it('computes on a reversal (TSI = 1 ≥ θ) and skips after a right angle when θ = 0.9', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-fast'), { taus: evenTaus(20), residual: turning });
    assert.deepEqual(steps[3].decision, { compute: true, reason: 'tsi', signal: 1, threshold: 0.9, stage: 'early' });
    assert.equal(steps[4].decision.compute, false);
    assert.ok(Math.abs(steps[4].decision.signal! - Math.SQRT1_2) < 1e-12);
  });
  it('paper-slow (θ = 0.7) also computes after the right angle', () => {
    const steps = drive(createCacheMethod('tcpade', 'paper-slow'), { taus: evenTaus(20), residual: turning });
    assert.equal(steps[3].decision.reason, 'tsi');
    assert.deepEqual([steps[4].decision.compute, steps[4].decision.reason], [true, 'tsi']);
  });
});

describe('tcpade NaN / Inf fallback', () => {
  for (const preset of ['paper-fast', 'fast', 'reference']) {
    for (const bad of [NaN, Infinity]) {
      it(`${preset}: a ${bad} in a computed residual forces computes ('nan-fallback') and never yields non-finite predictions`, () => {
        const steps = drive(createCacheMethod('tcpade', preset), {
          taus: evenTaus(20),
          residual: straight,
          computedOutput: (s, _in, out) => (s === 2 || s === 3 ? f32(bad, out[1]) : out),
        });
        const fallbackStep = steps.findIndex((st) => st.decision.reason === 'nan-fallback');
        assert.ok(fallbackStep >= 0, 'expected a nan-fallback decision');
        assert.equal(steps[fallbackStep].decision.compute, true);
        for (const st of steps) if (!st.decision.compute) assert.ok(st.output.every(Number.isFinite), 'predicted output not finite');
        assert.ok(steps.slice(fallbackStep).some((st) => !st.decision.compute), 'skipping resumes once the history is clean');
      });
    }
  }

  it('paper: a denominator driven to zero is guarded, the prediction stays finite', () => {
    // σ = 1 (steady residual) and R1 = −10 make 1 + (σ/λ)·R1 = 0 exactly.
    const steps = drive(createCacheMethod('tcpade', 'paper-fast', { earlyFraction: 0 }), { taus: evenTaus(20), residual: () => f32(-10, 1) });
    assert.equal(steps[3].decision.compute, false);
    assertCloseF32(steps[3].output, f32(-10 / 0.1, 1 / 1.1));
  });
});

describe('tcpade reference (released code)', () => {
  it('at 20 steps computes exactly {0,1,2,3,4,8,16,19}', () => {
    const steps = drive(createCacheMethod('tcpade', 'reference'), { taus: evenTaus(20), residual: straight });
    assert.deepEqual(computedSet(steps), [0, 1, 2, 3, 4, 8, 16, 19]);
  });
  it('at 50 steps: 0..4, every s % 8 == 0, the last; stages still assume 20 steps', () => {
    const steps = drive(createCacheMethod('tcpade', 'reference'), { taus: evenTaus(50), residual: straight });
    assert.deepEqual(computedSet(steps), [0, 1, 2, 3, 4, 8, 16, 24, 32, 40, 48, 49]);
    assert.equal(steps[17].decision.stage, 'late');
    const own = drive(createCacheMethod('tcpade', 'reference', { stageTotalSteps: 0 }), { taus: evenTaus(50), residual: straight });
    assert.equal(own[17].decision.stage, 'middle');
  });
  it('adds the input drift 0.2·(x_in(s) − x_in(s−1)) and appends predicted residuals to its history', () => {
    const input = (s: number): Float32Array => f32(s);
    const one = (): Float32Array => f32(1);
    const withAppend = drive(createCacheMethod('tcpade', 'reference'), { taus: evenTaus(20), residual: one, input });
    // step 5 (early): R̂ = 0.9 + 0.1 = 1; x_out = 5 + 1 + 0.2·(5 − 4)
    assert.deepEqual(withAppend[5].output, f32(6.2));
    // step 6 (middle): R1 = R2 = 1 → σ = 1, Padé 1/0.9 clamped to 1.1, w = 1
    assert.deepEqual(withAppend[6].output, f32(6 + 1.1 + 0.2));
    // step 7: R1 = 1.1 (step 6's PREDICTED residual), R2 = 1
    const a = Math.fround(1.1);
    const sigma = Math.exp((-10 * (a - 1)) / (a + 1 + 1e-8));
    const pade = (2 * sigma * a - sigma) / (1 - 0.1 * sigma);
    const avg = 0.6 * a + 0.4;
    const maxDev = Math.max(0.5 * (a - 1), 0.1 * 0.5 * (a + 1));
    const clamped = Math.min(avg + maxDev, Math.max(avg - maxDev, pade));
    const w = 0.7 * sigma + 0.3;
    const expected = 7 + Math.fround(w * clamped + (1 - w) * avg) + 0.2;
    assert.ok(Math.abs(withAppend[7].output[0] - expected) < 1e-5, `step 7: ${withAppend[7].output[0]} vs ${expected}`);
    // Without appending, step 7 sees R1 = R2 = 1 again.
    const computedOnly = drive(createCacheMethod('tcpade', 'reference', { appendPredicted: false }), { taus: evenTaus(20), residual: one, input });
    assert.deepEqual(computedOnly[7].output, f32(7 + 1.1 + 0.2));
  });
});
