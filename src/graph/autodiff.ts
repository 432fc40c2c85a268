// Reverse-mode automatic differentiation over the graph IR: walks the nodes backwards from a scalar
// loss, asks each op's VJP for input gradients and sums gradients that meet at one value.
import { GraphError, Value, describe } from './ir.js';
import { GraphBuilder } from './builder.js';
import { getOp } from './ops/index.js';

/**
 * Appends the backward pass of `loss` (a scalar, or any tensor seeded with ones) to `g` and returns
 * the gradient of each value in `wrt` (a zero tensor where the loss does not depend on it).
 * Nodes are visited in reverse creation order, which is a reverse topological order.
 */
export function gradients(g: GraphBuilder, loss: Value, wrt: readonly Value[], seed?: Value): Value[] {
  if (!seed && loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new GraphError(`gradients: loss must be a scalar, got ${describe(loss)} (pass a seed for non-scalar outputs)`);
  }
  const graph = g.build();
  const grads = new Map<number, Value>();
  grads.set(loss.id, seed ?? g.reshapeLike(g.scalar(1), loss));
  const accumulate = (v: Value, d: Value): void => {
    const prev = grads.get(v.id);
    grads.set(v.id, prev ? g.add(prev, d) : d);
  };
  // Only nodes on a path from a wrt value to the loss need their VJP.
  const needed = new Set<number>(wrt.map((v) => v.id));
  for (const node of graph.nodes) {
    if (node.inputs.some((v) => needed.has(v.id))) node.outputs.forEach((o) => needed.add(o.id));
  }
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    const dOut = node.outputs.map((o) => grads.get(o.id));
    if (dOut.every((d) => !d)) continue;
    if (!node.inputs.some((v) => needed.has(v.id))) continue;
    const vjp = getOp(node.op).vjp;
    if (!vjp) {
      if (node.inputs.some((v) => needed.has(v.id) && v.dtype === 'float32')) {
        throw new GraphError(`gradients: op ${node.op} has no gradient rule but lies between the loss and a parameter`);
      }
      continue;
    }
    const dIn = vjp(g, node, dOut);
    node.inputs.forEach((v, k) => {
      const d = dIn[k];
      if (d && needed.has(v.id)) accumulate(v, d);
    });
  }
  return wrt.map((v) => grads.get(v.id) ?? g.zerosLike(v));
}
