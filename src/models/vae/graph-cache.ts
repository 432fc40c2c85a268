// A small least-recently-used cache of compiled graphs keyed by input size. Each compiled VAE graph holds
// its own copy of the weights (ORT initializers), so only a few sizes are kept and evicted ones released.
import { Graph } from '../../graph/ir.js';
import { CompiledGraph, RuntimeOptions } from '../../runtime/session.js';

export class GraphCache {
  private readonly entries = new Map<string, Promise<CompiledGraph>>();

  constructor(
    private readonly capacity: number,
    private readonly threads: number,
    /** Further session options for every graph (e.g. memArena); threads above wins. */
    private readonly runtime: RuntimeOptions = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`graph cache capacity must be a positive integer, got ${capacity}`);
  }

  /**
   * The compiled graph for `key`, built with `build` on first use. The caller must not hold a graph
   * from this cache across a later `get` (an eviction releases it): the VAE serialises its runs.
   */
  async get(key: string, build: () => Graph): Promise<CompiledGraph> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: Map order is the recency order
    } else {
      entry = CompiledGraph.create(build(), { ...this.runtime, threads: this.threads });
      // A failed compile must not stay cached.
      entry.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const [oldest, evicted] = this.entries.entries().next().value as [string, Promise<CompiledGraph>];
      this.entries.delete(oldest);
      await evicted.then((g) => g.release(), () => undefined);
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((p) => p.then((g) => g.release(), () => undefined)));
  }
}
