// The graph IR: typed values, nodes and graphs that our TypeScript writes and that are lowered to ONNX.
// Shapes may hold symbolic dims (strings like "B" or "B*256") so one graph serves any batch size.

export type DType = 'float32' | 'int64' | 'bool';

/** A dimension: a known size, or a symbol ("B") optionally times a constant ("B*256"). */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** Attribute values an op may carry. */
export type AttrValue = number | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface ValueType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** Where a value comes from: a graph input, a parameter (weight), a constant, or a node output. */
export type ValueKind = 'input' | 'param' | 'const' | 'node';

export interface Value extends ValueType {
  readonly id: number;
  readonly name: string;
  readonly kind: ValueKind;
  /** The node that produces this value (kind 'node'), and which of its outputs it is. */
  readonly producer?: Node;
  readonly outputIndex?: number;
}

export interface Node {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
}

/** Data of a parameter or constant: float32 weights or int64 index/shape constants. */
export type ConstData = Float32Array | BigInt64Array | Uint8Array;

export interface Param {
  readonly value: Value;
  data: ConstData;
}

/** A whole graph: values are created by a GraphBuilder, nodes are in topological order. */
export interface Graph {
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly params: readonly Param[];
  readonly consts: readonly Param[];
  readonly nodes: readonly Node[];
  readonly outputs: readonly Value[];
}

/** Thrown when a graph is built with inconsistent shapes or types; names the op and what disagreed. */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function describe(v: ValueType & { name?: string }): string {
  return `${v.name ?? 'value'}: ${v.dtype}${formatShape(v.shape)}`;
}
