// Where a sampling run's wall time went, per sampled step: the pipeline's phase clocks (embed, blocks,
// head, signal, cache, sampler) divided by the steps, the rest as "other"; and the median over several runs.
import type { RunStats } from '../../pipeline/stats.js';
import { median } from './numbers.js';
import type { StepSplitMs } from './rows.js';

export function stepSplit(s: Pick<RunStats, 'times' | 'wallMs' | 'steps'>): StepSplitMs {
  const t = s.times;
  const per = (ms: number): number => ms / s.steps;
  const phases = t.embedMs + t.blocksMs + t.headMs + t.signalMs + t.cacheMs + t.samplerMs;
  return {
    embed: per(t.embedMs),
    blocks: per(t.blocksMs),
    head: per(t.headMs),
    signal: per(t.signalMs),
    cache: per(t.cacheMs),
    sampler: per(t.samplerMs),
    other: per(s.wallMs - phases),
    total: per(s.wallMs),
  };
}

/** Each phase's median over the runs (the phases of the result need not add up to its total exactly). */
export function medianSplit(runs: readonly Pick<RunStats, 'times' | 'wallMs' | 'steps'>[]): StepSplitMs {
  if (runs.length === 0) throw new RangeError('a step split needs at least one run');
  const splits = runs.map(stepSplit);
  const m = (k: keyof StepSplitMs): number => median(splits.map((x) => x[k]));
  return { embed: m('embed'), blocks: m('blocks'), head: m('head'), signal: m('signal'), cache: m('cache'), sampler: m('sampler'), other: m('other'), total: m('total') };
}
