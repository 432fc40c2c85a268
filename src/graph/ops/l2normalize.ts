// L2Normalize: x / max(‖x‖₂ along one axis, epsilon) — PyTorch's F.normalize(x, p=2, dim=axis, eps).
// The Wan video VAE's RMS norm is this over the channel axis, times √C and a per-channel gamma.
// Inference only: no gradient rule.
import { GraphError, describe } from '../ir.js';
import { numel } from '../dims.js';
import { normAxis, refTensor } from '../reftensor.js';
import { aFloat, aInt, attrNum, defineOp } from './op.js';

defineOp({
  type: 'L2Normalize',
  infer: ([x], attrs) => {
    const axis = attrNum(attrs, 'axis');
    const eps = attrNum(attrs, 'epsilon');
    if (!Number.isInteger(axis) || axis < -x.shape.length || axis >= x.shape.length) throw new GraphError(`L2Normalize: axis ${axis} is out of range for ${describe(x)}`);
    if (!(eps > 0)) throw new GraphError(`L2Normalize: epsilon must be positive, got ${eps}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  ref: ([x], attrs) => {
    const axis = normAxis(attrNum(attrs, 'axis'), x.shape.length);
    const eps = attrNum(attrs, 'epsilon');
    const n = x.shape[axis];
    const inner = numel(x.shape.slice(axis + 1));
    const outer = numel(x.shape.slice(0, axis));
    const out = refTensor(x.dtype, x.shape);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const at = (k: number): number => (o * n + k) * inner + i;
        let ss = 0;
        for (let k = 0; k < n; k++) ss += x.data[at(k)] ** 2;
        const norm = Math.max(Math.sqrt(ss), eps);
        for (let k = 0; k < n; k++) out.data[at(k)] = x.data[at(k)] / norm;
      }
    return [out];
  },
  lower: (node, ctx) => {
    // ONNX LpNormalization divides by the bare norm (no epsilon floor), so the floor is spelled out.
    const x = ctx.nameOf(node.inputs[0]);
    const norm = ctx.tmp('l2_norm');
    const floored = ctx.tmp('l2_floored');
    ctx.emit('ReduceL2', [x, ctx.int64([attrNum(node.attrs, 'axis')])], [norm], { keepdims: aInt(1) });
    ctx.emit('Max', [norm, ctx.float32([attrNum(node.attrs, 'epsilon')], [])], [floored]);
    ctx.emit('Div', [x, floored], [ctx.nameOf(node.outputs[0])]);
  },
});
