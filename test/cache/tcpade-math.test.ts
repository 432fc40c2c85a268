// TC-Padé's formulas against values computed by hand from method.md: σ, Padé [2/1] with its guarded
// denominator, TSI, stage rules and boundaries, and the released code's clamp/blend/fallback.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../support/prng.js';
import { createWasmKernels, jsKernels } from '../../src/cache/simd/kernels.js';
import {
  addIncrementInto,
  createCacheMethod,
  earlyBlendInto,
  guardDenominator,
  padePaperInto,
  referencePredictionInto,
  smallHistoryAverageInto,
  stabilityFactor,
  stageOf,
  trajectoryStabilityIndicator,
  type ReferenceSettings,
} from '../../src/cache/index.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);
function closeAll(actual: Float32Array, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: expected ${e}, got ${actual[i]}`));
}

describe('stability factor σ = exp(−λ‖R1−R2‖/‖R1+R2‖)', () => {
  it('R1 = [1, 2], R2 = [0.5, 1]: ‖R1−R2‖/‖R1+R2‖ = 1/3, σ = e^(−10/3)', () => {
    assert.ok(Math.abs(stabilityFactor(f32(1, 2), f32(0.5, 1), 10) - Math.exp(-10 / 3)) < 1e-12);
  });
  it('is 1 for a steady residual and 0 when R1 = −R2', () => {
    assert.equal(stabilityFactor(f32(3, -1), f32(3, -1), 10), 1);
    assert.equal(stabilityFactor(f32(3, -1), f32(-3, 1), 10), 0);
  });
});

describe('Padé [2/1] (paper): R̂ = (2σR1 − σR2) / (1 + (σ/λ)R1)', () => {
  it('reproduces the hand-computed values for R1 = [1, 2], R2 = [0.5, 1]', () => {
    const sigma = Math.exp(-10 / 3);
    const out = padePaperInto(new Float32Array(2), f32(1, 2), f32(0.5, 1), sigma, 10, 0.1);
    // element 0: σ(2·1 − 0.5)/(1 + 0.1σ·1); element 1: σ(2·2 − 1)/(1 + 0.1σ·2)
    closeAll(out, [(1.5 * sigma) / (1 + 0.1 * sigma), (3 * sigma) / (1 + 0.2 * sigma)], 1e-6, 'padé');
  });

  it('with σ = 1: [(2 − 0.5)/1.1, (4 − 1)/1.2] = [1.3636…, 2.5]', () => {
    closeAll(padePaperInto(new Float32Array(2), f32(1, 2), f32(0.5, 1), 1, 10, 0.1), [1.5 / 1.1, 2.5], 1e-6, 'padé σ=1');
  });

  it('guards the denominator: |den| ≥ ε with its sign kept', () => {
    assert.equal(guardDenominator(0.05, 0.1), 0.1);
    assert.equal(guardDenominator(-0.05, 0.1), -0.1);
    assert.equal(guardDenominator(0, 0.1), 0.1);
    assert.equal(guardDenominator(2, 0.1), 2);
    assert.equal(guardDenominator(-2, 0.1), -2);
    assert.ok(Number.isNaN(guardDenominator(NaN, 0.1)));
    // σ = 1, λ = 10: den = 1 + 0.1·R1 → 0 at R1 = −10 (→ +ε) and −0.005 at R1 = −10.05 (→ −ε).
    const out = padePaperInto(new Float32Array(2), f32(-10, -10.05), f32(-10, -10.05), 1, 10, 0.1);
    closeAll(out, [-10 / 0.1, -10.05 / -0.1], 1e-6, 'guarded');
  });

  it('the ratio generalisation with r = 1 is the paper formula', () => {
    const a = padePaperInto(new Float32Array(2), f32(1, 2), f32(0.5, 1), 0.7, 10, 0.1);
    const b = padePaperInto(new Float32Array(2), f32(1, 2), f32(0.5, 1), 0.7, 10, 0.1, 1);
    assert.deepEqual(a, b);
    // r = 2: σ(3R1 − 2R2)/den
    closeAll(padePaperInto(new Float32Array(1), f32(1), f32(0.5), 0.7, 10, 0.1, 2), [(0.7 * 2) / 1.07], 1e-6, 'r=2');
  });
});

describe('TSI = ½‖unit(R1−R2) − unit(R2−R3)‖', () => {
  it('from the one-pass sums equals the direct ½‖u1 − u2‖ on random and nearly straight trajectories', () => {
    const rnd = seededRandom(11);
    const n = 1001;
    for (const bend of [1, 1e-2, 1e-4, 1e-6, 0]) {
      const r3 = Float32Array.from({ length: n }, () => rnd() - 0.5);
      const dir = Float32Array.from({ length: n }, () => rnd() - 0.5);
      const turn = Float32Array.from({ length: n }, () => rnd() - 0.5);
      const r2 = Float32Array.from(r3, (v, i) => v + dir[i]);
      const r1 = Float32Array.from(r2, (v, i) => v + 1.3 * dir[i] + bend * turn[i]);
      let nNew = 0;
      let nOld = 0;
      for (let i = 0; i < n; i++) {
        nNew += (r1[i] - r2[i]) ** 2;
        nOld += (r2[i] - r3[i]) ** 2;
      }
      let d = 0;
      for (let i = 0; i < n; i++) d += ((r1[i] - r2[i]) / Math.sqrt(nNew) - (r2[i] - r3[i]) / Math.sqrt(nOld)) ** 2;
      const want = 0.5 * Math.sqrt(d);
      const got = trajectoryStabilityIndicator(r1, r2, r3);
      assert.ok(Math.abs(got - want) <= 1e-9 + 1e-7 * want, `bend ${bend}: ${got} vs ${want}`);
    }
  });

  it('is 0 on a straight line', () => {
    assert.equal(trajectoryStabilityIndicator(f32(2, 2, 2), f32(1, 1, 1), f32(0, 0, 0)), 0);
    // uneven step lengths along one direction are still straight
    assert.ok(trajectoryStabilityIndicator(f32(5, 10), f32(1, 2), f32(0, 0)) < 1e-7);
  });
  it('is 1 on a reversal', () => {
    assert.equal(trajectoryStabilityIndicator(f32(0, 0), f32(1, 0), f32(0, 0)), 1);
  });
  it('is √2/2 ≈ 0.7071 on a right angle and 0.5 on a 60° turn', () => {
    assert.ok(Math.abs(trajectoryStabilityIndicator(f32(1, 1), f32(1, 0), f32(0, 0)) - Math.SQRT1_2) < 1e-12);
    const c = Math.cos(Math.PI / 3);
    const s = Math.sin(Math.PI / 3);
    assert.ok(Math.abs(trajectoryStabilityIndicator(f32(1 + c, s), f32(1, 0), f32(0, 0)) - 0.5) < 1e-7);
  });
  it('is NaN when the history holds NaN (the caller computes instead)', () => {
    assert.ok(Number.isNaN(trajectoryStabilityIndicator(f32(NaN, 0), f32(1, 0), f32(0, 0))));
  });
});

describe('stage rules', () => {
  it('early: α1·R1 + (1 − α1)·R2; late: + β(R1 − R2)', () => {
    closeAll(earlyBlendInto(new Float32Array(2), f32(1, 2), f32(0.5, 1), 0.9), [0.95, 1.9], 1e-6, 'early');
    closeAll(addIncrementInto(f32(10, 20), f32(1, 2), f32(0.5, 1), 0.3), [10.15, 20.3], 1e-6, 'late');
  });
  it('boundaries scale with the request: 20 steps → early < 6, late ≥ 16; 50 steps → early < 15, late ≥ 40', () => {
    const stages = (S: number): string[] => Array.from({ length: S }, (_, s) => stageOf(s, S, 0.3, 0.8));
    const s20 = stages(20);
    assert.equal(s20.lastIndexOf('early'), 5);
    assert.equal(s20.indexOf('late'), 16);
    const s50 = stages(50);
    assert.equal(s50.lastIndexOf('early'), 14);
    assert.equal(s50.indexOf('late'), 40);
    // non-integer boundary: 0.3·25 = 7.5 → s = 7 is early, 8 is not
    assert.equal(stageOf(7, 25, 0.3, 0.8), 'early');
    assert.equal(stageOf(8, 25, 0.3, 0.8), 'middle');
  });
});

describe('released-code prediction (reference)', () => {
  const k = createCacheMethod('tcpade', 'reference').settings as unknown as ReferenceSettings;
  const eps = k.sigmaEpsilon;
  const predict = (r1: Float32Array, r2: Float32Array, stage: 'middle' | 'late'): Float32Array => {
    const out = new Float32Array(r1.length);
    referencePredictionInto(out, r1, r2, stage, k);
    return out;
  };

  it('element with R1 = R2 = 1: σ = 1, Padé = 1/0.9, clamped to avg + 0.1 = 1.1, w = 1 → 1.1', () => {
    closeAll(predict(f32(1), f32(1), 'middle'), [1.1], 1e-6, 'steady');
  });

  it('element with R1 = 2, R2 = 0: clamp to avg − maxDev = 0.2, then blend towards avg = 1.2', () => {
    const sigma = Math.exp((-10 * 2) / (2 + eps));
    const pade = (4 * sigma) / (1 - 0.1 * sigma); // ≈ 1.8e−4, below the clamp floor
    const avg = 1.2;
    const floor = avg - Math.max(0.5 * 2, 0.1 * 0.5 * 2); // 0.2
    assert.ok(pade < floor);
    const w = 0.7 * sigma + 0.3;
    const expected = w * floor + (1 - w) * avg;
    closeAll(predict(f32(2), f32(0), 'middle'), [expected], 1e-6, 'clamped');
  });

  it('an unclamped element: R1 = 1.05, R2 = 1 (Padé inside avg ± maxDev)', () => {
    const a = 1.05;
    const b = 1;
    const sigma = Math.exp((-10 * Math.abs(Math.fround(a) - b)) / (Math.fround(a) + b + eps));
    const pade = (2 * sigma * Math.fround(a) - sigma * b) / (1 - 0.1 * sigma);
    const avg = 0.6 * Math.fround(a) + 0.4 * b;
    const maxDev = Math.max(0.5 * Math.abs(Math.fround(a) - b), 0.1 * 0.5 * (Math.fround(a) + b));
    assert.ok(Math.abs(pade - avg) < maxDev, 'this case must not clamp');
    const w = 0.7 * sigma + 0.3;
    const mid = w * pade + (1 - w) * avg;
    closeAll(predict(f32(a), f32(b), 'middle'), [mid], 1e-6, 'middle');
    // late adds β(R1 − R2) after clamp and blend
    closeAll(predict(f32(a), f32(b), 'late'), [mid + 0.3 * (Math.fround(a) - b)], 1e-6, 'late');
  });

  it('a non-finite element (float32 overflow) is replaced by R1 + f·(R1 − R2)', () => {
    // β = 1 pushes the late prediction past float32's max; f = −0.5 makes the fallback (R1 + R2)/2 = 0.
    const kk = { ...k, beta: 1, fallbackFactor: -0.5 };
    const out = new Float32Array(2);
    const fallbacks = referencePredictionInto(out, f32(3e38, 1), f32(-3e38, 1), 'late', kk);
    assert.equal(fallbacks, 1);
    assert.equal(out[0], 0);
    closeAll(out.subarray(1), [1.1], 1e-6, 'the finite element is untouched');
  });

  it('small history: weights 0.4, 0.3, … renormalised over what is held', () => {
    closeAll(smallHistoryAverageInto(new Float32Array(1), [f32(1), f32(2)], [0.4, 0.3, 0.2, 0.1]), [(0.4 + 0.6) / 0.7], 1e-6, 'two held');
    closeAll(smallHistoryAverageInto(new Float32Array(1), [f32(3)], [0.4, 0.3, 0.2, 0.1]), [3], 1e-6, 'one held');
  });
});

describe('released-code prediction: wasm float32 kernel vs the float64 JS loop', () => {
  it('agree to float32 precision on random residuals at several scales, incl. clamped and NaN elements', () => {
    const wasm = createWasmKernels();
    assert.ok(wasm !== null, 'wasm SIMD expected on Node ≥ 20');
    const k = createCacheMethod('tcpade', 'reference').settings as unknown as ReferenceSettings;
    let seed = 11;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 2;
    for (const scale of [1e-3, 1, 30]) {
      const n = 1003; // not a multiple of 4: padding lanes must not count as fallbacks
      const r1 = Float32Array.from({ length: n }, () => scale * rnd());
      const r2 = Float32Array.from(r1, (v, i) => (i % 3 === 0 ? v + 0.01 * scale * rnd() : scale * rnd()));
      r1[5] = NaN;
      for (const stage of ['middle', 'late'] as const) {
        const [js, ws] = [new Float32Array(n), new Float32Array(n)];
        const fJs = referencePredictionInto(js, r1, r2, stage, k, jsKernels);
        const fWasm = referencePredictionInto(ws, r1, r2, stage, k, wasm);
        assert.equal(fWasm, fJs, `fallback count, scale ${scale} ${stage}`);
        for (let i = 0; i < n; i++) {
          if (Number.isNaN(js[i])) {
            assert.ok(Number.isNaN(ws[i]), `element ${i} should stay NaN`);
            continue;
          }
          const tol = 2e-6 * (Math.abs(r1[i]) + Math.abs(r2[i]) + 1e-30);
          assert.ok(Math.abs(ws[i] - js[i]) <= tol, `scale ${scale} ${stage} element ${i}: wasm ${ws[i]} vs js ${js[i]}`);
        }
      }
    }
  });
});

describe("the paper's Padé form: wasm float32 kernel vs the JS loop", () => {
  it('agree to float32 precision with base and late increment fused, through a guarded denominator', () => {
    const wasm = createWasmKernels()!;
    const n = 103;
    const r1 = Float32Array.from({ length: n }, (_, i) => (i === 7 ? -10 : Math.sin(i) * 12));
    const r2 = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 5);
    const base = Float32Array.from({ length: n }, (_, i) => i / 7);
    for (const opts of [{}, { base, beta: 0.3 }]) {
      const js = padePaperInto(new Float32Array(n), r1, r2, 1, 10, 0.1, 1.5, { ...opts, using: jsKernels });
      const ws = padePaperInto(new Float32Array(n), r1, r2, 1, 10, 0.1, 1.5, { ...opts, using: wasm });
      for (let i = 0; i < n; i++) assert.ok(Math.abs(ws[i] - js[i]) <= 1e-5 * (1 + Math.abs(js[i])), `element ${i}: ${ws[i]} vs ${js[i]}`);
    }
  });
});
