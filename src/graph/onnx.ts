// Lowers a Graph to an ONNX ModelProto (opset 20) with each op's lowering, dropping nodes that
// no output needs. Parameters become initializers (inference) or graph inputs (training).
import onnxProto from 'onnx-proto';
import { DType, Graph, Node, Param, Value } from './ir.js';
import { getOp } from './ops/index.js';
import type { LowerCtx, OnnxAttr } from './ops/op.js';

const { onnx } = onnxProto;

export const OPSET = 20;
const IR_VERSION = 9;

const ELEM: Record<DType, number> = { float32: 1, int64: 7, bool: 9 };

export interface LowerOptions {
  /** Parameters as graph inputs (fed every run, e.g. while training) instead of initializers. */
  paramsAsInputs?: boolean;
}

function valueInfo(name: string, dtype: DType, shape: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d.replace('*', '_x') })) },
      },
    },
  };
}

function tensorProto(name: string, dtype: DType, shape: readonly number[], data: Float32Array | BigInt64Array | Uint8Array): onnxProto.onnx.ITensorProto {
  return {
    name,
    dataType: ELEM[dtype],
    dims: [...shape],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function attrProto(name: string, a: OnnxAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'int': return { name, type: T.INT, i: a.v };
    case 'float': return { name, type: T.FLOAT, f: a.v };
    case 'string': return { name, type: T.STRING, s: new TextEncoder().encode(a.v) };
    case 'ints': return { name, type: T.INTS, ints: [...a.v] };
  }
}

/** Nodes that some output depends on, in original order. */
function liveNodes(graph: Graph): Node[] {
  const live = new Set<number>(graph.outputs.map((o) => o.id));
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((o) => live.has(o.id))) {
      keep.push(n);
      n.inputs.forEach((v) => live.add(v.id));
    }
  }
  return keep.reverse();
}

export function toOnnxModel(graph: Graph, opts: LowerOptions = {}): Uint8Array {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  let tmpCount = 0;
  const ctx: LowerCtx = {
    emit(opType, inputs, outputs, attrs, domain) {
      nodes.push({
        opType,
        domain: domain ?? '',
        input: [...inputs],
        output: [...outputs],
        name: `${opType}_${nodes.length}`,
        attribute: Object.entries(attrs ?? {}).map(([k, v]) => attrProto(k, v)),
      });
    },
    int64(values, shape) {
      const name = `__i64_${tmpCount++}`;
      initializers.push(tensorProto(name, 'int64', shape ?? [values.length], BigInt64Array.from(values.map((x) => BigInt(x)))));
      return name;
    },
    float32(values, shape) {
      const name = `__f32_${tmpCount++}`;
      initializers.push(tensorProto(name, 'float32', shape, Float32Array.from(values)));
      return name;
    },
    tmp(hint) {
      return `__${hint}_${tmpCount++}`;
    },
    nameOf: (v: Value) => v.name,
  };
  const keep = liveNodes(graph);
  const used = new Set<number>();
  keep.forEach((n) => n.inputs.forEach((v) => used.add(v.id)));
  graph.outputs.forEach((o) => used.add(o.id));
  for (const n of keep) getOp(n.op).lower(n, ctx);

  const inputs = graph.inputs.map((v) => valueInfo(v.name, v.dtype, v.shape));
  const addConst = (p: Param): void => {
    if (!used.has(p.value.id)) return;
    initializers.push(tensorProto(p.value.name, p.value.dtype, p.value.shape as number[], p.data));
  };
  for (const p of graph.params) {
    if (opts.paramsAsInputs) inputs.push(valueInfo(p.value.name, 'float32', p.value.shape));
    else addConst(p);
  }
  graph.consts.forEach(addConst);

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'tcpade',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: graph.outputs.map((v) => valueInfo(v.name, v.dtype, v.shape)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
