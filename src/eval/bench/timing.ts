// Wall-clock speedup measured the only fair way on a shared machine: in one process, full and method
// runs of the same batch interleaved (order alternating per pair), speedup per pair, then its spread.
import type { RunStats } from '../../pipeline/stats.js';
import { median, spreadOf, type Spread } from './numbers.js';

export interface PairTimes {
  readonly full: RunStats;
  readonly method: RunStats;
}

export interface InterleavedTiming {
  readonly pairs: readonly PairTimes[];
  readonly speedup: Spread;
  readonly fullWallMs: number[];
  readonly methodWallMs: number[];
  /** Median over pairs of the full runs' blocksMs / wallMs. */
  readonly blocksShare: number;
  /** Median full-run wall time per step (ms). */
  readonly fullStepMs: number;
  /** Median method cacheMs / signalMs per sampled step (ms). */
  readonly cacheMsPerStep: number;
  readonly signalMsPerStep: number;
}

/**
 * `reps` pairs; even pairs run full first, odd pairs the method first, so slow drifts (another job
 * starting, thermal state) hit both sides alike. Speedup of pair r = full_r.wallMs / method_r.wallMs.
 */
export async function timeInterleaved(reps: number, runFull: () => Promise<RunStats>, runMethod: () => Promise<RunStats>): Promise<InterleavedTiming> {
  const pairs: PairTimes[] = [];
  for (let r = 0; r < reps; r++) {
    if (r % 2 === 0) {
      const full = await runFull();
      const method = await runMethod();
      pairs.push({ full, method });
    } else {
      const method = await runMethod();
      const full = await runFull();
      pairs.push({ full, method });
    }
  }
  return summariseTiming(pairs);
}

export function summariseTiming(pairs: readonly PairTimes[]): InterleavedTiming {
  if (pairs.length === 0) throw new RangeError('timing needs at least one (full, method) pair');
  const fullWallMs = pairs.map((p) => p.full.wallMs);
  const methodWallMs = pairs.map((p) => p.method.wallMs);
  return {
    pairs,
    speedup: spreadOf(pairs.map((p) => p.full.wallMs / p.method.wallMs)),
    fullWallMs,
    methodWallMs,
    blocksShare: median(pairs.map((p) => p.full.times.blocksMs / p.full.wallMs)),
    fullStepMs: median(pairs.map((p) => p.full.wallMs / p.full.steps)),
    cacheMsPerStep: median(pairs.map((p) => p.method.times.cacheMs / p.method.steps)),
    signalMsPerStep: median(pairs.map((p) => p.method.times.signalMs / p.method.steps)),
  };
}

/** Issue 5's floor for the wall speedup of a run that skips a fraction f of block FLOPs: 0.9 / (1 − f·b). */
export function speedupFloor(blockComputeRatio: number, blocksShare: number): number {
  const f = 1 - blockComputeRatio;
  return 0.9 / (1 - f * blocksShare);
}
