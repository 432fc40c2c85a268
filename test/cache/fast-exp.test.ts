// The reference variant's fast e^x for x ≤ 0 stays within float32 resolution of Math.exp.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { expNonPositive } from '../../src/cache/tcpade-reference.js';

it('expNonPositive matches Math.exp to < 2e-7 relative on [−745, 0], 0 below, NaN stays NaN', () => {
  let worst = 0;
  for (let i = 0; i <= 200000; i++) {
    const x = -745 * (i / 200000) ** 3; // dense near 0, where σ lives
    const e = Math.exp(x);
    if (e === 0) continue;
    worst = Math.max(worst, Math.abs(expNonPositive(x) - e) / e);
  }
  assert.ok(worst < 2e-7, `worst relative error ${worst}`);
  assert.equal(expNonPositive(0), 1);
  assert.equal(expNonPositive(-800), 0);
  assert.ok(Number.isNaN(expNonPositive(NaN)));
});
