// Erf and the exact GELU (used by text encoders whose config says hidden_act / dense_act_fn "gelu"):
// the float64 erf against published values, the ONNX lowering against the reference interpreter, and
// both gradient rules against central finite differences.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpCase, checkGradient, checkLowering } from './harness.js';
import { erf } from '../../src/graph/ops/erf.js';

const cases: OpCase[] = [
  { name: 'Erf', params: [{ name: 'a', shape: [9], gen: (u) => 7 * u - 3.5 }], build: (g, [a]) => g.erf(a) },
  { name: 'GeluErf', params: [{ name: 'a', shape: [9], gen: (u) => 8 * u - 4 }], build: (g, [a]) => g.geluErf(a) },
];

describe('Erf / GeluErf ops', () => {
  it('erf matches tabulated values to 1e-14 on both sides of the series / continued-fraction switch', () => {
    // erf values as CPython's math.erf gives them (correctly rounded to ~1 ulp)
    const table: [number, number][] = [
      [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [1.5, 0.9661051464753108],
      [1.999, 0.9953015566513705], [2, 0.9953222650189527], [2.5, 0.9995930479825550], [3, 0.9999779095030014], [4, 0.9999999845827421], [5.5, 0.9999999999999927],
    ];
    for (const [x, want] of table) {
      assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)}, expected ${want}`);
      assert.ok(Math.abs(erf(-x) + want) < 1e-14, `erf(${-x}) = ${erf(-x)}, expected ${-want}`);
    }
    // the complement where 1 − erf loses digits: erfc(3) = 2.209049699858544e-5
    assert.ok(Math.abs(1 - erf(3) - 2.209049699858544e-5) < 1e-15);
  });
  for (const c of cases) {
    it(`${c.name}: ONNX lowering matches the reference`, () => checkLowering(c));
    it(`${c.name}: gradient matches finite differences`, () => checkGradient(c));
  }
});
