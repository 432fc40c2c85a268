// Reductions (ReduceSum, ReduceMean over chosen axes) and the normalising ops built on them
// (LayerNormalization over the last axis, Softmax over one axis).
import { Dim, GraphError, Shape, describe } from '../ir.js';
import { isKnown, numel } from '../dims.js';
import { RefTensor, normAxis, refTensor, strides } from '../reftensor.js';
import { aFloat, aInt, attrInts, attrNum, defineOp } from './op.js';

function reducedShape(shape: Shape, axes: readonly number[], keep: boolean): Dim[] {
  const ax = new Set(axes.map((a) => normAxis(a, shape.length)));
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!ax.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

function reduceRef(a: RefTensor, axes: readonly number[], keep: boolean, mean: boolean): RefTensor {
  const ax = new Set(axes.map((x) => normAxis(x, a.shape.length)));
  const keptShape = a.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const out = refTensor(a.dtype, reducedShape(a.shape, axes, keep) as number[]);
  const outStr = strides(keptShape);
  const rank = a.shape.length;
  const idx = new Array<number>(rank).fill(0);
  for (let f = 0; f < a.data.length; f++) {
    let o = 0;
    for (let i = 0; i < rank; i++) if (!ax.has(i)) o += idx[i] * outStr[i];
    out.data[o] += a.data[f];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < a.shape[i]) break;
      idx[i] = 0;
    }
  }
  if (mean) {
    const count = a.data.length / Math.max(out.data.length, 1);
    for (let i = 0; i < out.data.length; i++) out.data[i] /= count;
  }
  return out;
}

for (const mean of [false, true]) {
  const type = mean ? 'ReduceMean' : 'ReduceSum';
  defineOp({
    type,
    infer: ([a], attrs) => [{ dtype: a.dtype, shape: reducedShape(a.shape, attrInts(attrs, 'axes'), attrNum(attrs, 'keepdims', 1) === 1) }],
    ref: ([a], attrs) => [reduceRef(a, attrInts(attrs, 'axes'), attrNum(attrs, 'keepdims', 1) === 1, mean)],
    lower: (node, ctx) =>
      ctx.emit(type, [ctx.nameOf(node.inputs[0]), ctx.int64(attrInts(node.attrs, 'axes'))], [ctx.nameOf(node.outputs[0])], {
        keepdims: aInt(attrNum(node.attrs, 'keepdims', 1)),
      }),
    vjp: (g, n, [dy]) => {
      if (!dy) return [undefined];
      const a = n.inputs[0];
      const axes = attrInts(n.attrs, 'axes');
      // Put the reduced axes back as 1s, then broadcast over the input.
      const kept = attrNum(n.attrs, 'keepdims', 1) === 1 ? dy : g.reshape(dy, reducedShape(a.shape, axes, true).map((d) => (isKnown(d) ? d : 0)));
      const grad = g.expandLike(kept, a);
      if (!mean) return [grad];
      const counts = axes.map((x) => a.shape[normAxis(x, a.shape.length)]);
      const scale = counts.every(isKnown) ? g.scalar(1 / numel(counts as number[])) : g.div(g.sizeF(n.outputs[0]), g.sizeF(a));
      return [g.mul(grad, scale)];
    },
  });
}

// LayerNormalization over the last axis, optional affine scale/bias of shape [D].
defineOp({
  type: 'LayerNorm',
  infer: (inputs, attrs) => {
    const [x, scale, bias] = inputs;
    const d = x.shape[x.shape.length - 1];
    if (!isKnown(d)) throw new GraphError(`LayerNorm: last axis of ${describe(x)} must be known`);
    for (const p of [scale, bias]) {
      if (p && (p.shape.length !== 1 || p.shape[0] !== d)) throw new GraphError(`LayerNorm: ${describe(p)} must be [${d}]`);
    }
    attrNum(attrs, 'epsilon');
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  ref: ([x, scale, bias], attrs) => {
    const eps = attrNum(attrs, 'epsilon');
    const d = x.shape[x.shape.length - 1];
    const out = refTensor(x.dtype, x.shape);
    for (let r = 0; r < x.data.length / d; r++) {
      let m = 0;
      for (let i = 0; i < d; i++) m += x.data[r * d + i];
      m /= d;
      let v = 0;
      for (let i = 0; i < d; i++) v += (x.data[r * d + i] - m) ** 2;
      const rstd = 1 / Math.sqrt(v / d + eps);
      for (let i = 0; i < d; i++) {
        let y = (x.data[r * d + i] - m) * rstd;
        if (scale) y *= scale.data[i];
        if (bias) y += bias.data[i];
        out.data[r * d + i] = y;
      }
    }
    return [out];
  },
  lower: (node, ctx) => {
    const [x, scale, bias] = node.inputs;
    const d = x.shape[x.shape.length - 1] as number;
    // ONNX requires a Scale input; a non-affine norm gets a constant of ones.
    const scaleName = scale ? ctx.nameOf(scale) : ctx.float32(new Array<number>(d).fill(1), [d]);
    const ins = [ctx.nameOf(x), scaleName];
    if (bias) ins.push(ctx.nameOf(bias));
    ctx.emit('LayerNormalization', ins, [ctx.nameOf(node.outputs[0])], {
      axis: aInt(-1),
      epsilon: aFloat(attrNum(node.attrs, 'epsilon')),
    });
  },
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined, undefined];
    const [x, scale, bias] = n.inputs;
    const eps = attrNum(n.attrs, 'epsilon');
    // Recompute x̂ and 1/σ from x (cheap next to the matmuls around it).
    const mu = g.reduceMean(x, [-1], true);
    const xc = g.sub(x, mu);
    const rstd = g.div(g.scalar(1), g.sqrt(g.add(g.reduceMean(g.mul(xc, xc), [-1], true), g.scalar(eps))));
    const xhat = g.mul(xc, rstd);
    const gh = scale ? g.mul(dy, scale) : dy;
    // dx = (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
    const dx = g.mul(rstd, g.sub(g.sub(gh, g.reduceMean(gh, [-1], true)), g.mul(xhat, g.reduceMean(g.mul(gh, xhat), [-1], true))));
    const dScale = scale ? g.sumTo(g.mul(dy, xhat), scale) : undefined;
    const dBias = bias ? g.sumTo(dy, bias) : undefined;
    return [dx, dScale, dBias];
  },
});

defineOp({
  type: 'Softmax',
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  ref: ([x], attrs) => {
    const axis = normAxis(attrNum(attrs, 'axis', -1), x.shape.length);
    const n = x.shape[axis];
    const inner = numel(x.shape.slice(axis + 1));
    const outer = numel(x.shape.slice(0, axis));
    const out = refTensor(x.dtype, x.shape);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const at = (k: number): number => (o * n + k) * inner + i;
        let m = -Infinity;
        for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
        let s = 0;
        for (let k = 0; k < n; k++) s += Math.exp(x.data[at(k)] - m);
        for (let k = 0; k < n; k++) out.data[at(k)] = Math.exp(x.data[at(k)] - m) / s;
      }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('Softmax', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])], { axis: aInt(attrNum(node.attrs, 'axis', -1)) }),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const y = n.outputs[0];
    const axis = attrNum(n.attrs, 'axis', -1);
    return [g.mul(y, g.sub(dy, g.reduceSum(g.mul(dy, y), [axis], true)))];
  },
});
