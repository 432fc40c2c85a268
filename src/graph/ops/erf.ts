// The error function and the exact (erf) GELU: 0.5·x·(1 + erf(x/√2)), the activation PyTorch's
// nn.GELU() and transformers' "gelu" compute (CLIP text models with hidden_act "gelu", T5 with
// feed_forward_proj "gated-gelu" use the tanh form instead: GeluTanh in elementwise.ts).
import { refTensor } from '../reftensor.js';
import { aStr, defineOp } from './op.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * erf(x) in float64 to ~1e-15 (the reference interpreter's precision): the Maclaurin series below |x| = 2,
 * where its terms stay below ~3 so nothing cancels; above, 1 − erfc(x) with erfc from its continued
 * fraction (Laplace), which converges fast there. JavaScript has no Math.erf.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 2) {
    // Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)): term(n) = term(n−1) · (−x²) / n
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (a > 6) return Math.sign(x); // erfc(6) ≈ 2e-17: below float64 resolution of 1
  // erfc(a) = exp(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …))))), evaluated from the tail
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

defineOp({
  type: 'Erf',
  infer: (inputs) => [{ dtype: inputs[0].dtype, shape: inputs[0].shape }],
  ref: ([a]) => {
    const out = refTensor(a.dtype, a.shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = erf(a.data[i]);
    return [out];
  },
  lower: (node, ctx) => ctx.emit('Erf', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])]),
  // d erf(x)/dx = 2/√π · exp(−x²)
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const x = n.inputs[0];
    return [g.mul(dy, g.mul(g.scalar(TWO_OVER_SQRT_PI), g.exp(g.neg(g.mul(x, x)))))];
  },
});

defineOp({
  type: 'GeluErf',
  infer: (inputs) => [{ dtype: inputs[0].dtype, shape: inputs[0].shape }],
  ref: ([a]) => {
    const out = refTensor(a.dtype, a.shape);
    for (let i = 0; i < out.data.length; i++) {
      const x = a.data[i];
      out.data[i] = 0.5 * x * (1 + erf(x * INV_SQRT_2));
    }
    return [out];
  },
  // ONNX Gelu (opset 20) with approximate = "none" is the erf form.
  lower: (node, ctx) => ctx.emit('Gelu', [ctx.nameOf(node.inputs[0])], [ctx.nameOf(node.outputs[0])], { approximate: aStr('none') }),
  // d/dx x·Φ(x) = Φ(x) + x·φ(x), Φ(x) = (1 + erf(x/√2))/2, φ(x) = exp(−x²/2)/√(2π)
  vjp: (g, n, [dy]) => {
    if (!dy) return [undefined];
    const x = n.inputs[0];
    const cdf = g.mul(g.scalar(0.5), g.add(g.scalar(1), g.erf(g.mul(x, g.scalar(INV_SQRT_2)))));
    const pdf = g.mul(g.scalar(INV_SQRT_2PI), g.exp(g.mul(g.scalar(-0.5), g.mul(x, x))));
    return [g.mul(dy, g.add(cdf, g.mul(x, pdf)))];
  },
});
