// Data-movement ops: Reshape, Transpose, Concat, Slice, Split, Gather, Pad, Expand, ScatterND-add, Size.
// "…Like" ops take their target shape from another value at run time, so gradients work with a dynamic batch.
import { Dim, GraphError, describe, formatShape } from '../ir.js';
import { dimDivide, dimEq, dimProduct, isKnown, numel } from '../dims.js';
import { RefTensor, broadcastIndex, normAxis, refTensor, strides } from '../reftensor.js';
import { aInt, aInts, aStr, attrInts, attrNum, defineOp } from './op.js';

// ---- Reshape (ONNX semantics: 0 copies the input dim, -1 is inferred) ----
function reshapeShape(input: readonly Dim[], spec: readonly number[]): Dim[] {
  const out: Dim[] = spec.map((s, i) => {
    if (s === 0) {
      if (i >= input.length) throw new GraphError(`Reshape: 0 at axis ${i} but input ${formatShape(input)} has rank ${input.length}`);
      return input[i];
    }
    return s;
  });
  const neg = out.findIndex((d) => d === -1);
  const total = dimProduct(input);
  if (neg >= 0) {
    const rest = dimProduct(out.filter((_, i) => i !== neg));
    out[neg] = dimDivide(total, rest, `Reshape ${formatShape(input)} → [${spec.join(', ')}]`);
  } else if (!dimEq(dimProduct(out), total)) {
    throw new GraphError(`Reshape: ${formatShape(input)} (${total} elements) cannot become ${formatShape(out)}`);
  }
  return out;
}

defineOp({
  type: 'Reshape',
  infer: ([a], attrs) => [{ dtype: a.dtype, shape: reshapeShape(a.shape, attrInts(attrs, 'shape')) }],
  ref: ([a], attrs) => [refTensor(a.dtype, reshapeShape(a.shape, attrInts(attrs, 'shape')) as number[], a.data)],
  lower: (node, ctx) =>
    ctx.emit('Reshape', [ctx.nameOf(node.inputs[0]), ctx.int64(attrInts(node.attrs, 'shape'))], [ctx.nameOf(node.outputs[0])]),
  vjp: (g, n, [dy]) => [dy && g.reshapeLike(dy, n.inputs[0])],
});

defineOp({
  type: 'ReshapeLike',
  infer: ([a, b]) => {
    if (!dimEq(dimProduct(a.shape), dimProduct(b.shape))) throw new GraphError(`ReshapeLike: ${describe(a)} cannot take the shape of ${describe(b)}`);
    return [{ dtype: a.dtype, shape: b.shape }];
  },
  ref: ([a, b]) => [refTensor(a.dtype, b.shape, a.data)],
  lower: (node, ctx) => {
    const s = ctx.tmp('shape');
    ctx.emit('Shape', [ctx.nameOf(node.inputs[1])], [s]);
    ctx.emit('Reshape', [ctx.nameOf(node.inputs[0]), s], [ctx.nameOf(node.outputs[0])]);
  },
  vjp: (g, n, [dy]) => [dy && g.reshapeLike(dy, n.inputs[0]), undefined],
});

/** Broadcasts a to b's shape (a must broadcast to it). */
defineOp({
  type: 'ExpandLike',
  infer: ([a, b]) => {
    const s = [...b.shape];
    // validate: a broadcasts to b without changing b
    const off = s.length - a.shape.length;
    if (off < 0) throw new GraphError(`ExpandLike: ${describe(a)} has higher rank than ${describe(b)}`);
    a.shape.forEach((d, i) => {
      if (d !== 1 && !dimEq(d, s[i + off])) throw new GraphError(`ExpandLike: ${describe(a)} does not broadcast to ${describe(b)}`);
    });
    return [{ dtype: a.dtype, shape: s }];
  },
  ref: ([a, b]) => {
    const out = refTensor(a.dtype, b.shape);
    const ia = broadcastIndex(a.shape, b.shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[ia[i]];
    return [out];
  },
  lower: (node, ctx) => {
    const s = ctx.tmp('shape');
    ctx.emit('Shape', [ctx.nameOf(node.inputs[1])], [s]);
    ctx.emit('Expand', [ctx.nameOf(node.inputs[0]), s], [ctx.nameOf(node.outputs[0])]);
  },
  vjp: (g, n, [dy]) => [dy && g.sumTo(dy, n.inputs[0]), undefined],
});

// ---- Transpose ----
function checkPerm(perm: readonly number[], rank: number): void {
  const seen = new Set(perm);
  if (perm.length !== rank || seen.size !== rank || perm.some((p) => p < 0 || p >= rank)) {
    throw new GraphError(`Transpose: perm [${perm.join(', ')}] is not a permutation of rank ${rank}`);
  }
}

function transposeRef(a: RefTensor, perm: readonly number[]): RefTensor {
  const outShape = perm.map((p) => a.shape[p]);
  const out = refTensor(a.dtype, outShape);
  const inStr = strides(a.shape);
  const rank = perm.length;
  const idx = new Array<number>(rank).fill(0);
  for (let f = 0; f < out.data.length; f++) {
    let s = 0;
    for (let i = 0; i < rank; i++) s += idx[i] * inStr[perm[i]];
    out.data[f] = a.data[s];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

defineOp({
  type: 'Transpose',
  infer: ([a], attrs) => {
    const perm = attrInts(attrs, 'perm');
    checkPerm(perm, a.shape.length);
    return [{ dtype: a.dtype, shape: perm.map((p) => a.shape[p]) }];
  },
  ref: ([a], attrs) => [transposeRef(a, attrInts(attrs, 'perm'))],
  lower: (node, ctx) =>
    ctx.emit('Transpose', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])], { perm: aInts(attrInts(node.attrs, 'perm')) }),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const perm = attrInts(n.attrs, 'perm');
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [g.transpose(dy, inv)];
  },
});

// ---- Concat ----
defineOp({
  type: 'Concat',
  infer: (inputs, attrs) => {
    const rank = inputs[0].shape.length;
    const axis = normAxis(attrNum(attrs, 'axis'), rank);
    const parts: Dim[] = [];
    inputs.forEach((v) => {
      if (v.shape.length !== rank || v.dtype !== inputs[0].dtype) throw new GraphError(`Concat: ${describe(v)} does not match ${describe(inputs[0])}`);
      v.shape.forEach((d, i) => {
        if (i !== axis && !dimEq(d, inputs[0].shape[i])) throw new GraphError(`Concat on axis ${axis}: ${describe(v)} vs ${describe(inputs[0])}`);
      });
      parts.push(v.shape[axis]);
    });
    const shape = [...inputs[0].shape];
    shape[axis] = parts.every(isKnown) ? parts.reduce((x, y) => x + y, 0) : sumSymbolic(parts);
    return [{ dtype: inputs[0].dtype, shape }];
  },
  ref: (inputs, attrs) => {
    const rank = inputs[0].shape.length;
    const axis = normAxis(attrNum(attrs, 'axis'), rank);
    const outShape = [...inputs[0].shape];
    outShape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
    const out = refTensor(inputs[0].dtype, outShape);
    const outer = numel(outShape.slice(0, axis));
    const inner = numel(outShape.slice(axis + 1));
    let offset = 0;
    for (const t of inputs) {
      const len = t.shape[axis] * inner;
      for (let o = 0; o < outer; o++) {
        out.data.set(t.data.subarray(o * len, (o + 1) * len), o * outShape[axis] * inner + offset);
      }
      offset += len;
    }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('Concat', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])], { axis: aInt(attrNum(node.attrs, 'axis')) }),
  vjp: (g, n, [dy]) => {
    if (!dy) return n.inputs.map(() => undefined);
    const axis = normAxis(attrNum(n.attrs, 'axis'), dy.shape.length);
    const sizes = n.inputs.map((v) => v.shape[axis]);
    if (!sizes.every(isKnown)) throw new GraphError('Concat gradient needs known sizes on the concat axis');
    return g.split(dy, axis, sizes);
  },
});

function sumSymbolic(parts: Dim[]): Dim {
  // Concatenating along a symbolic axis: only "same symbol" parts add up (B + B = B*2).
  const first = parts[0];
  if (typeof first === 'string' && parts.every((p) => p === first)) return dimProduct([first, parts.length]);
  throw new GraphError(`Concat along axis with dims [${parts.join(', ')}] is not supported`);
}

// ---- Slice (step 1 along given axes, constant bounds) ----
function sliceBounds(dim: number, start: number, end: number): [number, number] {
  const s = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
  const e = Math.min(Math.max(end < 0 ? end + dim : end, 0), dim);
  return [s, Math.max(e, s)];
}

defineOp({
  type: 'Slice',
  infer: ([a], attrs) => {
    const axes = attrInts(attrs, 'axes');
    const starts = attrInts(attrs, 'starts');
    const ends = attrInts(attrs, 'ends');
    const shape = [...a.shape];
    axes.forEach((ax0, i) => {
      const ax = normAxis(ax0, a.shape.length);
      const d = a.shape[ax];
      if (!isKnown(d)) throw new GraphError(`Slice: axis ${ax} of ${describe(a)} is symbolic`);
      const [s, e] = sliceBounds(d, starts[i], ends[i]);
      shape[ax] = e - s;
    });
    return [{ dtype: a.dtype, shape }];
  },
  ref: ([a], attrs) => {
    const axes = attrInts(attrs, 'axes').map((x) => normAxis(x, a.shape.length));
    const lo = a.shape.map(() => 0);
    const hi = [...a.shape];
    axes.forEach((ax, i) => {
      [lo[ax], hi[ax]] = sliceBounds(a.shape[ax], attrInts(attrs, 'starts')[i], attrInts(attrs, 'ends')[i]);
    });
    const outShape = hi.map((h, i) => h - lo[i]);
    const out = refTensor(a.dtype, outShape);
    const inStr = strides(a.shape);
    const rank = outShape.length;
    const idx = new Array<number>(rank).fill(0);
    for (let f = 0; f < out.data.length; f++) {
      let s = 0;
      for (let i = 0; i < rank; i++) s += (idx[i] + lo[i]) * inStr[i];
      out.data[f] = a.data[s];
      for (let i = rank - 1; i >= 0; i--) {
        if (++idx[i] < outShape[i]) break;
        idx[i] = 0;
      }
    }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit(
      'Slice',
      [
        ctx.nameOf(node.inputs[0]),
        ctx.int64(attrInts(node.attrs, 'starts')),
        ctx.int64(attrInts(node.attrs, 'ends')),
        ctx.int64(attrInts(node.attrs, 'axes')),
      ],
      [ctx.nameOf(node.outputs[0])],
    ),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const a = n.inputs[0];
    const rank = a.shape.length;
    const pads = new Array<number>(2 * rank).fill(0);
    attrInts(n.attrs, 'axes').forEach((ax0, i) => {
      const ax = normAxis(ax0, rank);
      const d = a.shape[ax] as number;
      const [s, e] = sliceBounds(d, attrInts(n.attrs, 'starts')[i], attrInts(n.attrs, 'ends')[i]);
      pads[ax] = s;
      pads[rank + ax] = d - e;
    });
    return [g.pad(dy, pads)];
  },
});

// ---- Pad (constant zero; ONNX pads layout [begin_0..begin_r-1, end_0..end_r-1]) ----
defineOp({
  type: 'Pad',
  infer: ([a], attrs) => {
    const pads = attrInts(attrs, 'pads');
    const r = a.shape.length;
    if (pads.length !== 2 * r) throw new GraphError(`Pad: ${pads.length} pads for rank ${r}`);
    return [{ dtype: a.dtype, shape: a.shape.map((d, i) => (pads[i] === 0 && pads[r + i] === 0 ? d : (d as number) + pads[i] + pads[r + i])) }];
  },
  ref: ([a], attrs) => {
    const pads = attrInts(attrs, 'pads');
    const r = a.shape.length;
    const outShape = a.shape.map((d, i) => d + pads[i] + pads[r + i]);
    const out = refTensor(a.dtype, outShape);
    const outStr = strides(outShape);
    const idx = new Array<number>(r).fill(0);
    for (let f = 0; f < a.data.length; f++) {
      let s = 0;
      for (let i = 0; i < r; i++) s += (idx[i] + pads[i]) * outStr[i];
      out.data[s] = a.data[f];
      for (let i = r - 1; i >= 0; i--) {
        if (++idx[i] < a.shape[i]) break;
        idx[i] = 0;
      }
    }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('Pad', [ctx.nameOf(node.inputs[0]), ctx.int64(attrInts(node.attrs, 'pads'))], [ctx.nameOf(node.outputs[0])], {
      mode: aStr('constant'),
    }),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const pads = attrInts(n.attrs, 'pads');
    const r = n.inputs[0].shape.length;
    const axes = [...Array(r).keys()].filter((i) => pads[i] !== 0 || pads[r + i] !== 0);
    return [g.slice(dy, axes, axes.map((i) => pads[i]), axes.map((i) => pads[i] + (n.inputs[0].shape[i] as number)))];
  },
});

// ---- Split (known sizes) ----
defineOp({
  type: 'Split',
  infer: ([a], attrs) => {
    const axis = normAxis(attrNum(attrs, 'axis'), a.shape.length);
    const sizes = attrInts(attrs, 'sizes');
    const d = a.shape[axis];
    const total = sizes.reduce((x, y) => x + y, 0);
    if (!isKnown(d) || d !== total) throw new GraphError(`Split: sizes [${sizes.join(', ')}] do not add up to axis ${axis} of ${describe(a)}`);
    return sizes.map((s) => {
      const shape = [...a.shape];
      shape[axis] = s;
      return { dtype: a.dtype, shape };
    });
  },
  ref: ([a], attrs) => {
    const axis = normAxis(attrNum(attrs, 'axis'), a.shape.length);
    const sizes = attrInts(attrs, 'sizes');
    const outer = numel(a.shape.slice(0, axis));
    const inner = numel(a.shape.slice(axis + 1));
    let off = 0;
    return sizes.map((s) => {
      const shape = [...a.shape];
      shape[axis] = s;
      const out = refTensor(a.dtype, shape);
      for (let o = 0; o < outer; o++) {
        const src = o * a.shape[axis] * inner + off * inner;
        out.data.set(a.data.subarray(src, src + s * inner), o * s * inner);
      }
      off += s;
      return out;
    });
  },
  lower: (node, ctx) =>
    ctx.emit('Split', [ctx.nameOf(node.inputs[0]), ctx.int64(attrInts(node.attrs, 'sizes'))], node.outputs.map(ctx.nameOf), {
      axis: aInt(attrNum(node.attrs, 'axis')),
    }),
  vjp: (g, n, dOut) => {
    const axis = attrNum(n.attrs, 'axis');
    if (dOut.every((d) => !d)) return [undefined];
    const parts = dOut.map((d, i) => d ?? g.zerosLike(n.outputs[i]));
    return [g.concat(parts, axis)];
  },
});

// ---- Gather (indices int64) ----
defineOp({
  type: 'Gather',
  infer: ([data, idx], attrs) => {
    if (idx.dtype !== 'int64') throw new GraphError(`Gather: indices must be int64, got ${describe(idx)}`);
    const axis = normAxis(attrNum(attrs, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)] }];
  },
  ref: ([data, idx], attrs) => {
    const axis = normAxis(attrNum(attrs, 'axis', 0), data.shape.length);
    const outer = numel(data.shape.slice(0, axis));
    const inner = numel(data.shape.slice(axis + 1));
    const dAxis = data.shape[axis];
    const out = refTensor(data.dtype, [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)]);
    const ni = idx.data.length;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < ni; j++) {
        let k = idx.data[j];
        if (k < 0) k += dAxis;
        if (k < 0 || k >= dAxis) throw new RangeError(`Gather: index ${idx.data[j]} out of range [0, ${dAxis})`);
        out.data.set(data.data.subarray((o * dAxis + k) * inner, (o * dAxis + k + 1) * inner), (o * ni + j) * inner);
      }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('Gather', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])], { axis: aInt(attrNum(node.attrs, 'axis', 0)) }),
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined];
    const [data, idx] = n.inputs;
    if (attrNum(n.attrs, 'axis', 0) !== 0 || idx.shape.length !== 1 || data.shape.length !== 2) {
      throw new GraphError('Gather gradient is implemented for embedding lookups (axis 0, 1-D indices, 2-D table)');
    }
    return [g.scatterAdd(g.zerosLike(data), g.reshape(idx, [-1, 1]), dy), undefined];
  },
});

/** ScatterND with reduction "add": out = data; out[indices[i]] += updates[i]. Gradient plumbing only. */
defineOp({
  type: 'ScatterNDAdd',
  infer: ([data]) => [{ dtype: data.dtype, shape: data.shape }],
  ref: ([data, idx, upd]) => {
    const out = refTensor(data.dtype, data.shape, data.data);
    const q = idx.shape[idx.shape.length - 1];
    if (q !== 1) throw new Error('ScatterNDAdd reference supports index depth 1');
    const inner = numel(data.shape.slice(1));
    const n = idx.data.length;
    for (let j = 0; j < n; j++) {
      const k = idx.data[j];
      for (let i = 0; i < inner; i++) out.data[k * inner + i] += upd.data[j * inner + i];
    }
    return [out];
  },
  lower: (node, ctx) =>
    ctx.emit('ScatterND', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])], { reduction: aStr('add') }),
});

/** Number of elements of a value, as a float32 scalar (for means over a dynamic batch). */
defineOp({
  type: 'SizeF',
  infer: () => [{ dtype: 'float32', shape: [] }],
  ref: ([a]) => [refTensor('float32', [], [a.data.length])],
  lower: (node, ctx) => {
    const s = ctx.tmp('size');
    ctx.emit('Size', [ctx.nameOf(node.inputs[0])], [s]);
    ctx.emit('Cast', [s], [ctx.nameOf(node.outputs[0])], { to: aInt(1) });
  },
});
