// The op contract: every op keeps its shape rule, reference implementation, ONNX lowering and
// vector-Jacobian product side by side, so one place holds everything about it.
import type { Attrs, Node, Value, ValueType } from '../ir.js';
import type { RefTensor } from '../reftensor.js';
import type { GraphBuilder } from '../builder.js';

/** An ONNX attribute with its wire type made explicit (a JS number could be INT or FLOAT). */
export type OnnxAttr =
  | { readonly type: 'int'; readonly v: number }
  | { readonly type: 'float'; readonly v: number }
  | { readonly type: 'string'; readonly v: string }
  | { readonly type: 'ints'; readonly v: readonly number[] };

export const aInt = (v: number): OnnxAttr => ({ type: 'int', v });
export const aFloat = (v: number): OnnxAttr => ({ type: 'float', v });
export const aStr = (v: string): OnnxAttr => ({ type: 'string', v });
export const aInts = (v: readonly number[]): OnnxAttr => ({ type: 'ints', v });

/** What a lowering may do: emit ONNX nodes and create int64/float constants. */
export interface LowerCtx {
  emit(opType: string, inputs: readonly string[], outputs: readonly string[], attrs?: Record<string, OnnxAttr>, domain?: string): void;
  int64(values: readonly number[], shape?: readonly number[]): string;
  float32(values: readonly number[], shape: readonly number[]): string;
  tmp(hint: string): string;
  nameOf(v: Value): string;
}

/** Gradients of a node's inputs given gradients of its outputs (undefined = zero / not needed). */
export type Vjp = (g: GraphBuilder, node: Node, dOut: readonly (Value | undefined)[]) => (Value | undefined)[];

export interface OpDef {
  readonly type: string;
  infer(inputs: readonly ValueType[], attrs: Attrs): ValueType[];
  ref(inputs: readonly RefTensor[], attrs: Attrs): RefTensor[];
  lower(node: Node, ctx: LowerCtx): void;
  /** Absent for ops that are never differentiated (shape plumbing, comparisons, scatter). */
  vjp?: Vjp;
}

const registry = new Map<string, OpDef>();

export function defineOp(def: OpDef): OpDef {
  if (registry.has(def.type)) throw new Error(`op ${def.type} defined twice`);
  registry.set(def.type, def);
  return def;
}

export function getOp(type: string): OpDef {
  const def = registry.get(type);
  if (!def) throw new Error(`unknown op "${type}"; known: ${[...registry.keys()].sort().join(', ')}`);
  return def;
}

export function allOps(): OpDef[] {
  return [...registry.values()];
}

/** Attribute accessors with a clear error when a required attribute is missing. */
export function attrNum(attrs: Attrs, key: string, fallback?: number): number {
  const v = attrs[key];
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`missing attribute ${key}`);
    return fallback;
  }
  if (typeof v !== 'number') throw new Error(`attribute ${key} must be a number`);
  return v;
}

export function attrInts(attrs: Attrs, key: string): readonly number[] {
  const v = attrs[key];
  if (!Array.isArray(v)) throw new Error(`attribute ${key} must be a number list`);
  return v as readonly number[];
}

export function attrStr(attrs: Attrs, key: string, fallback?: string): string {
  const v = attrs[key];
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`missing attribute ${key}`);
    return fallback;
  }
  if (typeof v !== 'string') throw new Error(`attribute ${key} must be a string`);
  return v;
}
