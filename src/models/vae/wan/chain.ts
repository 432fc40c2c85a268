// Runs a sequence of chunk graphs that share state: each run's state outputs ("next.<key>") and the state
// frames it carries over become the next run's state inputs ("cache.<key>"). A state no run has written yet is fed as zeros — the causal zero
// padding — which is only right before the first run, or for states the caller says start later (the
// temporal upsamplers, whose time_conv skips the first chunk); any other missing state is an error, so two
// graphs that disagree about their state cannot pass silently.
import type { CompiledGraph, Feed } from '../../../runtime/session.js';
import { numel } from '../../tensor.js';
import { ChunkState, stateInputName, stateOutputName } from './graph.js';

/** What the chain needs to know of a compiled chunk graph. */
export interface ChunkSpec {
  readonly reads: readonly ChunkState[];
  readonly writes: readonly ChunkState[];
}

export class ChunkChain {
  private state = new Map<string, Float32Array>();
  private runs = 0;

  constructor(
    /** Names the chain in errors ("decoder head", "encoder"). */
    private readonly label: string,
    /** Whether state `key` may still be unwritten (zeros) at run `run` > 0. */
    private readonly startsLate: (key: string, run: number) => boolean = () => false,
  ) {}

  /** Runs `graph` on `feeds` plus the state it reads; keeps the state it writes; returns its outputs. */
  async run(graph: CompiledGraph, spec: ChunkSpec, feeds: Readonly<Record<string, Feed>>, batch: number): Promise<Record<string, Feed>> {
    const all: Record<string, Feed> = { ...feeds };
    for (const r of spec.reads) {
      const kept = this.state.get(r.key);
      if (!kept && this.runs > 0 && !this.startsLate(r.key, this.runs)) {
        throw new Error(`Wan VAE ${this.label}: run ${this.runs} reads state ${r.key}, which no earlier run wrote`);
      }
      const shape = [batch, ...r.shape];
      all[stateInputName(r.key)] = { data: kept ?? new Float32Array(numel(shape)), shape };
    }
    const out = await graph.run(all);
    // Replace, not merge: the old state is the largest thing alive between runs and must become garbage.
    const fed = (key: string): Float32Array => all[stateInputName(key)].data as Float32Array;
    this.state = new Map(spec.writes.map((w) => [w.key, w.carriedFrom ? fed(w.carriedFrom) : (out[stateOutputName(w.key)].data as Float32Array)]));
    this.runs++;
    return out;
  }
}
