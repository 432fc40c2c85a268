// ours' 'auto' extrapolation order: the backtest on the newest residual picks the quadratic where the
// trajectory curves, the linear form where it does not (ties go to the simpler form).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autoOrderSettings, createCacheMethod, tcPadePredictInto, type TcPadeSettings } from '../../src/cache/index.js';

const settings: TcPadeSettings = { ...(createCacheMethod('tcpade', 'fast').settings as unknown as TcPadeSettings), extrapolation: 'auto' };
const blendSettings: TcPadeSettings = { ...settings, extrapolation: 'auto-blend' };
const taus = [0.9, 0.7, 0.55, 0.3];
const history = (f: (t: number) => number[]) =>
  taus.map((tau, k) => ({ stepIndex: k, tau, data: Float32Array.from(f(tau)) })).reverse(); // newest first

describe('autoOrderSettings', () => {
  it('quadratic trajectory → quadratic (lsq degree 2 through three residuals)', () => {
    const s = autoOrderSettings(settings, history((t) => [1 + t + 4 * t * t, -2 * t * t]), 20);
    assert.deepEqual([s.extrapolation, s.lsqDegree, s.historySize], ['lsq', 2, 3]);
  });
  it('straight trajectory → linear; fewer than four residuals → linear', () => {
    assert.equal(autoOrderSettings(settings, history((t) => [1 + 3 * t, 2 - t]), 20).extrapolation, 'linear');
    assert.equal(autoOrderSettings(settings, history((t) => [t * t]).slice(0, 3), 20).extrapolation, 'linear');
  });
  it('a wiggle the quadratic overfits → linear', () => {
    // residual = straight line + a zig-zag on the oldest point, which bends the quadratic through it
    const h = history((t) => [2 * t + (t === 0.9 ? 0.5 : 0)]);
    assert.equal(autoOrderSettings(settings, h, 20).extrapolation, 'linear');
  });
});

describe("autoOrderSettings with 'auto-blend'", () => {
  it('quadratic trajectory → weight 0 on the linear form, and the blend then extrapolates it exactly', () => {
    const f = (t: number): number[] => [1 + t + 4 * t * t, -2 * t * t];
    const s = autoOrderSettings(blendSettings, history(f), 20);
    assert.equal(s.extrapolation, 'blend');
    assert.ok(Math.abs(s.linearWeight) < 1e-9, `w = ${s.linearWeight}`);
    const h = history(f).slice(0, 3);
    const out = tcPadePredictInto(new Float32Array(2), s, h, { stepIndex: 5, totalSteps: 20, tau: 0.1 });
    f(0.1).forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-5, `element ${i}: ${out[i]} vs ${v}`));
  });
  it('the weight minimises the backtest error ‖w·e_L + (1 − w)·e_Q‖ (brute force over w)', () => {
    const h = history((t) => [Math.exp(2 * t), Math.sin(5 * t), 1 / (1 + t)]);
    const s = autoOrderSettings(blendSettings, h, 20);
    // backtest by hand: predict the newest (tau 0.3) from the older three with linear and quadratic
    const [x1, x2, x3] = [0.55, 0.7, 0.9];
    const err = (w: number): number =>
      h[0].data.reduce((acc, truth, i) => {
        const [a, b, c] = [h[1].data[i], h[2].data[i], h[3].data[i]];
        const lin = a + ((0.3 - x1) / (x1 - x2)) * (a - b);
        const l1 = ((0.3 - x2) * (0.3 - x3)) / ((x1 - x2) * (x1 - x3));
        const l2 = ((0.3 - x1) * (0.3 - x3)) / ((x2 - x1) * (x2 - x3));
        const l3 = ((0.3 - x1) * (0.3 - x2)) / ((x3 - x1) * (x3 - x2));
        const quad = l1 * a + l2 * b + l3 * c;
        return acc + (w * lin + (1 - w) * quad - truth) ** 2;
      }, 0);
    let best = 0;
    for (let k = 0; k <= 1000; k++) if (err(k / 1000) < err(best)) best = k / 1000;
    assert.ok(Math.abs(s.linearWeight - best) < 2e-3, `w = ${s.linearWeight}, brute force ${best}`);
    assert.ok(s.linearWeight > 0 && s.linearWeight < 1, 'an interior optimum for this curve');
  });
});
