// The ops the Wan video VAE added (Conv3d, L2Normalize): ONNX lowering equals the float64 reference for the
// geometries the VAE uses, and the references equal independent hand computations. Inference-only ops: no
// gradient rules, so no finite-difference checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpCase, assertClose, checkLowering } from './harness.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { interpret } from '../../src/graph/interpret.js';

const conv3d = (g: GraphBuilder, x: Parameters<GraphBuilder['op']>[1][number], w: Parameters<GraphBuilder['op']>[1][number], b: Parameters<GraphBuilder['op']>[1][number] | undefined, strides: number[], pads: number[]) =>
  g.op('Conv3d', b ? [x, w, b] : [x, w], { strides, pads })[0];

const cases: OpCase[] = [
  {
    name: 'Conv3d 3×3×3, H/W padded both sides, no time padding (a causal conv after its history)',
    params: [{ name: 'x', shape: [1, 3, 4, 4, 5] }, { name: 'w', shape: [2, 3, 3, 3, 3] }, { name: 'b', shape: [2] }],
    build: (g, [x, w, b]) => conv3d(g, x, w, b, [1, 1, 1], [0, 1, 1, 0, 1, 1]),
    noGrad: true,
  },
  {
    name: 'Conv3d 3×3×3 with causal time padding (2 in front, 0 behind)',
    params: [{ name: 'x', shape: [2, 2, 3, 3, 3] }, { name: 'w', shape: [3, 2, 3, 3, 3] }],
    build: (g, [x, w]) => conv3d(g, x, w, undefined, [1, 1, 1], [2, 1, 1, 0, 1, 1]),
    noGrad: true,
  },
  {
    name: 'Conv3d 3×1×1 stride 2 in time (the encoder time_conv)',
    params: [{ name: 'x', shape: [1, 4, 5, 2, 3] }, { name: 'w', shape: [4, 4, 3, 1, 1] }, { name: 'b', shape: [4] }],
    build: (g, [x, w, b]) => conv3d(g, x, w, b, [2, 1, 1], [0, 0, 0, 0, 0, 0]),
    noGrad: true,
  },
  {
    name: 'Conv3d 1×3×3 stride 2 in H/W, padded right/bottom (the per-frame downsampler)',
    params: [{ name: 'x', shape: [1, 2, 2, 6, 4] }, { name: 'w', shape: [3, 2, 1, 3, 3] }, { name: 'b', shape: [3] }],
    build: (g, [x, w, b]) => conv3d(g, x, w, b, [1, 2, 2], [0, 0, 0, 0, 1, 1]),
    noGrad: true,
  },
  {
    name: 'Conv3d 1×1×1 (shortcut, quant convs) over a symbolic batch',
    params: [{ name: 'w', shape: [2, 3, 1, 1, 1] }, { name: 'b', shape: [2] }],
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', 3, 2, 2, 2], data: Array.from({ length: 48 }, (_, i) => Math.cos(i)), concrete: [2, 3, 2, 2, 2] }],
    build: (g, [w, b], [x]) => conv3d(g, x, w, b, [1, 1, 1], [0, 0, 0, 0, 0, 0]),
    noGrad: true,
  },
  {
    name: 'L2Normalize over channels of [N, C, T, H, W]',
    params: [{ name: 'x', shape: [2, 5, 2, 3, 2] }],
    build: (g, [x]) => g.op('L2Normalize', [x], { axis: 1, epsilon: 1e-12 })[0],
    noGrad: true,
  },
  {
    name: 'L2Normalize over the last axis, negative axis index',
    params: [{ name: 'x', shape: [3, 4] }],
    build: (g, [x]) => g.op('L2Normalize', [x], { axis: -1, epsilon: 1e-6 })[0],
    noGrad: true,
  },
];

describe('Wan VAE ops: ONNX lowering matches the reference interpreter', () => {
  for (const c of cases) it(c.name, () => checkLowering(c));
});

describe('Conv3d reference', () => {
  it('equals a hand computation: 2 frames × 2×2 input, 2×1×2 kernel, one time pad in front', () => {
    // x[t][i][j] = 1 + t·4 + i·2 + j (frame 0: [[1, 2], [3, 4]], frame 1: [[5, 6], [7, 8]]); w[a][0][q] = 10·a + q + 1
    // (taps at time offsets a = 0, 1 over [zeros, frame 0, frame 1]; a 1×2 window along W). Output [2, 2, 1]:
    // y[t][i] = Σ_a Σ_q w[a][q] · x_padded[t + a][i][q] + b, b = 0.5.
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    const w = [1, 2, 11, 12];
    const xp = (t: number, i: number, q: number): number => (t === 0 ? 0 : x[(t - 1) * 4 + i * 2 + q]);
    const expected: number[] = [];
    for (let t = 0; t < 2; t++)
      for (let i = 0; i < 2; i++) {
        let s = 0.5;
        for (let a = 0; a < 2; a++) for (let q = 0; q < 2; q++) s += w[a * 2 + q] * xp(t + a, i, q);
        expected.push(s);
      }
    assert.deepEqual(expected, [0.5 + 11 + 24, 0.5 + 33 + 48, 0.5 + 1 + 4 + 55 + 72, 0.5 + 3 + 8 + 77 + 96]);
    const g = new GraphBuilder('conv3d_hand');
    const xs = g.param('x', [1, 1, 2, 2, 2], Float32Array.from(x));
    g.output('y', conv3d(g, xs, g.param('w', [1, 1, 2, 1, 2], Float32Array.from(w)), g.param('b', [1], Float32Array.of(0.5)), [1, 1, 1], [1, 0, 0, 0, 0, 0]));
    const y = interpret(g.build(), {}).y;
    assert.deepEqual(y.shape, [1, 1, 2, 2, 1]);
    assertClose(y.data, expected, 0, 0, 'Conv3d reference vs hand computation');
  });

  it('refuses mismatched channels and a kernel longer than the padded input, naming both', () => {
    const g = new GraphBuilder('conv3d_bad');
    const x = g.input('x', 'float32', [1, 3, 2, 4, 4]);
    assert.throws(() => conv3d(g, x, g.param('w', [2, 4, 3, 3, 3]), undefined, [1, 1, 1], [0, 1, 1, 0, 1, 1]), /input channels 3 ≠ weight in-channels 4/);
    assert.throws(() => conv3d(g, x, g.param('w2', [2, 3, 3, 3, 3]), undefined, [1, 1, 1], [0, 1, 1, 0, 1, 1]), /axis 2 of x: float32\[1, 3, 2, 4, 4\] \(padded by 0 \+ 0\) is shorter than the kernel's 3/);
    assert.throws(() => conv3d(g, x, g.param('w3', [2, 3, 1, 1, 1]), undefined, [1, 1], [0, 0, 0, 0, 0, 0]), /strides must be 3 positive integers/);
  });
});

describe('L2Normalize reference', () => {
  it('divides by the norm along the axis, floored at epsilon (F.normalize), by hand', () => {
    // [1, 2, 2, 1] over axis 1: pixel 0 has channels (3, 4) → norm 5; pixel 1 has (0, 0) → stays 0;
    // with epsilon 0.5, a vector of norm 0.25 is divided by 0.5, not by its norm.
    const g = new GraphBuilder('l2_hand');
    const x = g.param('x', [1, 2, 2, 1], Float32Array.from([3, 0, 4, 0]));
    g.output('y', g.op('L2Normalize', [x], { axis: 1, epsilon: 1e-12 })[0]);
    const small = g.param('s', [2], Float32Array.from([0.15, 0.2]));
    g.output('z', g.op('L2Normalize', [small], { axis: 0, epsilon: 0.5 })[0]);
    const out = interpret(g.build(), {});
    assertClose(out.y.data, [0.6, 0, 0.8, 0], 1e-7, 0, 'L2Normalize vs hand computation');
    assertClose(out.z.data, [0.3, 0.4], 1e-7, 0, 'L2Normalize below epsilon');
  });

  it('refuses an axis out of range and a non-positive epsilon', () => {
    const g = new GraphBuilder('l2_bad');
    const x = g.input('x', 'float32', [2, 3]);
    assert.throws(() => g.op('L2Normalize', [x], { axis: 2, epsilon: 1e-12 }), /axis 2 is out of range/);
    assert.throws(() => g.op('L2Normalize', [x], { axis: 1, epsilon: 0 }), /epsilon must be positive, got 0/);
  });
});
