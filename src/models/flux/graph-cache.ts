// Compiled FLUX graphs grouped by token counts (a "geometry": text + image tokens fix every graph's shapes).
// Each group holds its own copy of the weights inside onnxruntime, so only the most recently used groups are
// kept; an evicted group's sessions are released once no run is still using them.
import { Graph } from '../../graph/ir.js';
import { CompiledGraph, RuntimeOptions } from '../../runtime/session.js';

interface Group {
  readonly graphs: Map<string, Promise<CompiledGraph>>;
  /** runs in progress on this group's sessions */
  active: number;
  /** evicted: release the sessions when the last run ends */
  retired: boolean;
}

export class GeometryGraphCache {
  private readonly groups = new Map<string, Group>(); // Map order = recency order
  private compileMsTotal = 0;

  constructor(
    private readonly capacity: number,
    private readonly runtime: RuntimeOptions,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`the number of cached geometries must be a positive integer, got ${capacity}`);
  }

  /** Wall time spent building graphs and creating sessions so far (ms). */
  get compileMs(): number {
    return this.compileMsTotal;
  }

  /** Geometries with compiled graphs held now. */
  get geometries(): string[] {
    return [...this.groups.keys()];
  }

  /**
   * Runs `use` on the graph `name` of geometry `geometry`, compiled from `build()` on first use. The
   * session stays alive until `use` settles even if the geometry is evicted meanwhile.
   */
  async run<T>(geometry: string, name: string, build: () => Graph, use: (g: CompiledGraph) => Promise<T>): Promise<T> {
    const group = this.touch(geometry);
    group.active++;
    try {
      let p = group.graphs.get(name);
      if (!p) {
        const started = performance.now();
        // Counted before any awaiting caller resumes, so its clock never sees the compile.
        const created = (async () => CompiledGraph.create(build(), this.runtime))().finally(() => {
          this.compileMsTotal += performance.now() - started;
        });
        p = created;
        group.graphs.set(name, created);
        // A failed compile must not stay cached.
        created.catch(() => group.graphs.get(name) === created && group.graphs.delete(name));
      }
      return await use(await p);
    } finally {
      group.active--;
      if (group.retired && group.active === 0) await releaseAll(group);
    }
  }

  /** The group of a geometry, now the most recent; evicts the least recent beyond capacity. */
  private touch(geometry: string): Group {
    let group = this.groups.get(geometry);
    if (group) this.groups.delete(geometry);
    else group = { graphs: new Map(), active: 0, retired: false };
    this.groups.set(geometry, group);
    while (this.groups.size > this.capacity) {
      const [oldest, evicted] = this.groups.entries().next().value as [string, Group];
      this.groups.delete(oldest);
      evicted.retired = true;
      if (evicted.active === 0) void releaseAll(evicted);
    }
    return group;
  }

  /** Releases every session (callers must not run graphs concurrently with this). */
  async clear(): Promise<void> {
    const all = [...this.groups.values()];
    this.groups.clear();
    await Promise.all(all.map(releaseAll));
  }
}

async function releaseAll(group: Group): Promise<void> {
  const graphs = [...group.graphs.values()];
  group.graphs.clear();
  // A session that failed to compile or to release has nothing left to free.
  await Promise.all(graphs.map((p) => p.then((g) => g.release()).catch(() => undefined)));
}
