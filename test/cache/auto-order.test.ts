// ours' 'auto' extrapolation order: the backtest on the newest residual picks the quadratic where the
// trajectory curves, the linear form where it does not (ties go to the simpler form).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autoOrderSettings, createCacheMethod, type TcPadeSettings } from '../../src/cache/index.js';

const settings = createCacheMethod('tcpade', 'fast').settings as unknown as TcPadeSettings;
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
