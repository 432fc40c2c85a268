// The builder DSL: create inputs, parameters and constants, apply ops (each shape-checked as it is
// added, with the op's name in any error), mark outputs, and get an immutable Graph.
import { Attrs, ConstData, DType, Dim, Graph, GraphError, Node, Param, Shape, Value, ValueKind, describe } from './ir.js';
import { dimEq, isKnown } from './dims.js';
import { getOp } from './ops/op.js';
import './ops/index.js';

export interface GemmOptions {
  transA?: number;
  transB?: number;
  alpha?: number;
  beta?: number;
}

export class GraphBuilder {
  private nextId = 0;
  private readonly names = new Set<string>();
  private readonly inputsList: Value[] = [];
  private readonly paramsList: Param[] = [];
  private readonly constsList: Param[] = [];
  private readonly nodesList: Node[] = [];
  private readonly outputsList: Value[] = [];
  private readonly scalarCache = new Map<number, Value>();

  constructor(readonly name: string) {}

  private newValue(name: string, kind: ValueKind, dtype: DType, shape: Shape, producer?: Node, outputIndex?: number): Value {
    if (this.names.has(name)) throw new GraphError(`${this.name}: the name "${name}" is used twice`);
    this.names.add(name);
    return { id: this.nextId++, name, kind, dtype, shape: [...shape], producer, outputIndex };
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.newValue(name, 'input', dtype, shape);
    this.inputsList.push(v);
    return v;
  }

  /** A trainable weight (float32). Its data can be given now or bound later by name. */
  param(name: string, shape: readonly number[], data?: Float32Array): Value {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data && data.length !== n) throw new GraphError(`${this.name}: parameter ${name} expects [${shape.join(', ')}] (${n} values), got ${data.length}`);
    const v = this.newValue(name, 'param', 'float32', shape);
    this.paramsList.push({ value: v, data: data ?? new Float32Array(n) });
    return v;
  }

  constant(data: ConstData, shape: readonly number[], dtype: DType = 'float32', name?: string): Value {
    const v = this.newValue(name ?? `const_${this.nextId}`, 'const', dtype, shape);
    this.constsList.push({ value: v, data });
    return v;
  }

  /** A float32 scalar constant, shared between uses. */
  scalar(x: number): Value {
    let v = this.scalarCache.get(x);
    if (!v) {
      v = this.constant(new Float32Array([x]), [], 'float32');
      this.scalarCache.set(x, v);
    }
    return v;
  }

  int64Const(values: readonly number[], shape?: readonly number[]): Value {
    return this.constant(BigInt64Array.from(values.map((x) => BigInt(x))), shape ?? [values.length], 'int64');
  }

  /** Applies any registered op; infers and checks output types. */
  op(type: string, inputs: readonly Value[], attrs: Attrs = {}, outputNames?: readonly string[]): Value[] {
    const def = getOp(type);
    let types;
    try {
      types = def.infer(inputs, attrs);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new GraphError(`${this.name}: ${type}(${inputs.map(describe).join(', ')}): ${msg}`);
    }
    const node: { id: number; op: string; inputs: readonly Value[]; outputs: Value[]; attrs: Attrs } = {
      id: this.nodesList.length,
      op: type,
      inputs: [...inputs],
      outputs: [],
      attrs,
    };
    types.forEach((t, i) => {
      const nm = outputNames?.[i] ?? `${type.toLowerCase()}_${this.nextId}`;
      node.outputs.push(this.newValue(nm, 'node', t.dtype, t.shape, node, i));
    });
    this.nodesList.push(node);
    return node.outputs;
  }

  private one(type: string, inputs: readonly Value[], attrs: Attrs = {}): Value {
    return this.op(type, inputs, attrs)[0];
  }

  // ---- element-wise ----
  add(a: Value, b: Value): Value { return this.one('Add', [a, b]); }
  sub(a: Value, b: Value): Value { return this.one('Sub', [a, b]); }
  mul(a: Value, b: Value): Value { return this.one('Mul', [a, b]); }
  div(a: Value, b: Value): Value { return this.one('Div', [a, b]); }
  neg(a: Value): Value { return this.one('Neg', [a]); }
  exp(a: Value): Value { return this.one('Exp', [a]); }
  log(a: Value): Value { return this.one('Log', [a]); }
  sqrt(a: Value): Value { return this.one('Sqrt', [a]); }
  tanh(a: Value): Value { return this.one('Tanh', [a]); }
  sigmoid(a: Value): Value { return this.one('Sigmoid', [a]); }
  sin(a: Value): Value { return this.one('Sin', [a]); }
  cos(a: Value): Value { return this.one('Cos', [a]); }
  abs(a: Value): Value { return this.one('Abs', [a]); }
  relu(a: Value): Value { return this.one('Relu', [a]); }
  gelu(a: Value): Value { return this.one('GeluTanh', [a]); }
  /** the exact GELU 0.5·x·(1 + erf(x/√2)) (PyTorch's default nn.GELU) */
  geluErf(a: Value): Value { return this.one('GeluErf', [a]); }
  erf(a: Value): Value { return this.one('Erf', [a]); }
  silu(a: Value): Value { return this.one('SiLU', [a]); }
  greater(a: Value, b: Value): Value { return this.one('Greater', [a, b]); }
  less(a: Value, b: Value): Value { return this.one('Less', [a, b]); }
  equal(a: Value, b: Value): Value { return this.one('Equal', [a, b]); }
  where(c: Value, a: Value, b: Value): Value { return this.one('Where', [c, a, b]); }
  cast(a: Value, to: DType): Value { return this.one('Cast', [a], { to }); }

  // ---- matrix products ----
  matmul(a: Value, b: Value): Value { return this.one('MatMul', [a, b]); }
  gemm(a: Value, b: Value, opts: GemmOptions = {}, c?: Value): Value {
    return this.one('Gemm', c ? [a, b, c] : [a, b], { transA: opts.transA ?? 0, transB: opts.transB ?? 0, alpha: opts.alpha ?? 1, beta: opts.beta ?? 1 });
  }

  // ---- shapes ----
  reshape(a: Value, shape: readonly number[]): Value { return this.one('Reshape', [a], { shape }); }
  reshapeLike(a: Value, like: Value): Value {
    if (a.shape.length === like.shape.length && a.shape.every((d, i) => dimEq(d, like.shape[i]))) return a;
    if (like.shape.every(isKnown)) return this.reshape(a, like.shape as number[]);
    return this.one('ReshapeLike', [a, like]);
  }
  expandLike(a: Value, like: Value): Value { return this.one('ExpandLike', [a, like]); }
  transpose(a: Value, perm: readonly number[]): Value { return this.one('Transpose', [a], { perm }); }
  concat(parts: readonly Value[], axis: number): Value { return this.one('Concat', parts, { axis }); }
  slice(a: Value, axes: readonly number[], starts: readonly number[], ends: readonly number[]): Value {
    return this.one('Slice', [a], { axes, starts, ends });
  }
  split(a: Value, axis: number, sizes: readonly number[]): Value[] { return this.op('Split', [a], { axis, sizes }); }
  gather(data: Value, indices: Value, axis = 0): Value { return this.one('Gather', [data, indices], { axis }); }
  pad(a: Value, pads: readonly number[]): Value { return this.one('Pad', [a], { pads }); }
  scatterAdd(data: Value, indices: Value, updates: Value): Value { return this.one('ScatterNDAdd', [data, indices, updates]); }
  sizeF(a: Value): Value { return this.one('SizeF', [a]); }
  zerosLike(a: Value): Value {
    if (a.shape.every(isKnown)) {
      const n = (a.shape as number[]).reduce((x, y) => x * y, 1);
      return this.constant(new Float32Array(n), a.shape as number[]);
    }
    return this.expandLike(this.scalar(0), a);
  }

  // ---- reductions and normalisation ----
  reduceSum(a: Value, axes: readonly number[], keepdims = true): Value { return this.one('ReduceSum', [a], { axes, keepdims: keepdims ? 1 : 0 }); }
  reduceMean(a: Value, axes: readonly number[], keepdims = true): Value { return this.one('ReduceMean', [a], { axes, keepdims: keepdims ? 1 : 0 }); }
  layerNorm(x: Value, epsilon: number, scale?: Value, bias?: Value): Value {
    if (bias && !scale) throw new GraphError(`${this.name}: LayerNorm with bias needs a scale`);
    return this.one('LayerNorm', scale ? (bias ? [x, scale, bias] : [x, scale]) : [x], { epsilon });
  }
  /**
   * LayerNorm over the last axis written with elementary ops (mean, centred variance, rsqrt): the same
   * function as `layerNorm`, for runtimes without LayerNormalization and as a cross-check of it.
   */
  layerNormComposed(x: Value, epsilon: number, scale?: Value, bias?: Value): Value {
    const xc = this.sub(x, this.reduceMean(x, [-1], true));
    const variance = this.reduceMean(this.mul(xc, xc), [-1], true);
    let y = this.div(xc, this.sqrt(this.add(variance, this.scalar(epsilon))));
    if (scale) y = this.mul(y, scale);
    if (bias) y = this.add(y, bias);
    return y;
  }
  /**
   * GroupNorm of x [N, C, spatial...] with `groups` groups of consecutive channels (PyTorch nn.GroupNorm),
   * optional per-channel scale and bias [C].
   */
  groupNorm(x: Value, groups: number, epsilon: number, scale?: Value, bias?: Value): Value {
    if (bias && !scale) throw new GraphError(`${this.name}: GroupNorm with bias needs a scale`);
    return this.one('GroupNorm', scale ? (bias ? [x, scale, bias] : [x, scale]) : [x], { groups, epsilon });
  }
  /** Nearest-neighbour upsampling of x [N, C, H, W] by an integer factor: [N, C, H·s, W·s]. */
  upsampleNearest(x: Value, scale: number): Value { return this.one('UpsampleNearest', [x], { scale }); }
  /** conv3x3(upsampleNearest(x, 2), w [O, C, 3, 3], b [O]) with padding 1, computed as four 2×2 phase convs. */
  upsampleConv(x: Value, w: Value, b?: Value): Value { return this.one('UpsampleConv', b ? [x, w, b] : [x, w]); }
  softmax(x: Value, axis = -1): Value { return this.one('Softmax', [x], { axis }); }
  conv(x: Value, w: Value, b: Value | undefined, opts: { strides?: readonly number[]; pads?: readonly number[] } = {}): Value {
    return this.one('Conv', b ? [x, w, b] : [x, w], { strides: opts.strides ?? [1, 1], pads: opts.pads ?? [0, 0, 0, 0] });
  }

  /** Sums a gradient over the axes along which `like` was broadcast, returning like's shape. */
  sumTo(grad: Value, like: Value): Value {
    const gs = grad.shape;
    const ls = like.shape;
    if (gs.length === ls.length && gs.every((d, i) => dimEq(d, ls[i]))) return grad;
    const off = gs.length - ls.length;
    if (off < 0) throw new GraphError(`${this.name}: sumTo: gradient ${describe(grad)} has lower rank than ${describe(like)}`);
    const axes: number[] = [];
    gs.forEach((d, i) => {
      if (i < off) axes.push(i);
      else if (ls[i - off] === 1 && d !== 1) axes.push(i);
      else if (!dimEq(d, ls[i - off])) throw new GraphError(`${this.name}: sumTo: ${describe(grad)} does not reduce to ${describe(like)}`);
    });
    const summed = axes.length ? this.reduceSum(grad, axes, true) : grad;
    return this.reshapeLike(summed, like);
  }

  /** Marks a value as a graph output under `name` (through an Identity when renamed). */
  output(name: string, v: Value): Value {
    const out = v.name === name ? v : this.op('Identity', [v], {}, [name])[0];
    this.outputsList.push(out);
    return out;
  }

  paramValues(): Value[] {
    return this.paramsList.map((p) => p.value);
  }

  build(): Graph {
    return {
      name: this.name,
      inputs: [...this.inputsList],
      params: [...this.paramsList],
      consts: [...this.constsList],
      nodes: [...this.nodesList],
      outputs: [...this.outputsList],
    };
  }
}

export type { Dim };
