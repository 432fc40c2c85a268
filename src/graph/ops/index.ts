// Registers every op (importing a module defines its ops) and the trivial Identity.
import { defineOp } from './op.js';
import './elementwise.js';
import './linalg.js';
import './shape.js';
import './reduce.js';
import './conv.js';
import './groupnorm.js';
import './resize.js';
import './erf.js';
import './conv3d.js';
import './l2normalize.js';

defineOp({
  type: 'Identity',
  infer: ([a]) => [{ dtype: a.dtype, shape: a.shape }],
  ref: ([a]) => [a],
  lower: (node, ctx) => ctx.emit('Identity', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])]),
  vjp: (_g, _n, [dy]) => [dy],
});

export { getOp, allOps } from './op.js';
