// Model weights as a source graphs draw from while they are built: an in-memory map, or LazyWeights that
// convert (and, from a safetensors file, read) each tensor only when a graph needs it. Once the graph's
// session holds the weights, nothing in JS keeps them — a model's weights then live once, in onnxruntime.

/** What a model needs of its weights: each tensor by key, and optionally its size without loading it. */
export interface WeightSource {
  get(key: string): Float32Array | undefined;
  keys(): IterableIterator<string>;
  /** element count without loading the tensor (LazyWeights); a plain Map answers through get */
  numel?(key: string): number | undefined;
}

export interface LazyTensor {
  readonly numel: number;
  /** a fresh Float32Array (callers may keep or drop it) */
  load(): Float32Array;
}

/** Weights loaded on demand, each time asked for (nothing is cached here). */
export class LazyWeights implements WeightSource {
  constructor(private readonly entries: ReadonlyMap<string, LazyTensor>) {}

  get(key: string): Float32Array | undefined {
    return this.entries.get(key)?.load();
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  numel(key: string): number | undefined {
    return this.entries.get(key)?.numel;
  }

  /** Every tensor loaded into one map (for tools that edit weights, and tests). */
  materialize(): Map<string, Float32Array> {
    return new Map([...this.entries].map(([k, t]) => [k, t.load()] as const));
  }
}

/** Element count of a weight without loading it where the source can tell. */
export function weightNumel(w: WeightSource, key: string): number | undefined {
  return w.numel ? w.numel(key) : w.get(key)?.length;
}

/**
 * What keeps `weights` from matching a model's expected parameter shapes: every missing key, every wrong
 * element count, every key the model does not have — all at once, for one error (empty when they match).
 */
export function weightProblems(expected: ReadonlyMap<string, readonly number[]>, weights: WeightSource): string[] {
  const problems: string[] = [];
  for (const [k, shape] of expected) {
    const have = weightNumel(weights, k);
    const n = shape.reduce((a, b) => a * b, 1);
    if (have === undefined) problems.push(`missing ${k} [${shape.join(', ')}]`);
    else if (have !== n) problems.push(`${k}: expected [${shape.join(', ')}] (${n} values), got ${have} values`);
  }
  for (const k of weights.keys()) if (!expected.has(k)) problems.push(`unexpected ${k}`);
  return problems;
}
