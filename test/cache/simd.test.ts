// The wasm SIMD cache kernels against their plain-JS twins and float64 references, and the shipped
// module against its .wat source.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { createWasmKernels, jsKernels, type Kernels } from '../../src/cache/simd/kernels.js';
import { assembleKernels, KERNELS_TS_PATH, kernelsModuleSource } from '../../scripts/wasm-kernels.js';
import { seededRandom } from '../support/prng.js';

const wasm = createWasmKernels();

it('the shipped kernels-wasm.ts is kernels.wat assembled (run `npm run build:wasm` after editing the .wat)', async () => {
  assert.equal(fs.readFileSync(KERNELS_TS_PATH, 'utf8'), kernelsModuleSource(await assembleKernels()));
});

it('wasm SIMD runs on this Node (so the suite below tests it, not only the fallback)', () => {
  assert.ok(wasm !== null);
});

function randomVec(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * 8);
}

const close = (a: number, b: number, rel: number): boolean => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

for (const k of [jsKernels, wasm].filter((x): x is Kernels => x !== null)) {
  describe(`${k.name} kernels`, () => {
    const lengths = [1, 3, 4, 5, 63, 12545];

    it('linearCombinationInto = base + Σ w·t (float64 reference) for 1–6 terms and odd lengths', () => {
      for (const n of lengths) {
        const terms = [1, 2, 3, 4, 5, 6].map((s) => randomVec(n, s * 31 + n));
        const base = randomVec(n, 99);
        const w = [1.5, -0.25, 0.125, 2, -1, 0.5];
        for (let m = 1; m <= 6; m++) {
          for (const b of [undefined, base]) {
            const out = k.linearCombinationInto(new Float32Array(n), terms.slice(0, m), w.slice(0, m), b);
            for (let i = 0; i < n; i++) {
              const want = (b ? b[i] : 0) + terms.slice(0, m).reduce((s, t, j) => s + w[j] * t[i], 0);
              assert.ok(close(out[i], want, 1e-5), `n=${n} m=${m} base=${!!b} i=${i}: ${out[i]} vs ${want}`);
            }
          }
        }
      }
    });

    it('linearCombinationInto may write into its base; subInto into an operand', () => {
      const a = Float32Array.from([1, 2, 3, 4, 5]);
      k.linearCombinationInto(a, [Float32Array.from([1, 1, 1, 1, 1])], [2], a);
      assert.deepEqual([...a], [3, 4, 5, 6, 7]);
      const b = Float32Array.from([1, 1, 1, 1, 1]);
      k.subInto(a, a, b);
      assert.deepEqual([...a], [2, 3, 4, 5, 6]);
    });

    it('subInto and addCheckedInto are exact', () => {
      for (const n of lengths) {
        const [a, b] = [randomVec(n, 1), randomVec(n, 2)];
        const out = k.subInto(new Float32Array(n), a, b);
        out.forEach((v, i) => assert.equal(v, Math.fround(a[i] - b[i])));
        const sum = new Float32Array(n);
        assert.equal(k.addCheckedInto(sum, a, b), true);
        sum.forEach((v, i) => assert.equal(v, Math.fround(a[i] + b[i])));
      }
    });

    it('sums of squares match float64 sums to 1e-12 relative, and padding lanes add nothing', () => {
      for (const n of lengths) {
        const [a, b, c, d] = [1, 2, 3, 4].map((s) => randomVec(n, s + 7 * n));
        const rows = [
          [1, -1, 0, 0],
          [0.3, 1.7, -2, 0.5],
        ];
        const got = k.sumSquaresOfCombinations([a, b, c, d], rows);
        rows.forEach((row, r) => {
          let want = 0;
          for (let i = 0; i < n; i++) want += (row[0] * a[i] + row[1] * b[i] + row[2] * c[i] + row[3] * d[i]) ** 2;
          assert.ok(close(got[r], want, 1e-12), `n=${n} row ${r}: ${got[r]} vs ${want}`);
        });
        const [m] = k.sumSquaresOfMoves(a, b, c, [[0.7, -1.3]]);
        let want = 0;
        for (let i = 0; i < n; i++) want += (0.7 * (a[i] - b[i]) - 1.3 * (b[i] - c[i])) ** 2;
        assert.ok(close(m, want, 1e-12), `moves n=${n}: ${m} vs ${want}`);
      }
    });

    it('sumSquaresOfMoves is exactly 0 for equal moves weighted equal and opposite (a straight line)', () => {
      const line = [0, 1, 2].map((j) => Float32Array.from({ length: 9 }, (_, i) => 2 * i - j * 0.5));
      assert.equal(k.sumSquaresOfMoves(line[0], line[1], line[2], [[1, -1]])[0], 0);
    });

    it('allFinite finds NaN and ±Inf at any position, including the last partial lane group', () => {
      for (const n of [1, 5, 8, 13]) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          for (let p = 0; p < n; p++) {
            const a = randomVec(n, p);
            assert.equal(k.allFinite(a), true);
            a[p] = bad;
            assert.equal(k.allFinite(a), false, `n=${n} value ${bad} at ${p}`);
          }
        }
      }
      assert.equal(k.allFinite(Float32Array.from([3e38, 3e38])), true, 'large finite values are finite');
    });
  });
}

describe('relativeL1Sums: wasm equals float64 sums', () => {
  it('Σ|a − b| and Σ|b| over odd lengths', () => {
    for (const k of [jsKernels, wasm].filter((x): x is Kernels => x !== null)) {
      for (const n of [1, 6, 12545]) {
        const [a, b] = [randomVec(n, 3), randomVec(n, 4)];
        const [d, s] = k.relativeL1Sums(a, b);
        let wd = 0;
        let ws = 0;
        for (let i = 0; i < n; i++) {
          wd += Math.abs(a[i] - b[i]);
          ws += Math.abs(b[i]);
        }
        assert.ok(close(d, wd, 1e-12) && close(s, ws, 1e-12), `${k.name} n=${n}: ${d}, ${s} vs ${wd}, ${ws}`);
      }
    }
  });
});

describe('trajectorySums: one float64 pass = the four sums taken separately', () => {
  it('‖d1‖², ‖d2‖², ⟨d1, d2⟩, ‖a0 + a1‖² over odd lengths, wasm and JS', () => {
    for (const k of [jsKernels, wasm].filter((x): x is Kernels => x !== null)) {
      for (const n of [1, 7, 12545]) {
        const [a0, a1, a2] = [randomVec(n, 5), randomVec(n, 6), randomVec(n, 7)];
        const want = [0, 0, 0, 0];
        for (let i = 0; i < n; i++) {
          const d1 = a0[i] - a1[i];
          const d2 = a1[i] - a2[i];
          want[0] += d1 * d1;
          want[1] += d2 * d2;
          want[2] += d1 * d2;
          want[3] += (a0[i] + a1[i]) ** 2;
        }
        k.trajectorySums(a0, a1, a2).forEach((v, j) => assert.ok(close(v, want[j], 1e-12), `${k.name} n=${n} sum ${j}: ${v} vs ${want[j]}`));
      }
    }
  });
});

describe('checked kernels report finiteness of what they made', () => {
  it('linearCombinationCheckedInto, subCheckedInto, addCheckedInto: NaN, ±Inf and overflow → false', () => {
    for (const k of [jsKernels, wasm].filter((x): x is Kernels => x !== null)) {
      for (const n of [5, 12545]) {
        const a = randomVec(n, 1);
        const b = randomVec(n, 2);
        const out = new Float32Array(n);
        assert.equal(k.linearCombinationCheckedInto(out, [a, b], [1, -2]), true, `${k.name} n=${n}`);
        assert.deepEqual(out, k.linearCombinationInto(new Float32Array(n), [a, b], [1, -2]));
        assert.equal(k.subCheckedInto(out, a, b), true);
        for (const bad of [NaN, Infinity, -Infinity]) {
          const c = Float32Array.from(a);
          c[n - 1] = bad;
          assert.equal(k.linearCombinationCheckedInto(out, [c], [0.5], b), false, `${k.name} n=${n} ${bad}`);
          assert.equal(k.subCheckedInto(out, b, c), false, `${k.name} n=${n} ${bad}`);
          assert.equal(k.addCheckedInto(out, c, b), false, `${k.name} n=${n} ${bad}`);
        }
        const big = new Float32Array(n).fill(3e38);
        assert.equal(k.linearCombinationCheckedInto(out, [big, big], [1, 1]), false, 'overflow to Inf');
        assert.equal(k.addCheckedInto(out, big, big), false, 'overflow to Inf');
        assert.equal(k.subCheckedInto(out, big, Float32Array.from(big, (v) => -v)), false, 'overflow to Inf');
      }
    }
  });
});
