// Arithmetic on dims that may be symbolic ("B", "B*256"): enough to check shapes at build time
// for graphs with a dynamic batch, and to bind symbols to sizes when a graph runs.
import { Dim, GraphError, Shape, formatShape } from './ir.js';

/** A dim as (symbol, factor): "B*256" → {sym: "B", k: 256}; 7 → {sym: undefined, k: 7}. */
interface SymDim {
  sym: string | undefined;
  k: number;
}

function parse(d: Dim): SymDim {
  if (typeof d === 'number') return { sym: undefined, k: d };
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\*(\d+))?$/.exec(d);
  if (!m) throw new GraphError(`malformed symbolic dim "${d}" (expected "S" or "S*k")`);
  return { sym: m[1], k: m[2] === undefined ? 1 : Number(m[2]) };
}

function make(sym: string | undefined, k: number): Dim {
  if (sym === undefined) return k;
  return k === 1 ? sym : `${sym}*${k}`;
}

export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

export function isKnown(d: Dim): d is number {
  return typeof d === 'number';
}

/** Product of dims; symbolic only when exactly one symbol occurs once. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let sym: string | undefined;
  let k = 1;
  for (const d of dims) {
    const p = parse(d);
    if (p.sym !== undefined) {
      if (sym !== undefined) throw new GraphError(`product of two symbolic dims (${sym}, ${p.sym}) is not supported`);
      sym = p.sym;
    }
    k *= p.k;
  }
  return make(sym, k);
}

/** a / b where the division must be exact (used by Reshape's -1). */
export function dimDivide(a: Dim, b: Dim, context: string): Dim {
  const pa = parse(a);
  const pb = parse(b);
  if (pb.sym !== undefined) {
    if (pb.sym !== pa.sym) throw new GraphError(`${context}: cannot divide ${a} by ${b}`);
    if (pa.k % pb.k !== 0) throw new GraphError(`${context}: ${a} is not divisible by ${b}`);
    return pa.k / pb.k;
  }
  if (pa.k % pb.k !== 0) throw new GraphError(`${context}: ${a} is not divisible by ${b}`);
  return make(pa.sym, pa.k / pb.k);
}

/** NumPy broadcasting of two shapes; throws with both shapes named when they disagree. */
export function broadcastShapes(a: Shape, b: Shape, context: string): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
    const db = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new GraphError(`${context}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (axis ${i}: ${da} vs ${db})`);
  }
  return out;
}

/** Binds symbols to sizes: {B: 8} turns "B*256" into 2048. */
export function resolveShape(shape: Shape, bindings: Readonly<Record<string, number>>): number[] {
  return shape.map((d) => {
    const p = parse(d);
    if (p.sym === undefined) return p.k;
    const v = bindings[p.sym];
    if (v === undefined) throw new GraphError(`symbolic dim ${p.sym} is not bound (shape ${formatShape(shape)})`);
    return v * p.k;
  });
}

/** Learns symbol bindings from an actual shape matched against a declared one; checks known dims. */
export function bindShape(declared: Shape, actual: readonly number[], bindings: Record<string, number>, what: string): void {
  if (declared.length !== actual.length) {
    throw new GraphError(`${what}: expected rank ${declared.length} ${formatShape(declared)}, got ${formatShape(actual)}`);
  }
  declared.forEach((d, i) => {
    const p = parse(d);
    if (p.sym === undefined) {
      if (p.k !== actual[i]) throw new GraphError(`${what}: expected shape ${formatShape(declared)}, got ${formatShape(actual)}`);
      return;
    }
    if (actual[i] % p.k !== 0) throw new GraphError(`${what}: dim ${i} = ${actual[i]} is not a multiple of ${p.k}`);
    const v = actual[i] / p.k;
    const prev = bindings[p.sym];
    if (prev !== undefined && prev !== v) {
      throw new GraphError(`${what}: symbol ${p.sym} is ${prev} elsewhere but ${v} here (shape ${formatShape(actual)})`);
    }
    bindings[p.sym] = v;
  });
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
