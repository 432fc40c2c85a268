// The activations text-encoder configs name (transformers' ACT2FN keys), as graph ops.
import type { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import type { ActivationName } from './config.js';

/** CLIP's quick_gelu: x·σ(1.702·x). */
const QUICK_GELU_ALPHA = 1.702;

export function activation(g: GraphBuilder, name: ActivationName, x: Value): Value {
  switch (name) {
    case 'relu':
      return g.relu(x);
    case 'gelu':
      return g.geluErf(x);
    // gelu_new (T5's "gated-gelu"), gelu_pytorch_tanh and gelu_fast are the same tanh approximation
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return g.gelu(x);
    case 'quick_gelu':
      return g.mul(x, g.sigmoid(g.mul(x, g.scalar(QUICK_GELU_ALPHA))));
    case 'silu':
    case 'swish':
      return g.silu(x);
  }
}
