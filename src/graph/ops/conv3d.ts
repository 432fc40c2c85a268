// 3-D convolution over [N, C, T, H, W] (group 1, no dilation), lowered to ONNX Conv on a 5-D input.
// The Wan video VAE's causal convolutions are built on it: they make the causal time padding explicit
// (past frames or zeros concatenated in front), so the op pads each side exactly as `pads` says.
// Inference only: no gradient rule (nothing trains a 3-D model here).
import { GraphError, describe } from '../ir.js';
import { isKnown } from '../dims.js';
import { refTensor } from '../reftensor.js';
import { aInts, defineOp } from './op.js';

interface Conv3dGeom {
  /** [sT, sH, sW] */
  strides: readonly number[];
  /** ONNX order: [t_begin, h_begin, w_begin, t_end, h_end, w_end] */
  pads: readonly number[];
}

function geom(attrs: Readonly<Record<string, unknown>>): Conv3dGeom {
  const strides = (attrs.strides as number[] | undefined) ?? [1, 1, 1];
  const pads = (attrs.pads as number[] | undefined) ?? [0, 0, 0, 0, 0, 0];
  if (strides.length !== 3 || !strides.every((s) => Number.isInteger(s) && s >= 1)) throw new GraphError(`Conv3d: strides must be 3 positive integers, got [${strides.join(', ')}]`);
  if (pads.length !== 6 || !pads.every((p) => Number.isInteger(p) && p >= 0)) throw new GraphError(`Conv3d: pads must be 6 non-negative integers [t0, h0, w0, t1, h1, w1], got [${pads.join(', ')}]`);
  return { strides, pads };
}

function outSize(inp: number, k: number, stride: number, padA: number, padB: number): number {
  return Math.floor((inp + padA + padB - k) / stride) + 1;
}

defineOp({
  type: 'Conv3d',
  infer: ([x, w, b], attrs) => {
    if (x.shape.length !== 5 || w.shape.length !== 5) throw new GraphError(`Conv3d: [N, C, T, H, W] input and [O, C, kT, kH, kW] weight required, got ${describe(x)}, ${describe(w)}`);
    if (x.shape[1] !== w.shape[1]) throw new GraphError(`Conv3d: input channels ${x.shape[1]} ≠ weight in-channels ${w.shape[1]} (${describe(x)}, ${describe(w)})`);
    if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) throw new GraphError(`Conv3d: bias ${describe(b)} must be [${w.shape[0]}]`);
    const { strides, pads } = geom(attrs);
    const out = [0, 1, 2].map((i) => {
      const [n, k] = [x.shape[2 + i], w.shape[2 + i]];
      if (!isKnown(n) || !isKnown(k)) throw new GraphError(`Conv3d: the T, H, W axes of ${describe(x)} and the kernel must be known`);
      const o = outSize(n, k, strides[i], pads[i], pads[3 + i]);
      if (o < 1) throw new GraphError(`Conv3d: axis ${2 + i} of ${describe(x)} (padded by ${pads[i]} + ${pads[3 + i]}) is shorter than the kernel's ${k}`);
      return o;
    });
    return [{ dtype: 'float32', shape: [x.shape[0], w.shape[0], ...out] }];
  },
  ref: ([x, w, b], attrs) => {
    const { strides: s, pads: p } = geom(attrs);
    const [n, c, t, h, wd] = x.shape;
    const [o, , kt, kh, kw] = w.shape;
    const [ot, oh, ow] = [outSize(t, kt, s[0], p[0], p[3]), outSize(h, kh, s[1], p[1], p[4]), outSize(wd, kw, s[2], p[2], p[5])];
    const out = refTensor('float32', [n, o, ot, oh, ow]);
    let yi = 0;
    for (let ni = 0; ni < n; ni++)
      for (let oi = 0; oi < o; oi++)
        for (let z = 0; z < ot; z++)
          for (let y = 0; y < oh; y++)
            for (let xx = 0; xx < ow; xx++, yi++) {
              let acc = b ? b.data[oi] : 0;
              for (let ci = 0; ci < c; ci++)
                for (let a = 0; a < kt; a++) {
                  const iz = z * s[0] - p[0] + a;
                  if (iz < 0 || iz >= t) continue;
                  for (let i = 0; i < kh; i++) {
                    const iy = y * s[1] - p[1] + i;
                    if (iy < 0 || iy >= h) continue;
                    for (let j = 0; j < kw; j++) {
                      const ix = xx * s[2] - p[2] + j;
                      if (ix < 0 || ix >= wd) continue;
                      acc += x.data[(((ni * c + ci) * t + iz) * h + iy) * wd + ix] * w.data[(((oi * c + ci) * kt + a) * kh + i) * kw + j];
                    }
                  }
                }
              out.data[yi] = acc;
            }
    return [out];
  },
  lower: (node, ctx) => {
    const { strides, pads } = geom(node.attrs);
    ctx.emit('Conv', node.inputs.map(ctx.nameOf), [ctx.nameOf(node.outputs[0])], { strides: aInts(strides), pads: aInts(pads) });
  },
});
