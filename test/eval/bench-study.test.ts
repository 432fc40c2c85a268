// The residual-prediction study's arithmetic: errors on synthetic trajectories with known answers, and
// its TC-Padé predictors against the registered cache methods' own predictions on the same history.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCacheMethod, type SampleCache } from '../../src/cache/index.js';
import {
  predictInto,
  referencePredictInto,
  registeredPredictorSettings,
  relativeL2Error,
  studyErrors,
  type HistoryPoint,
  type Trajectory,
} from '../../src/eval/bench/study.js';
import { isAuto, resolveAutoExtrapolation, tcPadePredictInto } from '../../src/cache/index.js';
import type { ReferenceSettings, TcPadeSettings } from '../../src/cache/index.js';

const SIZE = 64;
const STEPS = 20;
// Unevenly spaced, decreasing like DDIM's t/1000: the predictors must use the actual spacing.
const TAUS = Array.from({ length: STEPS }, (_, s) => 0.999 * (1 - s / STEPS) ** 1.5 + 0.001);

function vec(f: (i: number) => number): Float32Array {
  return Float32Array.from({ length: SIZE }, (_, i) => f(i));
}
const A = vec((i) => 1 + Math.sin(i));
const B = vec((i) => 0.5 * Math.cos(3 * i) - 0.2);
const C = vec((i) => 0.3 * Math.sin(0.7 * i + 1));

/** v(s) = A + B·tau_s (+ C·tau_s² when quadratic), stored as float32 like real features. */
function trajectory(quadratic: boolean): Trajectory {
  const values = TAUS.map((t) => vec((i) => A[i] + B[i] * t + (quadratic ? C[i] * t * t : 0)));
  return { taus: TAUS, residual: values, raw: values.map((v) => Float32Array.from(v, (x) => 2 * x)) };
}

function norm(f: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < SIZE; i++) s += f(i) ** 2;
  return Math.sqrt(s);
}

describe('prediction study on synthetic trajectories', () => {
  it('reuse at gap g errs by exactly ‖B·(tau_s − tau_{s−g})‖ / ‖A + B·tau_s‖ on a linear trajectory', () => {
    const r = studyErrors([trajectory(false)], { maxGap: 6, predictors: ['reuse'], targets: ['residual'] });
    for (let g = 1; g <= 6; g++) {
      const perStep = r.perStep.find((p) => p.gap === g)!;
      const expected: number[] = [];
      for (let s = 0; s < STEPS; s++) {
        if (s < 3 * g) {
          assert.equal(perStep.medianByStep[s], null, `g=${g}: step ${s} has no 3-point history`);
          continue;
        }
        const want = norm((i) => B[i] * (TAUS[s] - TAUS[s - g])) / norm((i) => A[i] + B[i] * TAUS[s]);
        expected.push(want);
        const got = perStep.medianByStep[s]!;
        assert.ok(Math.abs(got - want) <= 1e-5 * want + 1e-7, `g=${g}, s=${s}: reuse error ${got}, formula ${want}`);
      }
      const cell = r.cells.find((c) => c.gap === g)!;
      assert.equal(cell.count, STEPS - 3 * g);
      const sorted = [...expected].sort((a, b) => a - b);
      const mid = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      assert.ok(Math.abs(cell.median - mid) <= 1e-5 * mid, `g=${g}: median ${cell.median}, expected ${mid}`);
    }
  });

  it('Taylor O=1 (actual tau spacing) is exact on a linear trajectory, O=2 on a quadratic one; O=1 is not on the quadratic', () => {
    const lin = studyErrors([trajectory(false)], { maxGap: 6, predictors: ['taylor1', 'taylor2'] });
    for (const c of lin.cells) assert.ok(c.median < 1e-5 && c.p90 < 1e-5, `${c.predictor} ${c.target} g=${c.gap}: ${c.median}`);
    const quad = studyErrors([trajectory(true)], { maxGap: 6, predictors: ['taylor1', 'taylor2'] });
    for (const c of quad.cells.filter((x) => x.predictor === 'taylor2')) assert.ok(c.median < 1e-5, `taylor2 g=${c.gap}: ${c.median}`);
    const t1 = quad.cells.find((x) => x.predictor === 'taylor1' && x.gap === 3 && x.target === 'residual')!;
    assert.ok(t1.median > 1e-3, `taylor1 should miss the curvature at gap 3, got ${t1.median}`);
  });

  it('relative L2 error: 0 for equal vectors, ‖d‖/‖t‖ otherwise, Infinity for a non-finite prediction', () => {
    const t = Float32Array.from([3, 4]);
    assert.equal(relativeL2Error(Float32Array.from([3, 4]), t), 0);
    assert.equal(relativeL2Error(Float32Array.from([3, 4 + 5]), t), 1);
    assert.equal(relativeL2Error(Float32Array.from([NaN, 4]), t), Infinity);
  });
});

/** Drives a registered method's sample cache through `values` (residuals, input x_in = 0) up to `until`. */
function driveUntil(cache: SampleCache, values: readonly Float32Array[], until: number): void {
  const zero = new Float32Array(SIZE);
  for (let s = 0; s < until; s++) {
    const step = { stepIndex: s, totalSteps: STEPS, tau: TAUS[s] };
    const d = cache.decide(step, { xIn: zero });
    assert.ok(d.compute, `step ${s} should compute (${d.reason}) for this comparison`);
    cache.observe(step, 0, zero, values[s], true);
  }
}

describe('the study predicts what the registered TC-Padé methods predict', () => {
  const values = trajectory(true).residual;
  const zero = new Float32Array(SIZE);
  const hist = (steps: number[]): HistoryPoint[] => steps.map((s) => ({ stepIndex: s, tau: TAUS[s], data: values[s] }));
  const ctx = { totalSteps: STEPS, taus: TAUS, branch: 'cond', sampleIndex: 0, sections: 1 };

  for (const preset of ['fast', 'paper-fast'] as const) {
    it(`tcpade/${preset}: the skipped step after warm-up equals tcPadePredictInto on the same history`, () => {
      // warm-up 3 computes 0..2; the grid opens at 2, so 3 is the first predicted step (middle stage from 6).
      const method = createCacheMethod('tcpade', preset, { earlyFraction: 0.1, warmupSteps: 3 });
      const cache = method.createSampleCache(ctx);
      driveUntil(cache, values, 3);
      const step = { stepIndex: 3, totalSteps: STEPS, tau: TAUS[3] };
      const d = cache.decide(step, { xIn: zero });
      assert.equal(d.compute, false, `step 3 should be predicted, got ${d.reason}`);
      assert.equal(d.stage, 'middle');
      const fromMethod = cache.predict(step, 0, zero);
      const settings = method.settings as unknown as TcPadeSettings;
      // ours' 'auto-blend' needs a 4th residual to backtest; with three it extrapolates linearly
      const { settings: resolved, backtest } = isAuto(settings) ? resolveAutoExtrapolation(settings, hist([2, 1, 0])) : { settings, backtest: undefined };
      const fromStudy = tcPadePredictInto(new Float32Array(SIZE), resolved, hist([2, 1, 0]), step, { backtest });
      assert.deepEqual(Array.from(fromStudy), Array.from(fromMethod));
    });
  }

  it('tcpade/reference (no input drift): the first predicted middle step equals referencePredictInto', () => {
    const method = createCacheMethod('tcpade', 'reference', { warmupSteps: 7, driftFactor: 0 });
    const cache = method.createSampleCache(ctx);
    driveUntil(cache, values, 7);
    const step = { stepIndex: 7, totalSteps: STEPS, tau: TAUS[7] };
    const d = cache.decide(step, { xIn: zero });
    assert.equal(d.compute, false, `step 7 should be predicted, got ${d.reason}`);
    const fromMethod = cache.predict(step, 0, zero);
    const fromStudy = referencePredictInto(new Float32Array(SIZE), method.settings as unknown as ReferenceSettings, hist([6, 5, 4]), step);
    assert.deepEqual(Array.from(fromStudy), Array.from(fromMethod));
  });

  it("the study's registered settings are the presets it names (paper = paper-fast rule, ours = fast rule)", () => {
    const s = registeredPredictorSettings();
    assert.equal(s.paper.extrapolation, 'paper');
    assert.equal(s.paper.spacing, 'none');
    assert.deepEqual(s.ours, createCacheMethod('tcpade', 'fast').settings);
    // pade is the bare formula: in the early stage it differs from the paper rule's blend.
    const h = hist([2, 1, 0]);
    const step = { stepIndex: 3, totalSteps: STEPS, tau: TAUS[3] };
    const pade = predictInto(new Float32Array(SIZE), 'pade', h, step, s);
    const paper = predictInto(new Float32Array(SIZE), 'paper', h, step, s);
    assert.notDeepEqual(Array.from(pade), Array.from(paper));
  });
});
