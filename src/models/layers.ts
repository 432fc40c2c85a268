// Layers every family's graphs share, written with the graph DSL: a parameter source and PyTorch's Linear.
import { GraphBuilder } from '../graph/builder.js';
import { Value } from '../graph/ir.js';

/** Supplies a parameter by its checkpoint key with its PyTorch shape. */
export type ParamSource = (g: GraphBuilder, key: string, shape: readonly number[]) => Value;

/** y = x·Wᵀ + b for x [..., in] with a PyTorch Linear weight [out, in]: one Gemm on flattened rows. */
export function linear(g: GraphBuilder, P: ParamSource, x: Value, key: string, inF: number, outF: number): Value {
  const w = P(g, `${key}.weight`, [outF, inF]);
  const b = P(g, `${key}.bias`, [outF]);
  if (x.shape.length === 2) return g.gemm(x, w, { transB: 1 }, b);
  const lead = x.shape.slice(1, -1) as number[];
  const y = g.gemm(g.reshape(x, [-1, inF]), w, { transB: 1 }, b);
  return g.reshape(y, [-1, ...lead, outF]);
}
