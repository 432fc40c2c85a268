// Matrix products: MatMul with NumPy batching (used for linear layers on [B, T, D] and attention)
// and 2-D Gemm with transposes (used by gradients, where it avoids explicit Transpose nodes).
import { Dim, GraphError, ValueType, describe } from '../ir.js';
import { broadcastShapes, dimEq } from '../dims.js';
import { RefTensor, broadcastIndex, refTensor } from '../reftensor.js';
import { numel } from '../dims.js';
import { aFloat, aInt, attrNum, defineOp } from './op.js';

function matmulShape(a: readonly Dim[], b: readonly Dim[], context: string): Dim[] {
  if (a.length < 2 || b.length < 2) throw new GraphError(`${context}: operands must have rank ≥ 2, got [${a}] and [${b}]`);
  const k1 = a[a.length - 1];
  const k2 = b[b.length - 2];
  if (!dimEq(k1, k2)) throw new GraphError(`${context}: inner dims differ: [${a.join(', ')}] @ [${b.join(', ')}] (${k1} vs ${k2})`);
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2), context);
  return [...batch, a[a.length - 2], b[b.length - 1]];
}

function matmulRef(a: RefTensor, b: RefTensor): RefTensor {
  const shape = matmulShape(a.shape, b.shape, 'MatMul') as number[];
  const m = a.shape[a.shape.length - 2];
  const k = a.shape[a.shape.length - 1];
  const n = b.shape[b.shape.length - 1];
  const batchShape = shape.slice(0, -2);
  const nb = numel(batchShape);
  const ia = broadcastIndex(a.shape.slice(0, -2), batchShape);
  const ib = broadcastIndex(b.shape.slice(0, -2), batchShape);
  const out = refTensor(a.dtype, shape);
  for (let bi = 0; bi < nb; bi++) {
    const ao = ia[bi] * m * k;
    const bo = ib[bi] * k * n;
    const oo = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = a.data[ao + i * k + p];
        for (let j = 0; j < n; j++) out.data[oo + i * n + j] += av * b.data[bo + p * n + j];
      }
    }
  }
  return out;
}

/** Swaps the last two axes (used by gradients of batched MatMul). */
function lastTwoPerm(rank: number): number[] {
  const p = [...Array(rank).keys()];
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

defineOp({
  type: 'MatMul',
  infer: (inputs) => {
    const [a, b] = inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new GraphError(`MatMul: float32 operands required, got ${describe(a)}, ${describe(b)}`);
    return [{ dtype: 'float32', shape: matmulShape(a.shape, b.shape, 'MatMul') }];
  },
  ref: ([a, b]) => [matmulRef(a, b)],
  lower: (node, ctx) => ctx.emit('MatMul', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])]),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined];
    const [a, b] = n.inputs;
    // 2-D weight on the right of a batched activation: dB = Σ_batch aᵀ·dy, done as one Gemm over flattened rows.
    if (b.shape.length === 2 && a.shape.length >= 2) {
      const k = a.shape[a.shape.length - 1];
      const nOut = b.shape[1];
      const a2 = a.shape.length === 2 ? a : g.reshape(a, [-1, k as number]);
      const dy2 = dy.shape.length === 2 ? dy : g.reshape(dy, [-1, nOut as number]);
      const dB = g.gemm(a2, dy2, { transA: 1 });
      const dA = g.matmul(dy, g.transpose(b, [1, 0]));
      return [g.sumTo(dA, a), dB];
    }
    const dA = g.matmul(dy, g.transpose(b, lastTwoPerm(b.shape.length)));
    const dB = g.matmul(g.transpose(a, lastTwoPerm(a.shape.length)), dy);
    return [g.sumTo(dA, a), g.sumTo(dB, b)];
  },
});

function gemmDims(a: ValueType, b: ValueType, transA: number, transB: number): [Dim, Dim, Dim, Dim] {
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new GraphError(`Gemm: 2-D operands required, got ${describe(a)}, ${describe(b)}`);
  const [m, k1] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [k2, nn] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  return [m, k1, k2, nn];
}

defineOp({
  type: 'Gemm',
  infer: (inputs, attrs) => {
    const [a, b, c] = inputs;
    const [m, k1, k2, nn] = gemmDims(a, b, attrNum(attrs, 'transA', 0), attrNum(attrs, 'transB', 0));
    if (!dimEq(k1, k2)) throw new GraphError(`Gemm: inner dims differ (${k1} vs ${k2}) for ${describe(a)}, ${describe(b)}`);
    if (c) broadcastShapes(c.shape, [m, nn], 'Gemm bias');
    return [{ dtype: 'float32', shape: [m, nn] }];
  },
  ref: ([a, b, c], attrs) => {
    const transA = attrNum(attrs, 'transA', 0);
    const transB = attrNum(attrs, 'transB', 0);
    const alpha = attrNum(attrs, 'alpha', 1);
    const beta = attrNum(attrs, 'beta', 1);
    const [m, k, , nn] = gemmDims(a, b, transA, transB) as number[];
    const out = refTensor('float32', [m, nn]);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < nn; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a.data[p * m + i] : a.data[i * k + p];
          const bv = transB ? b.data[j * k + p] : b.data[p * nn + j];
          s += av * bv;
        }
        out.data[i * nn + j] = alpha * s;
      }
    if (c) {
      const ic = broadcastIndex(c.shape, [m, nn]);
      for (let i = 0; i < out.data.length; i++) out.data[i] += beta * c.data[ic[i]];
    }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('Gemm', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])], {
      transA: aInt(attrNum(node.attrs, 'transA', 0)),
      transB: aInt(attrNum(node.attrs, 'transB', 0)),
      alpha: aFloat(attrNum(node.attrs, 'alpha', 1)),
      beta: aFloat(attrNum(node.attrs, 'beta', 1)),
    }),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined, undefined];
    const [a, b, c] = n.inputs;
    const tA = attrNum(n.attrs, 'transA', 0);
    const tB = attrNum(n.attrs, 'transB', 0);
    const alpha = attrNum(n.attrs, 'alpha', 1);
    const beta = attrNum(n.attrs, 'beta', 1);
    // Y = α·op(A)·op(B) + β·C
    const dA = tA ? g.gemm(b, dy, { transA: tB, transB: 1, alpha }) : g.gemm(dy, b, { transB: tB ? 0 : 1, alpha });
    const dB = tB ? g.gemm(dy, a, { transA: 1, transB: tA, alpha }) : g.gemm(a, dy, { transA: tA ? 0 : 1, alpha });
    const dC = c ? g.sumTo(beta === 1 ? dy : g.mul(dy, g.scalar(beta)), c) : undefined;
    return [dA, dB, dC];
  },
});
