// Nearest-neighbour upsampling of the last two axes by an integer factor s (PyTorch
// F.interpolate(scale_factor=s, mode="nearest")): out[..., i, j] = x[..., floor(i/s), floor(j/s)],
// and UpsampleConv, the ×2 upsample fused with the 3×3 conv that follows it in diffusers' Upsample2D.
import { GraphError, describe } from '../ir.js';
import { isKnown } from '../dims.js';
import { refTensor } from '../reftensor.js';
import { aInt, aInts, aStr, attrNum, defineOp, getOp } from './op.js';

function factor(attrs: Readonly<Record<string, unknown>>): number {
  const s = attrs.scale;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) throw new GraphError(`UpsampleNearest: scale must be a positive integer, got ${String(s)}`);
  return s;
}

defineOp({
  type: 'UpsampleNearest',
  infer: ([x], attrs) => {
    const s = factor(attrs);
    if (x.shape.length !== 4) throw new GraphError(`UpsampleNearest: input ${describe(x)} must be [N, C, H, W]`);
    const [h, w] = [x.shape[2], x.shape[3]];
    if (!isKnown(h) || !isKnown(w)) throw new GraphError(`UpsampleNearest: spatial dims of ${describe(x)} must be known`);
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], h * s, w * s] }];
  },
  ref: ([x], attrs) => {
    const s = factor(attrs);
    const [n, c, h, w] = x.shape;
    const out = refTensor(x.dtype, [n, c, h * s, w * s]);
    for (let plane = 0; plane < n * c; plane++)
      for (let i = 0; i < h * s; i++)
        for (let j = 0; j < w * s; j++) out.data[(plane * h * s + i) * w * s + j] = x.data[(plane * h + Math.floor(i / s)) * w + Math.floor(j / s)];
    return [out];
  },
  lower: (node, ctx) => {
    const s = attrNum(node.attrs, 'scale');
    // 'asymmetric' + 'floor' maps output i to input floor(i / s) exactly, PyTorch's legacy "nearest".
    ctx.emit('Resize', [ctx.nameOf(node.inputs[0]), '', ctx.float32([1, 1, s, s], [4])], [ctx.nameOf(node.outputs[0])], {
      mode: aStr('nearest'),
      coordinate_transformation_mode: aStr('asymmetric'),
      nearest_mode: aStr('floor'),
    });
  },
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const s = attrNum(n.attrs, 'scale');
    const [, c, h, w] = n.inputs[0].shape as [unknown, number, number, number];
    // Each input pixel feeds an s×s block of the output: sum the gradient over those blocks.
    const blocks = g.reshape(dy, [-1, c, h, s, w, s]);
    return [g.reduceSum(blocks, [3, 5], false)];
  },
});

// ---- UpsampleConv: nearest ×2 upsample then a 3×3 conv (padding 1), computed without the upsample ----
//
// Output pixel (2i+a, 2j+b) of conv3x3(upsample2x(x)) only sees the 2×2 input pixels rows {i−1+a, i+a},
// cols {j−1+b, j+b}: the 3×3 kernel taps that land on the same input pixel add up. So each of the four
// output phases (a, b) is a 2×2 conv of x with summed taps — 16 instead of 36 multiply-adds per output
// pixel and channel pair — and the phases interleave with DepthToSpace. Same function, fewer FLOPs.

/** Kernel rows (or cols) whose taps land on input row i−1+a (first) and i+a (second), for phase a. */
const PHASE_TAPS: readonly (readonly [readonly number[], readonly number[]])[] = [
  [[0], [1, 2]], // a = 0: output row 2i reads upsampled rows 2i−1, 2i, 2i+1 = input rows i−1, i, i
  [[0, 1], [2]], // a = 1: output row 2i+1 reads upsampled rows 2i, 2i+1, 2i+2 = input rows i, i, i+1
];

defineOp({
  type: 'UpsampleConv',
  infer: ([x, w, b]) => {
    if (w.shape.length !== 4 || w.shape[2] !== 3 || w.shape[3] !== 3) throw new GraphError(`UpsampleConv: weight ${describe(w)} must be [O, C, 3, 3]`);
    const [up] = getOp('UpsampleNearest').infer([x], { scale: 2 });
    return getOp('Conv').infer(b ? [up, w, b] : [up, w], { strides: [1, 1], pads: [1, 1, 1, 1] });
  },
  ref: ([x, w, b]) => {
    const [up] = getOp('UpsampleNearest').ref([x], { scale: 2 });
    return getOp('Conv').ref(b ? [up, w, b] : [up, w], { strides: [1, 1], pads: [1, 1, 1, 1] });
  },
  lower: (node, ctx) => {
    const [x, w, b] = node.inputs;
    // Summed taps along one kernel axis: [O, C, 3, k] → [O, C, 2, k] (axis 2) or [O, C, k, 3] → [O, C, k, 2] (axis 3).
    // They are computed from the weight initializer, so ORT folds them into constants when it loads the model.
    const sumTaps = (src: string, axis: 2 | 3, phase: number): string => {
      const parts = PHASE_TAPS[phase].map((taps) => {
        const slices = taps.map((t) => {
          const s = ctx.tmp('tap');
          ctx.emit('Slice', [src, ctx.int64([t]), ctx.int64([t + 1]), ctx.int64([axis])], [s]);
          return s;
        });
        if (slices.length === 1) return slices[0];
        const sum = ctx.tmp('taps');
        ctx.emit('Sum', slices, [sum]);
        return sum;
      });
      const out = ctx.tmp('phase_w');
      ctx.emit('Concat', parts, [out], { axis: aInt(axis) });
      return out;
    };
    const phases: string[] = [];
    for (const a of [0, 1]) {
      const rows = sumTaps(ctx.nameOf(w), 2, a);
      for (const bb of [0, 1]) {
        const y = ctx.tmp(`phase${a}${bb}`);
        // Rows i−1+a, i+a: pad one row on top for a = 0, at the bottom for a = 1 (likewise columns).
        ctx.emit('Conv', [ctx.nameOf(x), sumTaps(rows, 3, bb), ...(b ? [ctx.nameOf(b)] : [])], [y], { pads: aInts([1 - a, 1 - bb, a, bb]) });
        phases.push(y);
      }
    }
    const stacked = ctx.tmp('phases');
    ctx.emit('Concat', phases, [stacked], { axis: aInt(1) }); // channel (a·2 + b)·O + o
    ctx.emit('DepthToSpace', [stacked], [ctx.nameOf(node.outputs[0])], { blocksize: aInt(2), mode: aStr('DCR') });
  },
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined, undefined];
    const [x, w, b] = n.inputs;
    const [, c, h, wd] = x.shape as [unknown, number, number, number];
    const attrs = { strides: [1, 1], pads: [1, 1, 1, 1] };
    const up = g.upsampleNearest(x, 2);
    const dUp = g.op('ConvGradInput', [dy, w, up], attrs)[0];
    const dx = g.reduceSum(g.reshape(dUp, [-1, c, h, 2, wd, 2]), [3, 5], false);
    const dw = g.op('ConvGradWeight', [up, dy, w], attrs)[0];
    return [dx, dw, b ? g.reduceSum(dy, [0, 2, 3], false) : undefined];
  },
});
