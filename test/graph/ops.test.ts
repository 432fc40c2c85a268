// Every op: ONNX lowering equals the float64 reference; every gradient rule equals finite differences.
import { describe, it } from 'node:test';
import { OpCase, assertClose, checkGradient, checkLowering, makeParams } from './harness.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { interpret } from '../../src/graph/interpret.js';

const pos = (u: number): number => 0.2 + 2 * u; // strictly positive inputs for log/sqrt/div
const awayFromZero = (u: number): number => (u < 0.5 ? -0.3 - u : 0.3 + (u - 0.5)); // avoid kinks at 0

const cases: OpCase[] = [
  { name: 'Add broadcast', params: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [3, 1] }], build: (g, [a, b]) => g.add(a, b) },
  { name: 'Sub broadcast', params: [{ name: 'a', shape: [4] }, { name: 'b', shape: [2, 4] }], build: (g, [a, b]) => g.sub(a, b) },
  { name: 'Mul broadcast', params: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 1] }], build: (g, [a, b]) => g.mul(a, b) },
  { name: 'Div', params: [{ name: 'a', shape: [3, 2] }, { name: 'b', shape: [2], gen: pos }], build: (g, [a, b]) => g.div(a, b) },
  { name: 'Neg', params: [{ name: 'a', shape: [5] }], build: (g, [a]) => g.neg(a) },
  { name: 'Exp', params: [{ name: 'a', shape: [5] }], build: (g, [a]) => g.exp(a) },
  { name: 'Log', params: [{ name: 'a', shape: [5], gen: pos }], build: (g, [a]) => g.log(a) },
  { name: 'Sqrt', params: [{ name: 'a', shape: [5], gen: pos }], build: (g, [a]) => g.sqrt(a) },
  { name: 'Tanh', params: [{ name: 'a', shape: [5] }], build: (g, [a]) => g.tanh(a) },
  { name: 'Sigmoid', params: [{ name: 'a', shape: [5] }], build: (g, [a]) => g.sigmoid(a) },
  { name: 'Sin', params: [{ name: 'a', shape: [5] }], build: (g, [a]) => g.sin(a) },
  { name: 'Cos', params: [{ name: 'a', shape: [5] }], build: (g, [a]) => g.cos(a) },
  { name: 'Abs', params: [{ name: 'a', shape: [6], gen: awayFromZero }], build: (g, [a]) => g.abs(a) },
  { name: 'Relu', params: [{ name: 'a', shape: [6], gen: awayFromZero }], build: (g, [a]) => g.relu(a) },
  { name: 'GeluTanh', params: [{ name: 'a', shape: [7], gen: (u) => 6 * u - 3 }], build: (g, [a]) => g.gelu(a) },
  { name: 'SiLU', params: [{ name: 'a', shape: [7], gen: (u) => 6 * u - 3 }], build: (g, [a]) => g.silu(a) },
  {
    name: 'Where/Greater',
    params: [{ name: 'a', shape: [2, 3], gen: awayFromZero }, { name: 'b', shape: [3] }],
    build: (g, [a, b]) => g.where(g.greater(a, g.scalar(0)), a, b),
  },
  { name: 'MatMul 2D', params: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 5] }], build: (g, [a, b]) => g.matmul(a, b) },
  { name: 'MatMul batched x weight', params: [{ name: 'a', shape: [2, 3, 4] }, { name: 'w', shape: [4, 2] }], build: (g, [a, b]) => g.matmul(a, b) },
  { name: 'MatMul batched x batched', params: [{ name: 'a', shape: [2, 2, 3, 4] }, { name: 'b', shape: [2, 2, 4, 3] }], build: (g, [a, b]) => g.matmul(a, b) },
  { name: 'MatMul broadcast batch', params: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [1, 4, 3] }], build: (g, [a, b]) => g.matmul(a, b) },
  ...[[0, 0], [1, 0], [0, 1], [1, 1]].map(([tA, tB]): OpCase => ({
    name: `Gemm transA=${tA} transB=${tB}`,
    params: [{ name: 'a', shape: tA ? [4, 3] : [3, 4] }, { name: 'b', shape: tB ? [5, 4] : [4, 5] }, { name: 'c', shape: [5] }],
    build: (g, [a, b, c]) => g.gemm(a, b, { transA: tA, transB: tB, alpha: 0.7, beta: 1.3 }, c),
  })),
  { name: 'Reshape', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.reshape(a, [0, -1, 2]) },
  { name: 'Transpose', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.transpose(a, [2, 0, 1]) },
  { name: 'Concat', params: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 2] }], build: (g, [a, b]) => g.concat([a, b], 1) },
  { name: 'Slice', params: [{ name: 'a', shape: [4, 5] }], build: (g, [a]) => g.slice(a, [0, 1], [1, -4], [3, 5]) },
  {
    name: 'Split (one part unused)',
    params: [{ name: 'a', shape: [2, 6] }],
    build: (g, [a]) => {
      const [p, , r] = g.split(a, 1, [1, 2, 3]);
      return g.add(g.mul(p, g.scalar(2)), r);
    },
  },
  { name: 'Pad', params: [{ name: 'a', shape: [2, 3] }], build: (g, [a]) => g.pad(a, [1, 0, 0, 2]) },
  {
    name: 'Gather (embedding)',
    params: [{ name: 'table', shape: [5, 3] }],
    inputs: [{ name: 'idx', dtype: 'int64', shape: [3], data: [4, 1, 4], concrete: [3] }],
    build: (g, [t], [idx]) => g.gather(t, idx, 0),
  },
  { name: 'ReduceSum', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.reduceSum(a, [0, 2], true) },
  { name: 'ReduceSum no keepdims', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.reduceSum(a, [1], false) },
  { name: 'ReduceMean', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.reduceMean(a, [-1], true) },
  {
    name: 'ReduceMean over a dynamic batch',
    params: [{ name: 'a', shape: [3] }],
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', 3], data: [1, 2, 3, 4, 5, 6], concrete: [2, 3] }],
    build: (g, [a], [x]) => g.reduceMean(g.mul(x, a), [0, 1], false),
  },
  { name: 'LayerNorm no affine', params: [{ name: 'x', shape: [3, 6] }], build: (g, [x]) => g.layerNorm(x, 1e-6) },
  {
    name: 'LayerNorm affine',
    params: [{ name: 'x', shape: [2, 2, 5] }, { name: 's', shape: [5] }, { name: 'b', shape: [5] }],
    build: (g, [x, s, b]) => g.layerNorm(x, 1e-5, s, b),
  },
  { name: 'LayerNorm composed', params: [{ name: 'x', shape: [3, 6] }], build: (g, [x]) => g.layerNormComposed(x, 1e-6) },
  { name: 'Softmax', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.softmax(a, -1) },
  { name: 'Softmax axis 1', params: [{ name: 'a', shape: [2, 3, 4] }], build: (g, [a]) => g.softmax(a, 1) },
  {
    name: 'Conv patchify (stride = kernel)',
    params: [{ name: 'x', shape: [2, 2, 4, 4] }, { name: 'w', shape: [3, 2, 2, 2] }, { name: 'b', shape: [3] }],
    build: (g, [x, w, b]) => g.conv(x, w, b, { strides: [2, 2] }),
  },
  {
    name: 'Conv 3x3 padded',
    params: [{ name: 'x', shape: [1, 2, 5, 5] }, { name: 'w', shape: [2, 2, 3, 3] }],
    build: (g, [x, w]) => g.conv(x, w, undefined, { strides: [1, 1], pads: [1, 1, 1, 1] }),
  },
  {
    name: 'Conv 3x3 stride 2 (odd size)',
    params: [{ name: 'x', shape: [1, 1, 6, 6] }, { name: 'w', shape: [2, 1, 3, 3] }],
    build: (g, [x, w]) => g.conv(x, w, undefined, { strides: [2, 2], pads: [0, 0, 1, 1] }),
  },
  { name: 'Equal/Less (no gradient)', params: [{ name: 'a', shape: [4] }], noGrad: true, build: (g, [a]) => g.cast(g.less(a, g.scalar(0)), 'float32') },
];

describe('ops: ONNX lowering matches the reference interpreter (forward and backward graphs)', () => {
  for (const c of cases) it(c.name, () => checkLowering(c));
});

describe('ops: gradient rules match central finite differences (float64)', () => {
  for (const c of cases.filter((x) => !x.noGrad)) it(c.name, () => checkGradient(c));
});

describe('LayerNorm: the composed form computes the same function as the primitive', () => {
  it('float64 reference: equal to 1e-12 with affine scale and bias', () => {
    const data = makeParams({ name: 'ln', params: [{ name: 'x', shape: [3, 7] }, { name: 's', shape: [7] }, { name: 'b', shape: [7] }], build: (g) => g.scalar(0) });
    const g = new GraphBuilder('ln');
    const [x, sc, b] = [g.param('x', [3, 7], data[0]), g.param('s', [7], data[1]), g.param('b', [7], data[2])];
    g.output('prim', g.layerNorm(x, 1e-5, sc, b));
    g.output('comp', g.layerNormComposed(x, 1e-5, sc, b));
    const r = interpret(g.build(), {});
    assertClose(r.comp.data, r.prim.data, 1e-12, 1e-12, 'composed vs primitive LayerNorm');
  });
});
