// 2-D convolution (NCHW, group 1, no dilation) and its two gradients, which lower to ONNX
// ConvTranspose (input gradient) and a strided Conv over swapped axes (weight gradient).
import { GraphError, describe } from '../ir.js';
import { isKnown } from '../dims.js';
import { refTensor } from '../reftensor.js';
import { aInts, attrInts, defineOp } from './op.js';

interface ConvGeom {
  strides: readonly number[];
  pads: readonly number[]; // [top, left, bottom, right]
}

function geom(attrs: Readonly<Record<string, unknown>>): ConvGeom {
  return { strides: (attrs.strides as number[]) ?? [1, 1], pads: (attrs.pads as number[]) ?? [0, 0, 0, 0] };
}

function outSize(inp: number, k: number, stride: number, padA: number, padB: number): number {
  return Math.floor((inp + padA + padB - k) / stride) + 1;
}

/**
 * Visits every (input element, weight element, output element) triple of a convolution: the one loop
 * nest the forward pass and both gradients share (they differ only in what they accumulate).
 */
function forEachTap(
  xShape: readonly number[],
  wShape: readonly number[],
  g: ConvGeom,
  visit: (xIndex: number, wIndex: number, yIndex: number) => void,
): void {
  const [n, c, h, wd] = xShape;
  const [o, , kh, kw] = wShape;
  const oh = outSize(h, kh, g.strides[0], g.pads[0], g.pads[2]);
  const ow = outSize(wd, kw, g.strides[1], g.pads[1], g.pads[3]);
  for (let ni = 0; ni < n; ni++)
    for (let oi = 0; oi < o; oi++)
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          const yIndex = ((ni * o + oi) * oh + y) * ow + xx;
          for (let ci = 0; ci < c; ci++)
            for (let i = 0; i < kh; i++) {
              const iy = y * g.strides[0] - g.pads[0] + i;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = xx * g.strides[1] - g.pads[1] + j;
                if (ix < 0 || ix >= wd) continue;
                visit(((ni * c + ci) * h + iy) * wd + ix, ((oi * c + ci) * kh + i) * kw + j, yIndex);
              }
            }
        }
}

defineOp({
  type: 'Conv',
  infer: ([x, w, b], attrs) => {
    if (x.shape.length !== 4 || w.shape.length !== 4) throw new GraphError(`Conv: NCHW input and OIHW weight required, got ${describe(x)}, ${describe(w)}`);
    if (x.shape[1] !== w.shape[1]) throw new GraphError(`Conv: input channels ${x.shape[1]} ≠ weight in-channels ${w.shape[1]} (${describe(x)}, ${describe(w)})`);
    if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) throw new GraphError(`Conv: bias ${describe(b)} must be [${w.shape[0]}]`);
    const { strides, pads } = geom(attrs);
    const [h, wd] = [x.shape[2], x.shape[3]];
    const [kh, kw] = [w.shape[2], w.shape[3]];
    if (!isKnown(h) || !isKnown(wd) || !isKnown(kh) || !isKnown(kw)) throw new GraphError('Conv: spatial dims must be known');
    return [{ dtype: 'float32', shape: [x.shape[0], w.shape[0], outSize(h, kh, strides[0], pads[0], pads[2]), outSize(wd, kw, strides[1], pads[1], pads[3])] }];
  },
  ref: ([x, w, b], attrs) => {
    const gm = geom(attrs);
    const [n, , h, wd] = x.shape;
    const [o, , kh, kw] = w.shape;
    const oh = outSize(h, kh, gm.strides[0], gm.pads[0], gm.pads[2]);
    const ow = outSize(wd, kw, gm.strides[1], gm.pads[1], gm.pads[3]);
    const out = refTensor('float32', [n, o, oh, ow]);
    if (b) for (let k = 0; k < out.data.length; k++) out.data[k] = b.data[Math.floor(k / (oh * ow)) % o];
    forEachTap(x.shape, w.shape, gm, (xi, wi, yi) => (out.data[yi] += x.data[xi] * w.data[wi]));
    return [out];
  },
  lower: (node, ctx) => {
    const { strides, pads } = geom(node.attrs);
    ctx.emit('Conv', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])], { strides: aInts(strides), pads: aInts(pads) });
  },
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined, undefined, undefined];
    const [x, w, b] = n.inputs;
    const attrs = { strides: attrInts(n.attrs, 'strides'), pads: attrInts(n.attrs, 'pads') };
    const dx = g.op('ConvGradInput', [dy, w, x], attrs)[0];
    const dw = g.op('ConvGradWeight', [x, dy, w], attrs)[0];
    return [dx, dw, b ? g.reduceSum(dy, [0, 2, 3], false) : undefined];
  },
});

/** dX of Conv: inputs (dY [N,O,OH,OW], W [O,C,KH,KW], X for its shape). */
defineOp({
  type: 'ConvGradInput',
  infer: ([, , x]) => [{ dtype: 'float32', shape: x.shape }],
  ref: ([dy, w, x], attrs) => {
    const out = refTensor('float32', x.shape);
    forEachTap(x.shape, w.shape, geom(attrs), (xi, wi, yi) => (out.data[xi] += dy.data[yi] * w.data[wi]));
    return [out];
  },
  lower: (node, ctx) => {
    const { strides, pads } = geom(node.attrs);
    const [dy, w, x] = node.inputs;
    const [h, wd] = [x.shape[2] as number, x.shape[3] as number];
    const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
    const [oh, ow] = [dy.shape[2] as number, dy.shape[3] as number];
    // ConvTranspose's natural output is (OH−1)·s + K − padA − padB; output_padding restores rows the forward dropped.
    const opH = h - ((oh - 1) * strides[0] + kh - pads[0] - pads[2]);
    const opW = wd - ((ow - 1) * strides[1] + kw - pads[1] - pads[3]);
    ctx.emit('ConvTranspose', [ctx.nameOf(dy), ctx.nameOf(w)], [ctx.nameOf(node.outputs[0])], {
      strides: aInts(strides),
      pads: aInts(pads),
      output_padding: aInts([opH, opW]),
    });
  },
});

/** dW of Conv: inputs (X [N,C,H,W], dY [N,O,OH,OW], W for its shape). */
defineOp({
  type: 'ConvGradWeight',
  infer: ([, , w]) => [{ dtype: 'float32', shape: w.shape }],
  ref: ([x, dy, w], attrs) => {
    const out = refTensor('float32', w.shape);
    forEachTap(x.shape, w.shape, geom(attrs), (xi, wi, yi) => (out.data[wi] += x.data[xi] * dy.data[yi]));
    return [out];
  },
  lower: (node, ctx) => {
    const { strides, pads } = geom(node.attrs);
    const [x, dy, w] = node.inputs;
    const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
    // dW[o,c,i,j] = Σ_n,y,x X[n,c,y·s+i,x·s+j]·dY[n,o,y,x]: a Conv of Xᵀ [C,N,H,W] with dYᵀ [O,N,OH,OW]
    // as the kernel, dilated by the stride, then cropped to K and transposed to [O,C,KH,KW].
    const xt = ctx.tmp('xT');
    const dyt = ctx.tmp('dyT');
    const full = ctx.tmp('dwFull');
    const crop = ctx.tmp('dwCrop');
    ctx.emit('Transpose', [ctx.nameOf(x)], [xt], { perm: aInts([1, 0, 2, 3]) });
    ctx.emit('Transpose', [ctx.nameOf(dy)], [dyt], { perm: aInts([1, 0, 2, 3]) });
    ctx.emit('Conv', [xt, dyt], [full], { pads: aInts(pads), dilations: aInts(strides) });
    ctx.emit('Slice', [full, ctx.int64([0, 0]), ctx.int64([kh, kw]), ctx.int64([2, 3])], [crop]);
    ctx.emit('Transpose', [crop], [ctx.nameOf(node.outputs[0])], { perm: aInts([1, 0, 2, 3]) });
  },
});
