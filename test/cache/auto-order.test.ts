// ours' 'auto' extrapolation order: the backtest on the newest residual picks the quadratic where the
// trajectory curves, the linear form where it does not (ties go to the simpler form).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blendWeight, createCacheMethod, extrapolationGains, resolveAutoExtrapolation, tcPadePredictInto, type TcPadeSettings } from '../../src/cache/index.js';

const autoOrderSettings = (s: TcPadeSettings, h: Parameters<typeof resolveAutoExtrapolation>[1]): TcPadeSettings => resolveAutoExtrapolation(s, h).settings;

const settings: TcPadeSettings = { ...(createCacheMethod('tcpade', 'fast').settings as unknown as TcPadeSettings), extrapolation: 'auto' };
const blendSettings: TcPadeSettings = { ...settings, extrapolation: 'auto-blend' };
const taus = [0.9, 0.7, 0.55, 0.3];
const history = (f: (t: number) => number[]) =>
  taus.map((tau, k) => ({ stepIndex: k, tau, data: Float32Array.from(f(tau)) })).reverse(); // newest first

describe("resolveAutoExtrapolation with 'auto'", () => {
  it('quadratic trajectory → quadratic (lsq degree 2 through three residuals)', () => {
    const s = autoOrderSettings(settings, history((t) => [1 + t + 4 * t * t, -2 * t * t]));
    assert.deepEqual([s.extrapolation, s.lsqDegree, s.historySize], ['lsq', 2, 3]);
  });
  it('straight trajectory → linear; fewer than four residuals → linear', () => {
    assert.equal(autoOrderSettings(settings, history((t) => [1 + 3 * t, 2 - t])).extrapolation, 'linear');
    assert.equal(autoOrderSettings(settings, history((t) => [t * t]).slice(0, 3)).extrapolation, 'linear');
  });
  it('a wiggle the quadratic overfits → linear', () => {
    // residual = straight line + a zig-zag on the oldest point, which bends the quadratic through it
    const h = history((t) => [2 * t + (t === 0.9 ? 0.5 : 0)]);
    assert.equal(autoOrderSettings(settings, h).extrapolation, 'linear');
  });
});

describe("resolveAutoExtrapolation with 'auto-blend'", () => {
  it('quadratic trajectory → weight 0 on the linear form, and the blend then extrapolates it exactly', () => {
    const f = (t: number): number[] => [1 + t + 4 * t * t, -2 * t * t];
    const s = autoOrderSettings(blendSettings, history(f));
    assert.equal(s.extrapolation, 'blend');
    assert.ok(Math.abs(s.linearWeight) < 1e-9, `w = ${s.linearWeight}`);
    const h = history(f).slice(0, 3);
    const out = tcPadePredictInto(new Float32Array(2), s, h, { stepIndex: 5, totalSteps: 20, tau: 0.1 });
    f(0.1).forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-5, `element ${i}: ${out[i]} vs ${v}`));
  });
  it('the weight minimises the backtest error ‖w·e_L + (1 − w)·e_Q‖ (brute force over w)', () => {
    const h = history((t) => [Math.exp(2 * t), Math.sin(5 * t), 1 / (1 + t)]);
    const s = autoOrderSettings(blendSettings, h);
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

describe('blendWeight: the backtest carried to the forecast by the extrapolations\' gains', () => {
  // backtest: R1 at 0.1 predicted from nodes 0.7, 0.5, 0.3 (even spacing h = 0.2, gap h)
  const gains = extrapolationGains([0.3, 0.5, 0.7], 0.1);
  const b = { linear2: 4, quadratic2: 1, gap2: 5, gains }; // e_L ⟂ e_Q
  it('gains are the L2 norms of the weights: √5 (2, −1) and √19 (3, −3, 1) one spacing ahead', () => {
    assert.ok(Math.abs(gains.linear - Math.sqrt(5)) < 1e-12);
    assert.ok(Math.abs(gains.quadratic - Math.sqrt(19)) < 1e-9);
  });
  it('at the backtest geometry it is the backtest least-squares weight ½ + (‖e_Q‖² − ‖e_L‖²)/(2‖e_L − e_Q‖²)', () => {
    assert.ok(Math.abs(blendWeight(b, gains) - (0.5 + (1 - 4) / (2 * 5))) < 1e-12);
  });
  it('shorter forecasts lean further to the quadratic (its gain falls faster), by the exact formula', () => {
    const nodes = [0.1, 0.3, 0.5];
    const [near, mid, far] = [0.05, 0.0, -0.1].map((t) => blendWeight(b, extrapolationGains(nodes, t)));
    assert.ok(near < mid && mid < far, `${near} < ${mid} < ${far}`);
    const f = extrapolationGains(nodes, 0.05);
    const c = f.quadratic / gains.quadratic / (f.linear / gains.linear);
    assert.ok(c < 1, 'a shorter gap shrinks the quadratic more');
    assert.ok(Math.abs(near - (c * c) / (4 + c * c)) < 1e-12); // ⟨e_L, e_Q⟩ = 0
  });
  it('both backtests exact → ½; the weight stays in [0, 1]', () => {
    assert.equal(blendWeight({ linear2: 0, quadratic2: 0, gap2: 0, gains }, gains), 0.5);
    assert.equal(blendWeight({ linear2: 0, quadratic2: 9, gap2: 9, gains }, gains), 1);
  });
});
