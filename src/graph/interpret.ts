// The reference interpreter: runs a Graph with the pure-TypeScript float64 implementation of each op.
// Tests use it to check ONNX lowerings and, with finite differences, every gradient rule.
import { Graph, GraphError, Value } from './ir.js';
import { bindShape } from './dims.js';
import { RefTensor, refTensor } from './reftensor.js';
import { getOp } from './ops/index.js';

function constToRef(v: Value, data: Float32Array | BigInt64Array | Uint8Array): RefTensor {
  const arr = data instanceof BigInt64Array ? Array.from(data, (x) => Number(x)) : data;
  return refTensor(v.dtype, v.shape as number[], arr);
}

/**
 * Evaluates `graph` on `feeds` (by input name). `paramOverrides` replaces parameter data by name
 * (float64, so finite differences see exact perturbations). Returns every output by name.
 */
export function interpret(
  graph: Graph,
  feeds: Readonly<Record<string, RefTensor>>,
  paramOverrides: Readonly<Record<string, RefTensor>> = {},
): Record<string, RefTensor> {
  const env = new Map<number, RefTensor>();
  const bindings: Record<string, number> = {};
  for (const v of graph.inputs) {
    const t = feeds[v.name];
    if (!t) throw new GraphError(`${graph.name}: missing input "${v.name}"`);
    bindShape(v.shape, t.shape, bindings, `${graph.name} input ${v.name}`);
    env.set(v.id, t);
  }
  for (const p of graph.params) env.set(p.value.id, paramOverrides[p.value.name] ?? constToRef(p.value, p.data));
  for (const c of graph.consts) env.set(c.value.id, constToRef(c.value, c.data));
  for (const node of graph.nodes) {
    const ins = node.inputs.map((v) => {
      const t = env.get(v.id);
      if (!t) throw new GraphError(`${graph.name}: ${node.op} reads ${v.name} before it is computed`);
      return t;
    });
    const outs = getOp(node.op).ref(ins, node.attrs);
    node.outputs.forEach((o, i) => env.set(o.id, outs[i]));
  }
  const result: Record<string, RefTensor> = {};
  for (const o of graph.outputs) result[o.name] = env.get(o.id)!;
  return result;
}
