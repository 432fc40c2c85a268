// Signal-gated methods on hand-made sequences: TeaCache's accumulation and reset, polyfit recovering
// known coefficients, FBCache's threshold against the last computed step and its skip cap, Δ-DiT masks.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CacheConfigError, CacheUsageError, createCacheMethod, createRequestCache, polyfit, polyval, type CacheMethod } from '../../src/cache/index.js';
import { computedSet, drive, evenTaus } from './drive.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);
const base = f32(1, -1, 2, 0.5);
/** A modulated input whose relative L1 change from the previous step is exactly |c_s − c_{s−1}| / |c_{s−1}|. */
const scaled = (c: number): Float32Array => Float32Array.from(base, (v) => v * c);
const residual = (s: number): Float32Array => f32(0.1 * s, 1, 2, 3);

describe('teacache', () => {
  // Relative changes: step1 0.1, step2 0.1, step3 0.1, step4 0.3, step5 0.05, step6 0.05, step7 (last).
  const scales = [1, 1.1, 1.21, 1.331, 1.7303, 1.816815, 1.90765575, 2];

  it('accumulates the relative L1 change, computes when the sum reaches the threshold, then resets', () => {
    const m = createCacheMethod('teacache', 'slow', { threshold: 0.25 });
    const steps = drive(m, { taus: evenTaus(8), residual, signals: (s) => ({ modulatedInput0: scaled(scales[s]) }) });
    assert.deepEqual(
      steps.map((st) => [st.decision.compute, st.decision.reason]),
      [
        [true, 'warmup'],
        [false, 'teacache'], // 0.1
        [false, 'teacache'], // 0.2
        [true, 'teacache'], // 0.3 ≥ 0.25 → compute, reset
        [true, 'teacache'], // 0.3
        [false, 'teacache'], // 0.05
        [false, 'teacache'], // 0.10
        [true, 'final'],
      ],
    );
    const signals = steps.map((st) => st.decision.signal);
    [undefined, 0.1, 0.2, 0.3, 0.3, 0.05, 0.1, undefined].forEach((e, s) => {
      if (e === undefined) assert.equal(signals[s], undefined);
      else assert.ok(Math.abs(signals[s]! - e) < 1e-6, `step ${s}: accumulated ${signals[s]} vs ${e}`);
    });
    // A reused step: x_in + the residual of the last computed step (step 0 for step 1).
    assert.deepEqual(steps[1].output, residual(0));
  });

  it('maps each change through rescale(x) = c0 + c1·x + c2·x² (lowest degree first)', () => {
    // rescale(x) = 0.01 + 2x: 0.21, then 0.42 ≥ 0.4 → compute at step 2.
    const m = createCacheMethod('teacache', 'slow', { threshold: 0.4, coefficients: '0.01,2' });
    const steps = drive(m, { taus: evenTaus(8), residual, signals: (s) => ({ modulatedInput0: scaled(scales[s]) }) });
    assert.deepEqual(computedSet(steps), [0, 2, 4, 7]);
    assert.ok(Math.abs(steps[1].decision.signal! - 0.21) < 1e-6);
  });

  it('caps consecutive reuses with maxConsecutiveSkips', () => {
    const m = createCacheMethod('teacache', 'slow', { threshold: 100, maxConsecutiveSkips: 2 });
    const steps = drive(m, { taus: evenTaus(8), residual, signals: (s) => ({ modulatedInput0: scaled(scales[s]) }) });
    assert.deepEqual(computedSet(steps), [0, 3, 6, 7]);
    assert.equal(steps[3].decision.reason, 'max-skips');
  });

  it('refuses to run without signals.modulatedInput0, naming it', () => {
    const m = createCacheMethod('teacache');
    assert.equal(m.needs.modulatedInput0, true);
    assert.throws(() => drive(m, { taus: evenTaus(4), residual }), (e: unknown) => e instanceof CacheUsageError && /modulatedInput0/.test(e.message));
  });
});

describe('polyfit (float64 least squares, lowest degree first)', () => {
  it('recovers known coefficients from exact samples', () => {
    const truth = [1, -2, 0, 0.5];
    const x = [0.01, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6];
    const c = polyfit(x, x.map((v) => polyval(truth, v)), 3);
    c.forEach((v, i) => assert.ok(Math.abs(v - truth[i]) < 1e-8, `c${i}: ${v} vs ${truth[i]}`));
  });
  it('recovers TeaCache-sized coefficients at small x (degree 4)', () => {
    const truth = [0.26, -3.8, 55.9, -283.8, 498.7]; // FLUX's published rescale, reversed to lowest first
    const x = Array.from({ length: 30 }, (_, i) => 0.02 + 0.01 * i);
    const c = polyfit(x, x.map((v) => polyval(truth, v)), 4);
    c.forEach((v, i) => assert.ok(Math.abs(v - truth[i]) < 1e-6 * Math.max(1, Math.abs(truth[i])), `c${i}: ${v} vs ${truth[i]}`));
  });
  it('a degree-1 fit of noisy points equals the closed-form regression line', () => {
    const x = [0, 1, 2, 3, 4];
    const y = [1.1, 2.9, 5.2, 6.8, 9.1];
    const mx = 2;
    const my = y.reduce((a, b) => a + b) / 5;
    const slope = x.reduce((a, xi, i) => a + (xi - mx) * (y[i] - my), 0) / x.reduce((a, xi) => a + (xi - mx) ** 2, 0);
    const [c0, c1] = polyfit(x, y, 1);
    assert.ok(Math.abs(c1 - slope) < 1e-12 && Math.abs(c0 - (my - slope * mx)) < 1e-12);
  });
  it('rejects too few or degenerate points with a clear error', () => {
    assert.throws(() => polyfit([1, 2], [1, 2], 2), CacheConfigError);
    assert.throws(() => polyfit([1, 1, 1], [1, 2, 3], 1), /distinct/);
    assert.throws(() => polyfit([1, 2], [1], 1), /pair up/);
  });
});

describe('fbcache', () => {
  // First-block residual changes (relative L1 vs the LAST COMPUTED step's): chosen per step.
  const firstBlock = [1, 1.02, 1.04, 1.07, 1.08, 1.2, 1.21, 1.22, 1.23, 1.24];

  it('skips while the change since the last computed step is below the threshold', () => {
    const m = createCacheMethod('fbcache', 'slow', { threshold: 0.05 });
    const steps = drive(m, { taus: evenTaus(10), residual, signals: (s) => ({ firstBlockResidual: scaled(firstBlock[s]) }) });
    // vs step 0: 0.02, 0.04 skip; 0.07 compute (ref → 1.07); 0.0093 skip; 0.121 compute (ref 1.2); then
    // 0.0083, 0.0167, 0.025, 0.033 skip.
    assert.deepEqual(computedSet(steps), [0, 3, 5]);
    assert.ok(Math.abs(steps[3].decision.signal! - 0.07) < 1e-6, 'compared with step 0, not step 2');
    assert.equal(steps[3].decision.reason, 'fbcache');
    // Blocks 1..L-1 reused: x_in (0 here) + the tail residual of step 0.
    assert.deepEqual(steps[1].output, residual(0));
  });

  it('maxConsecutiveSkips forces a compute after that many skips', () => {
    const m = createCacheMethod('fbcache', 'slow', { threshold: 0.05, maxConsecutiveSkips: 2 });
    const steps = drive(m, { taus: evenTaus(10), residual, signals: (s) => ({ firstBlockResidual: scaled(firstBlock[s]) }) });
    assert.deepEqual(computedSet(steps), [0, 3, 5, 8]);
    assert.equal(steps[8].decision.reason, 'max-skips');
  });

  it('declares first-block granularity and needs the first-block residual', () => {
    const m = createCacheMethod('fbcache');
    assert.equal(m.granularity, 'first-block');
    assert.equal(m.needs.firstBlock, true);
  });
});

describe('delta-dit masks (per-block)', () => {
  /** 8 steps through a per-block Δ-DiT cache: each step's mask ('full' or computeSections) and bytes held at decide. */
  function driveMasks(m: CacheMethod, sections: number, sectionBlocks?: readonly (readonly [number, number])[]): { masks: (readonly boolean[] | 'full')[]; held: number[] } {
    const taus = evenTaus(8);
    const cache = createRequestCache(m, { totalSteps: 8, taus, sections, ...(sectionBlocks ? { sectionBlocks } : {}) }, ['cond'], 1).get('cond', 0);
    const masks: (readonly boolean[] | 'full')[] = [];
    const held: number[] = [];
    for (let s = 0; s < 8; s++) {
      const step = { stepIndex: s, totalSteps: 8, tau: taus[s] };
      const d = cache.decide(step, {});
      held.push(cache.bytesHeld());
      masks.push(d.compute ? 'full' : d.computeSections!);
      let h = f32(s, 1);
      for (let sec = 0; sec < sections; sec++) {
        const run = d.compute || d.computeSections![sec];
        const out = run ? Float32Array.from(h, (v) => v + sec + 1) : cache.predict(step, sec, h);
        cache.observe(step, sec, h, out, run);
        h = out;
      }
    }
    return { masks, held };
  }

  it('early partial steps run the front blocks and reuse the rear; late ones the reverse', () => {
    const { masks, held } = driveMasks(createCacheMethod('delta-dit', 'n2'), 4);
    // warm-up 1 → full at 0, 2, 4, 6; boundary 0.5·8 = 4.
    assert.deepEqual(masks, ['full', [true, true, false, false], 'full', [true, true, false, false], 'full', [false, false, true, true], 'full', [false, false, true, true]]);
    // Computed sections store their residual only if a step within the interval ahead may reuse it
    // (8 bytes each here): the rear two at step 0; the front two first at step 3, as step 4 lies past the boundary.
    assert.deepEqual(held, [0, 16, 16, 16, 32, 32, 32, 32]);
  });

  it('over block ranges (its own cut), a section is replaced exactly when its blocks lie in the reused range', () => {
    const m = createCacheMethod('delta-dit', 'n2', { cachedFraction: 0.25 });
    const ranges = m.blockRanges!(4); // c = 1: [0,1) [1,3) [3,4)
    const { masks } = driveMasks(m, 3, ranges);
    // early: only the last block (range [3, 4)) is reused; late: only the first ([0, 1)).
    assert.deepEqual(masks, ['full', [true, true, false], 'full', [true, true, false], 'full', [false, true, true], 'full', [false, true, true]]);
  });
});
