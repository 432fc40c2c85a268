// The ops the VAE added (GroupNorm, UpsampleNearest, UpsampleConv): ONNX lowering equals the float64 reference, the
// gradient rules equal finite differences, and the references equal independent hand computations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpCase, assertClose, checkGradient, checkLowering } from './harness.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { interpret } from '../../src/graph/interpret.js';
import { refTensor } from '../../src/graph/reftensor.js';
import { CompiledGraph } from '../../src/runtime/session.js';

const cases: OpCase[] = [
  { name: 'GroupNorm no affine', params: [{ name: 'x', shape: [2, 4, 3, 3] }], build: (g, [x]) => g.groupNorm(x, 2, 1e-6) },
  {
    name: 'GroupNorm affine (groups = channels/3)',
    params: [{ name: 'x', shape: [2, 6, 2, 3] }, { name: 's', shape: [6] }, { name: 'b', shape: [6] }],
    build: (g, [x, s, b]) => g.groupNorm(x, 2, 1e-5, s, b),
  },
  {
    name: 'GroupNorm scale only, one group (whole-sample norm)',
    params: [{ name: 'x', shape: [1, 3, 2, 2] }, { name: 's', shape: [3] }],
    build: (g, [x, s]) => g.groupNorm(x, 1, 1e-6, s),
  },
  { name: 'GroupNorm rank 3 [N, C, L]', params: [{ name: 'x', shape: [2, 4, 5] }], build: (g, [x]) => g.groupNorm(x, 4, 1e-6) },
  {
    name: 'GroupNorm over a dynamic batch',
    params: [{ name: 's', shape: [4] }, { name: 'b', shape: [4] }],
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', 4, 2, 2], data: Array.from({ length: 32 }, (_, i) => Math.sin(i * 1.7)), concrete: [2, 4, 2, 2] }],
    // Averaged over the batch so the output (and the harness's loss weights) have a known shape.
    build: (g, [s, b], [x]) => g.reduceMean(g.groupNorm(g.mul(x, g.reshape(s, [4, 1, 1])), 2, 1e-6, s, b), [0], false),
  },
  { name: 'UpsampleNearest x2', params: [{ name: 'x', shape: [2, 3, 2, 3] }], build: (g, [x]) => g.upsampleNearest(x, 2) },
  { name: 'UpsampleNearest x3', params: [{ name: 'x', shape: [1, 2, 3, 2] }], build: (g, [x]) => g.upsampleNearest(x, 3) },
  {
    name: 'UpsampleNearest then 3x3 conv (the VAE upsampler)',
    params: [{ name: 'x', shape: [1, 2, 3, 3] }, { name: 'w', shape: [2, 2, 3, 3] }, { name: 'b', shape: [2] }],
    build: (g, [x, w, b]) => g.conv(g.upsampleNearest(x, 2), w, b, { pads: [1, 1, 1, 1] }),
  },
  {
    name: 'UpsampleConv (phase convs + DepthToSpace) equals upsample then conv',
    params: [{ name: 'x', shape: [2, 3, 3, 4] }, { name: 'w', shape: [2, 3, 3, 3] }, { name: 'b', shape: [2] }],
    build: (g, [x, w, b]) => g.upsampleConv(x, w, b),
  },
  {
    name: 'UpsampleConv without bias, 1×1 input (every tap on the border)',
    params: [{ name: 'x', shape: [1, 2, 1, 1] }, { name: 'w', shape: [3, 2, 3, 3] }],
    build: (g, [x, w]) => g.upsampleConv(x, w),
  },
];

describe('VAE ops: ONNX lowering matches the reference interpreter (forward and backward graphs)', () => {
  for (const c of cases) it(c.name, () => checkLowering(c));
});

describe('VAE ops: gradient rules match central finite differences (float64)', () => {
  for (const c of cases) it(c.name, () => checkGradient(c));
});

describe('GroupNorm reference', () => {
  it('equals a hand computation: per (sample, group) mean/biased variance, then per-channel affine', () => {
    // x [1, 4, 1, 2], 2 groups: group 0 = channels 0,1 = [1, 2, 3, 4]; group 1 = channels 2,3 = [10, 10, 10, 14].
    const x = [1, 2, 3, 4, 10, 10, 10, 14];
    const scale = [1, 2, 3, 4];
    const bias = [0, 1, 0, -1];
    const r0 = 1 / Math.sqrt(1.25 + 1e-6); // mean 2.5, variance 1.25
    const r1 = 1 / Math.sqrt(3 + 1e-6); // mean 11, variance 3
    const expected = [
      -1.5 * r0 * 1 + 0, -0.5 * r0 * 1 + 0,
      0.5 * r0 * 2 + 1, 1.5 * r0 * 2 + 1,
      -1 * r1 * 3, -1 * r1 * 3,
      -1 * r1 * 4 - 1, 3 * r1 * 4 - 1,
    ];
    const g = new GraphBuilder('gn_hand');
    const xs = g.param('x', [1, 4, 1, 2], Float32Array.from(x));
    g.output('y', g.groupNorm(xs, 2, 1e-6, g.param('s', [4], Float32Array.from(scale)), g.param('b', [4], Float32Array.from(bias))));
    assertClose(interpret(g.build(), {}).y.data, expected, 1e-12, 1e-12, 'GroupNorm reference vs hand computation');
  });

  it('refuses a group count that does not divide the channels, naming both', () => {
    const g = new GraphBuilder('gn_bad');
    const x = g.input('x', 'float32', [1, 6, 2, 2]);
    assert.throws(() => g.groupNorm(x, 4, 1e-6), /4 groups do not divide the 6 channels/);
  });
});

describe('UpsampleNearest', () => {
  it('copies each pixel into an s×s block (PyTorch nearest), in ORT as in the reference', async () => {
    const g = new GraphBuilder('up_hand');
    const x = g.input('x', 'float32', ['B', 1, 2, 2]);
    g.output('y', g.upsampleNearest(x, 2));
    const graph = g.build();
    const data = [1, 2, 3, 4];
    const expected = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4];
    assert.deepEqual([...interpret(graph, { x: refTensor('float32', [1, 1, 2, 2], data) }).y.data], expected);
    const cg = await CompiledGraph.create(graph, { threads: 1 });
    try {
      const out = await cg.run({ x: { data: Float32Array.from(data), shape: [1, 1, 2, 2] } });
      assert.deepEqual([...(out.y.data as Float32Array)], expected);
      assert.deepEqual(out.y.shape, [1, 1, 4, 4]);
    } finally {
      await cg.release();
    }
  });
});
