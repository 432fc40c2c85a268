// The error-estimate gate (an option of `tcpade`): its signal is the quadratic term a linear
// extrapolation would miss, relative to the newest residual — exact on a known quadratic trajectory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCacheMethod } from '../../src/cache/index.js';
import { drive } from './drive.js';

describe('tcpade error gate', () => {
  // R(τ) = (1 + 2τ + 3τ²)·u for a fixed direction u; uneven taus.
  const taus = [1, 0.9, 0.75, 0.6, 0.5, 0.35];
  const u = Float32Array.from([1, -2, 0.5, 3]);
  const residual = (_s: number, t: number): Float32Array => Float32Array.from(u, (v) => v * (1 + 2 * t + 3 * t * t));
  const settings = { gate: 'error', spacing: 'tau', interval: 1000, intervalMode: 'since-compute', warmupSteps: 3, finalSteps: 0, earlyFraction: 0, lateFraction: 1, extrapolation: 'lsq', lsqDegree: 2, damping: 'none' };

  // history is stored in float32, hence the 1e-5 relative tolerance
  it('signal = |c·(τ − τ0)(τ − τ1)| · ‖u‖ / ‖R(τ0)‖ at the first gated step', () => {
    const steps = drive(createCacheMethod('tcpade', 'fast', { ...settings, errorThreshold: 1e9 }), { taus, residual });
    const d = steps[3].decision;
    assert.equal(d.reason, 'error-estimate');
    const [t0, t1, t] = [taus[2], taus[1], taus[3]];
    // f[x0,x1,x2] of a quadratic is its leading coefficient (3·u); ‖R1‖ = (1 + 2τ0 + 3τ0²)·‖u‖
    const expected = (3 * Math.abs((t - t0) * (t - t1))) / (1 + 2 * t0 + 3 * t0 * t0);
    assert.ok(Math.abs(d.signal! - expected) < 1e-5 * expected, `signal ${d.signal} vs ${expected}`);
    assert.equal(d.compute, false);
    // and the quadratic extrapolation is exact on a quadratic
    const r = residual(3, t);
    steps[3].output.forEach((v, i) => assert.ok(Math.abs(v - r[i]) < 1e-5));
  });

  it('computes when the estimate reaches the threshold', () => {
    const steps = drive(createCacheMethod('tcpade', 'fast', { ...settings, errorThreshold: 1e-3 }), { taus, residual });
    assert.ok(steps.slice(3).every((s) => s.decision.compute && s.decision.reason === 'error-estimate'));
  });
});
