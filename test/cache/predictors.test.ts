// Extrapolators on synthetic curves with known answers: Newton divided differences exact on polynomials
// at uneven spacing, TaylorSeer's official form, reuse on constants, error ordering on eˣ and 1/(1+x).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DividedDifferences,
  createCacheMethod,
  createRequestCache,
  leastSquaresWeights,
  linearExtrapolateInto,
  rationalExtrapolateInto,
  type TableForm,
} from '../../src/cache/index.js';

/** Feed f at `nodes` (oldest first) into a table and evaluate at `x`, one element per function. */
function extrapolate(fs: ((t: number) => number)[], nodes: number[], x: number, order: number, form: TableForm = 'newton', useOrder = order): number[] {
  const table = new DividedDifferences(order, form);
  for (const t of nodes) table.update(t, Float32Array.from(fs, (f) => f(t)));
  return Array.from(table.evaluateInto(new Float32Array(fs.length), x, useOrder));
}

function close(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= relTol * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

// Decreasing and unevenly spaced, like DDPM times t/1000.
const unevenNodes = [0.93, 0.71, 0.58, 0.31];
const target = 0.12;

describe('Newton divided differences over tau', () => {
  const cubic = (t: number): number => 2 - 3 * t + 0.5 * t * t + 0.25 * t ** 3;
  const quadratic = (t: number): number => -1 + 4 * t - 2.5 * t * t;
  const line = (t: number): number => 0.3 + 7 * t;

  it('is exact on polynomials up to its order at uneven spacing', () => {
    const [c3, q3, l3] = extrapolate([cubic, quadratic, line], unevenNodes, target, 3);
    close(c3, cubic(target), 1e-5, 'order 3 on a cubic');
    close(q3, quadratic(target), 1e-5, 'order 3 on a quadratic');
    close(l3, line(target), 1e-5, 'order 3 on a line');
    const [q2] = extrapolate([quadratic], unevenNodes.slice(1), target, 2);
    close(q2, quadratic(target), 1e-5, 'order 2 on a quadratic');
    const [l1] = extrapolate([line], unevenNodes.slice(2), target, 1);
    close(l1, line(target), 1e-5, 'order 1 on a line');
  });

  it('misses a cubic by exactly a3·(x−x0)(x−x1)(x−x2) at order 2 (the interpolation error formula)', () => {
    const nodes = unevenNodes.slice(1); // 0.71, 0.58, 0.31
    const [c2] = extrapolate([cubic], nodes, target, 2);
    const expectedError = 0.25 * (target - 0.31) * (target - 0.58) * (target - 0.71);
    close(cubic(target) - c2, expectedError, 1e-4, 'order-2 error on the cubic');
    assert.ok(Math.abs(expectedError) > 1e-3, 'the test needs a visible error');
  });

  it('keeps only the newest order+1 nodes (a sliding window)', () => {
    // After 4 points at order 1 the line through the newest two must be used: exact on a line even
    // though older points came from a different function.
    const table = new DividedDifferences(1, 'newton');
    table.update(0.9, Float32Array.of(100));
    table.update(0.8, Float32Array.of(-50));
    table.update(0.5, Float32Array.of(line(0.5)));
    table.update(0.4, Float32Array.of(line(0.4)));
    close(table.evaluateInto(new Float32Array(1), 0.1)[0], line(0.1), 1e-5, 'window of 2');
  });

  it('reuse (order 0) is exact on constants and returns the newest value otherwise', () => {
    const [c, newest] = extrapolate([() => -3.25, (t) => t * 10], unevenNodes, target, 0);
    assert.equal(c, -3.25);
    assert.equal(newest, Math.fround(unevenNodes[3] * 10));
  });

  it('on x² the linear extrapolation error is exactly (x − x1)(x − x2)', () => {
    const sq = (t: number): number => t * t;
    const [p] = extrapolate([sq], [0.58, 0.31], target, 1);
    close(sq(target) - p, (target - 0.31) * (target - 0.58), 1e-5, 'linear error on x²');
  });

  it('on eˣ and 1/(1+x) with small spacing the error falls with the order (0 > 1 > 2)', () => {
    const nodes = [0.3, 0.25, 0.2];
    const x = 0.15;
    for (const [name, f] of [
      ['exp', Math.exp],
      ['rational', (t: number) => 1 / (1 + t)],
    ] as const) {
      const errs = [0, 1, 2].map((o) => Math.abs(f(x) - extrapolate([f], nodes, x, 2, 'newton', o)[0]));
      assert.ok(errs[0] > errs[1] && errs[1] > errs[2], `${name}: errors by order ${errs.join(', ')}`);
      assert.ok(errs[2] < 1e-3, `${name}: order-2 error ${errs[2]}`);
    }
  });
});

describe("TaylorSeer's official form (backward differences, Σ f_j k^j/j!)", () => {
  it('is exact on a line at uneven spacing', () => {
    const line = (t: number): number => 0.3 + 7 * t;
    const [p] = extrapolate([line], unevenNodes, target, 2, 'taylor');
    close(p, line(target), 1e-5, 'taylor form on a line');
  });

  it('misses x² by exactly h·k at even spacing h and distance k (why the project defaults to Newton)', () => {
    const sq = (t: number): number => t * t;
    const h = 1;
    const k = 1;
    const [taylor] = extrapolate([sq], [0, 1, 2], 2 + k, 2, 'taylor');
    const [newton] = extrapolate([sq], [0, 1, 2], 2 + k, 2, 'newton');
    close(sq(3) - taylor, h * k, 1e-6, 'taylor error');
    close(newton, 9, 1e-6, 'newton on x²');
  });
});

describe('TC-Padé alternative extrapolators (ours)', () => {
  it('rational [1/1] is exact on (a + b·x)/(1 + c·x), where linear is not', () => {
    const f = (t: number): number => (0.5 + 2 * t) / (1 + 3 * t);
    const g = (t: number): number => 1 / (1 + t);
    const nodes = [0.3, 0.45, 0.6]; // newest first (tau decreases during sampling)
    const points = nodes.map((c) => ({ coord: c, data: Float32Array.of(f(c), g(c)) }));
    const out = new Float32Array(2);
    const fallbacks = rationalExtrapolateInto(out, points, 0.1, 1);
    assert.equal(fallbacks, 0);
    close(out[0], f(0.1), 1e-5, 'rational on f');
    close(out[1], g(0.1), 1e-5, 'rational on 1/(1+x)');
    const lin = linearExtrapolateInto(new Float32Array(2), points[0].data, points[1].data, (0.1 - 0.3) / (0.3 - 0.45), 1);
    assert.ok(Math.abs(lin[0] - f(0.1)) > 0.01 && Math.abs(lin[1] - g(0.1)) > 0.01, 'linear extrapolation should miss the rational curves');
  });

  it('rational falls back to linear where the pole lies between the newest node and the target', () => {
    // f = 1/(x − 0.2): pole at 0.2, between 0.3 (newest) and the target 0.1.
    const f = (t: number): number => 1 / (t - 0.2);
    const points = [0.3, 0.4, 0.5].map((c) => ({ coord: c, data: Float32Array.of(f(c)) })); // newest first
    const out = new Float32Array(1);
    assert.equal(rationalExtrapolateInto(out, points, 0.1, 1), 1);
    close(out[0], f(0.3) + ((0.1 - 0.3) / (0.3 - 0.4)) * (f(0.3) - f(0.4)), 1e-5, 'linear fallback');
  });

  it('least-squares weights reproduce a quadratic exactly and sum to 1', () => {
    const q = (t: number): number => 1 - 2 * t + 3 * t * t;
    const coords = [0.4, 0.5, 0.65, 0.9];
    const w = leastSquaresWeights(coords, 0.2, 2);
    close(w.reduce((a, b) => a + b, 0), 1, 1e-9, 'weights sum');
    close(w.reduce((acc, wk, k) => acc + wk * q(coords[k]), 0), q(0.2), 1e-9, 'lsq on a quadratic');
  });
});

describe('reuse methods on constants', () => {
  it('fora predicts input + the stored residual exactly when the residual is constant', () => {
    const method = createCacheMethod('fora', 'n3');
    const taus = [0.9, 0.6, 0.4];
    const c = createRequestCache(method, { totalSteps: 3, taus, sections: 1 }, ['cond'], 1).get('cond', 0);
    const residual = Float32Array.of(0.5, -1.25, 3);
    const step0 = { stepIndex: 0, totalSteps: 3, tau: taus[0] };
    assert.equal(c.decide(step0, {}).compute, true);
    const x0 = Float32Array.of(1, 2, 3);
    c.observe(step0, 0, x0, Float32Array.from(x0, (v, i) => v + residual[i]), true);
    const step1 = { stepIndex: 1, totalSteps: 3, tau: taus[1] };
    assert.deepEqual(c.decide(step1, {}), { compute: false, reason: 'schedule' });
    const x1 = Float32Array.of(-4, 0.5, 8);
    assert.deepEqual(c.predict(step1, 0, x1), Float32Array.from(x1, (v, i) => v + residual[i]));
  });
});
