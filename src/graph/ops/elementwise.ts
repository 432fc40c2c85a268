// Element-wise ops with NumPy broadcasting: arithmetic, activations, comparisons and Where.
// Each definition holds shape rule, float64 reference, ONNX lowering and VJP together.
import { DType, GraphError, ValueType, describe } from '../ir.js';
import { broadcastShapes } from '../dims.js';
import { RefTensor, broadcastIndex, refTensor } from '../reftensor.js';
import { defineOp, Vjp } from './op.js';

function binaryInfer(type: string, outDtype?: DType) {
  return (inputs: readonly ValueType[]): ValueType[] => {
    const [a, b] = inputs;
    if (a.dtype !== b.dtype) throw new GraphError(`${type}: dtype mismatch ${describe(a)} vs ${describe(b)}`);
    return [{ dtype: outDtype ?? a.dtype, shape: broadcastShapes(a.shape, b.shape, type) }];
  };
}

function binaryRef(f: (x: number, y: number) => number, outDtype?: DType) {
  return (inputs: readonly RefTensor[]): RefTensor[] => {
    const [a, b] = inputs;
    const shape = broadcastShapes(a.shape, b.shape, 'ref') as number[];
    const out = refTensor(outDtype ?? a.dtype, shape);
    const ia = broadcastIndex(a.shape, shape);
    const ib = broadcastIndex(b.shape, shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = f(a.data[ia[i]], b.data[ib[i]]);
    return [out];
  };
}

function defineBinary(type: string, f: (x: number, y: number) => number, vjp?: Vjp, outDtype?: DType): void {
  defineOp({
    type,
    infer: binaryInfer(type, outDtype),
    ref: binaryRef(f, outDtype),
    lower: (node, ctx) => ctx.emit(type, node.inputs.map(ctx.nameOf), node.outputs.map(ctx.nameOf)),
    vjp,
  });
}

defineBinary('Add', (x, y) => x + y, (g, n, [dy]) => {
  if (!dy) return [undefined, undefined];
  return [g.sumTo(dy, n.inputs[0]), g.sumTo(dy, n.inputs[1])];
});
defineBinary('Sub', (x, y) => x - y, (g, n, [dy]) => {
  if (!dy) return [undefined, undefined];
  return [g.sumTo(dy, n.inputs[0]), g.sumTo(g.neg(dy), n.inputs[1])];
});
defineBinary('Mul', (x, y) => x * y, (g, n, [dy]) => {
  if (!dy) return [undefined, undefined];
  const [a, b] = n.inputs;
  return [g.sumTo(g.mul(dy, b), a), g.sumTo(g.mul(dy, a), b)];
});
defineBinary('Div', (x, y) => x / y, (g, n, [dy]) => {
  if (!dy) return [undefined, undefined];
  const [a, b] = n.inputs;
  const y = n.outputs[0];
  // d(a/b)/db = -a/b² = -y/b
  return [g.sumTo(g.div(dy, b), a), g.sumTo(g.neg(g.div(g.mul(dy, y), b)), b)];
});

defineBinary('Greater', (x, y) => (x > y ? 1 : 0), undefined, 'bool');
defineBinary('Less', (x, y) => (x < y ? 1 : 0), undefined, 'bool');
defineBinary('Equal', (x, y) => (x === y ? 1 : 0), undefined, 'bool');

function defineUnary(type: string, f: (x: number) => number, vjp: Vjp | undefined, onnxType = type): void {
  defineOp({
    type,
    infer: (inputs) => [{ dtype: inputs[0].dtype, shape: inputs[0].shape }],
    ref: ([a]) => {
      const out = refTensor(a.dtype, a.shape);
      for (let i = 0; i < out.data.length; i++) out.data[i] = f(a.data[i]);
      return [out];
    },
    lower: (node, ctx) => ctx.emit(onnxType, [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])]),
    vjp,
  });
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

defineUnary('Neg', (x) => -x, (g, _n, [dy]) => [dy && g.neg(dy)]);
defineUnary('Exp', Math.exp, (g, n, [dy]) => [dy && g.mul(dy, n.outputs[0])]);
defineUnary('Log', Math.log, (g, n, [dy]) => [dy && g.div(dy, n.inputs[0])]);
defineUnary('Sqrt', Math.sqrt, (g, n, [dy]) => [dy && g.div(g.mul(dy, g.scalar(0.5)), n.outputs[0])]);
defineUnary('Tanh', Math.tanh, (g, n, [dy]) => {
  if (!dy) return [undefined];
  const y = n.outputs[0];
  return [g.mul(dy, g.sub(g.scalar(1), g.mul(y, y)))];
});
defineUnary('Sigmoid', sigmoid, (g, n, [dy]) => {
  if (!dy) return [undefined];
  const y = n.outputs[0];
  return [g.mul(dy, g.mul(y, g.sub(g.scalar(1), y)))];
});
defineUnary('Sin', Math.sin, (g, n, [dy]) => [dy && g.mul(dy, g.cos(n.inputs[0]))]);
defineUnary('Cos', Math.cos, (g, n, [dy]) => [dy && g.neg(g.mul(dy, g.sin(n.inputs[0])))]);
defineUnary('Abs', Math.abs, (g, n, [dy]) => {
  if (!dy) return [undefined];
  return [g.where(g.less(n.inputs[0], g.scalar(0)), g.neg(dy), dy)];
});
defineUnary('Relu', (x) => (x > 0 ? x : 0), (g, n, [dy]) => {
  if (!dy) return [undefined];
  return [g.where(g.greater(n.inputs[0], g.scalar(0)), dy, g.scalar(0))];
});

// GELU with the tanh approximation (as DiT's MLP): 0.5·x·(1 + tanh(c·(x + 0.044715·x³))), c = √(2/π).
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
defineOp({
  type: 'GeluTanh',
  infer: (inputs) => [{ dtype: inputs[0].dtype, shape: inputs[0].shape }],
  ref: ([a]) => {
    const out = refTensor(a.dtype, a.shape);
    for (let i = 0; i < out.data.length; i++) {
      const x = a.data[i];
      out.data[i] = 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
    }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('Gelu', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])], { approximate: { type: 'string', v: 'tanh' } }),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const x = n.inputs[0];
    // d/dx = 0.5(1+t) + 0.5·x·(1−t²)·c·(1 + 3a·x²), t = tanh(c(x + a x³))
    const x2 = g.mul(x, x);
    const inner = g.mul(g.scalar(GELU_C), g.add(x, g.mul(g.scalar(GELU_A), g.mul(x2, x))));
    const t = g.tanh(inner);
    const dInner = g.mul(g.scalar(GELU_C), g.add(g.scalar(1), g.mul(g.scalar(3 * GELU_A), x2)));
    const left = g.mul(g.scalar(0.5), g.add(g.scalar(1), t));
    const right = g.mul(g.mul(g.scalar(0.5), x), g.mul(g.sub(g.scalar(1), g.mul(t, t)), dInner));
    return [g.mul(dy, g.add(left, right))];
  },
});

// SiLU x·σ(x): lowered as Mul(x, Sigmoid(x)), which ORT fuses.
defineOp({
  type: 'SiLU',
  infer: (inputs) => [{ dtype: inputs[0].dtype, shape: inputs[0].shape }],
  ref: ([a]) => {
    const out = refTensor(a.dtype, a.shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i] * sigmoid(a.data[i]);
    return [out];
  },
  lower: (node, ctx) => {
    const s = ctx.tmp('sigmoid');
    ctx.emit('Sigmoid', [ctx.nameOf(node.inputs[0])], [s]);
    ctx.emit('Mul', [ctx.nameOf(node.inputs[0]), s], [ctx.nameOf(node.outputs[0])]);
  },
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const x = n.inputs[0];
    const s = g.sigmoid(x);
    // d/dx x·s = s + x·s·(1−s)
    return [g.mul(dy, g.add(s, g.mul(g.mul(x, s), g.sub(g.scalar(1), s))))];
  },
});

defineOp({
  type: 'Where',
  infer: (inputs) => {
    const [c, a, b] = inputs;
    if (c.dtype !== 'bool') throw new GraphError(`Where: condition must be bool, got ${describe(c)}`);
    if (a.dtype !== b.dtype) throw new GraphError(`Where: dtype mismatch ${describe(a)} vs ${describe(b)}`);
    const s = broadcastShapes(broadcastShapes(c.shape, a.shape, 'Where'), b.shape, 'Where');
    return [{ dtype: a.dtype, shape: s }];
  },
  ref: ([c, a, b]) => {
    const shape = broadcastShapes(broadcastShapes(c.shape, a.shape, 'Where'), b.shape, 'Where') as number[];
    const out = refTensor(a.dtype, shape);
    const ic = broadcastIndex(c.shape, shape);
    const ia = broadcastIndex(a.shape, shape);
    const ib = broadcastIndex(b.shape, shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = c.data[ic[i]] !== 0 ? a.data[ia[i]] : b.data[ib[i]];
    return [out];
  },
  lower: (node, ctx) => ctx.emit('Where', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])]),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined, undefined];
    const [c, a, b] = n.inputs;
    const zero = g.scalar(0);
    return [undefined, g.sumTo(g.where(c, dy, zero), a), g.sumTo(g.where(c, zero, dy), b)];
  },
});

defineOp({
  type: 'Cast',
  infer: (inputs, attrs) => [{ dtype: attrs.to as DType, shape: inputs[0].shape }],
  ref: ([a], attrs) => {
    const out = refTensor(attrs.to as DType, a.shape, a.data);
    if (attrs.to === 'int64') for (let i = 0; i < out.data.length; i++) out.data[i] = Math.trunc(out.data[i]);
    if (attrs.to === 'bool') for (let i = 0; i < out.data.length; i++) out.data[i] = out.data[i] !== 0 ? 1 : 0;
    return [out];
  },
  lower: (node, ctx) => {
    const to = { float32: 1, int64: 7, bool: 9 }[node.attrs.to as DType];
    ctx.emit('Cast', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])], { to: { type: 'int', v: to } });
  },
  vjp: (g, n, [dy]) => [dy && n.inputs[0].dtype === 'float32' ? dy : undefined],
});
