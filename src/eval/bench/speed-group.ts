// The rows of one (speed-only model, step count) group: every variant's wall speedup against the full run,
// its ideal (1 / block compute) and the per-step time split, and no quality runs (a synthetic model's samples
// are noise). Full runs are shared along one chain F₀ M₁ F₁ M₂ F₂ …: each method run is paired with the full
// run just before it (full first) and the one just after it (method first) — the bench's alternating pairs
// with half the full runs, which is what makes a DiT-XL run fit on two cores. The `none` row pairs
// consecutive full runs. A short untimed run of each cache method builds its graphs first; a timed run
// that still compiled one is thrown away and run again. Each timed run's process CPU time is recorded too:
// it barely grows when other work shares the cores, so it checks the wall numbers on a busy machine.
import os from 'node:os';
import { type Denoiser, classCount } from '../../models/denoiser.js';
import { generate } from '../../pipeline/generate.js';
import { splitSteps, type RunStats } from '../../pipeline/stats.js';
import type { BenchConfig } from './config.js';
import { variantChoice } from './measure-row.js';
import type { ModelEntry } from './model-entries.js';
import { median, spreadOf } from './numbers.js';
import { rowKey, type ModelRecord, type SpeedRow } from './rows.js';
import { medianSplit } from './step-split.js';
import { summariseTiming, type PairTimes } from './timing.js';
import { fewerStepsVariants, type Variant } from './variants.js';

/** Runs repeated at most this often because they compiled a graph; then the run is kept as it is. */
const MAX_WARMUP_RUNS = 2;
/** Steps of the untimed run that compiles and warms the full path before a group's chain. */
const WARM_STEPS = 2;
/**
 * Steps of the untimed run of a cache method before its timed one: enough for its stages and partial
 * steps to build their graphs, far cheaper than throwing away a whole DiT-XL run that compiled one.
 */
const METHOD_WARM_STEPS = 8;
/** Below this share of memory available, the model's sessions are freed after a row (recompiled on use). */
const LOW_MEMORY_FRACTION = 0.25;

export interface SpeedGroupContext {
  readonly config: BenchConfig;
  readonly model: Denoiser;
  readonly entry: ModelEntry;
  readonly steps: number;
  readonly teacache: ModelRecord['teacache'];
  readonly machine: string;
  /** Cached (non-`none`) variants to measure, in order. */
  readonly variants: readonly Variant[];
  /** Whether the matched fewer-steps row belongs to the group (`--methods`). */
  readonly includeFewerSteps: boolean;
  /** Whether a row is already in the result file. */
  readonly done: (key: string) => boolean;
  /** Computed steps of the group's cached rows in the file (fewer-steps is matched to their median). */
  readonly cachedComputedSteps: () => number[];
  /** Saves a finished row (atomically, at once). */
  readonly save: (row: SpeedRow) => void;
  readonly aborted: () => boolean;
  readonly onRowStart?: (label: string) => void;
  readonly onRow?: (row: SpeedRow) => void;
  readonly onUnits?: (sampleSteps: number) => void;
  readonly onLog?: (message: string) => void;
}

export interface SpeedGroupOutcome {
  readonly measured: number;
  readonly skipped: number;
  /** "key failed: error" per row whose measurement threw (not saved; --resume retries it). */
  readonly failed: readonly string[];
}

interface Timed {
  readonly stats: RunStats;
  readonly warmups: number;
}

export async function runSpeedGroup(ctx: SpeedGroupContext): Promise<SpeedGroupOutcome> {
  const { config, model, steps } = ctx;
  const tn = config.timingN;
  const labels = Array.from({ length: tn }, (_, i) => i % classCount(model));
  // One batch of tn samples: every sampler step is tn sample-steps.
  const units = (): void => ctx.onUnits?.(tn);
  const base = { labels, seed: config.seed, sampler: ctx.entry.sampler, cfgScale: config.cfgScale, batchSize: tn, onStep: units };
  const keyOf = (v: Variant): string => rowKey(ctx.entry.name, steps, v.method, v.preset);

  /** Process CPU time (all threads, user + system) of each timed run (ms). */
  const cpuMs = new WeakMap<RunStats, number>();
  const timed = async (run: () => Promise<RunStats>): Promise<Timed> => {
    for (let warmups = 0; ; warmups++) {
      const cpu0 = process.cpuUsage();
      const stats = await run();
      const cpu = process.cpuUsage(cpu0);
      cpuMs.set(stats, (cpu.user + cpu.system) / 1000);
      if (stats.setupMs <= 0 || warmups >= MAX_WARMUP_RUNS) return { stats, warmups };
    }
  };
  const cpuTiming = (pairs: readonly PairTimes[]): SpeedRow['cpuTiming'] => {
    const fullCpuMs = pairs.map((p) => cpuMs.get(p.full) ?? NaN);
    const methodCpuMs = pairs.map((p) => cpuMs.get(p.method) ?? NaN);
    return { speedup: spreadOf(fullCpuMs.map((f, k) => f / methodCpuMs[k])), fullCpuMs, methodCpuMs };
  };
  const warmFullPath = async (): Promise<void> => {
    await generate(model, { ...base, steps: WARM_STEPS });
  };
  /** This invocation's full runs of the group, in the order they ran. */
  const fulls: RunStats[] = [];
  /** Runs thrown away (they compiled a graph) since the current row started; full runs thrown away in all. */
  let rowWarmups = 0;
  let fullRunWarmups = 0;
  const nextFull = async (): Promise<RunStats> => {
    const r = await timed(async () => (await generate(model, { ...base, steps })).stats);
    fulls.push(r.stats);
    rowWarmups += r.warmups;
    fullRunWarmups += r.warmups;
    return r.stats;
  };

  let measured = 0;
  let skipped = 0;
  const failed: string[] = [];
  let loadAtStart = 0;
  const loadAverage = (): SpeedRow['loadAverage'] => ({ start: loadAtStart, end: os.loadavg()[0] });
  const measure = async (v: Variant, build: () => Promise<SpeedRow>): Promise<void> => {
    if (ctx.done(keyOf(v))) {
      skipped++;
      return;
    }
    if (ctx.aborted()) return;
    ctx.onRowStart?.(`${ctx.entry.name} @ ${steps}: ${v.method}/${v.preset} (speed only)`);
    rowWarmups = 0;
    loadAtStart = os.loadavg()[0];
    try {
      const row = await build();
      ctx.save(row);
      ctx.onRow?.(row);
      measured++;
    } catch (e) {
      const msg = `${keyOf(v)} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
      failed.push(msg);
      ctx.onLog?.(msg);
    }
    if (os.freemem() < LOW_MEMORY_FRACTION * os.totalmem()) {
      ctx.onLog?.(`${ctx.entry.name}: ${(os.freemem() / 2 ** 30).toFixed(1)} GiB of memory left; the model's compiled sessions are freed (recompiled, untimed, on next use)`);
      await model.release();
      await warmFullPath();
    }
  };

  const common = (v: Variant, stepsRun: number) => ({
    key: keyOf(v),
    model: ctx.entry.name,
    modelPath: ctx.entry.shownPath,
    objective: ctx.entry.objective,
    sampler: ctx.entry.sampler,
    steps,
    stepsRun,
    method: v.method,
    preset: v.preset,
    label: v.method === 'fewer-steps' ? `fewer-steps ${stepsRun}/${steps}` : `${v.method}/${v.preset}`,
    samples: tn,
    modelRows: tn * (config.cfgScale === 1 ? 1 : 2),
    seed: config.seed,
    cfgScale: config.cfgScale,
    threads: config.threads,
    machine: ctx.machine,
  });

  const methodRow = async (v: Variant): Promise<SpeedRow> => {
    const choice = variantChoice(v, steps, ctx.teacache, ctx.entry.synthetic ? undefined : ctx.entry.path);
    const runMethod = async (): Promise<RunStats> => (await generate(model, { ...base, steps: choice.steps, cache: choice.method })).stats;
    const warmSteps = choice.method ? Math.min(choice.steps, METHOD_WARM_STEPS) : 0;
    if (warmSteps > 0) await generate(model, { ...base, steps: warmSteps, cache: choice.method });
    const pairs: PairTimes[] = [];
    const methodRuns: RunStats[] = [];
    let before = fulls.at(-1) ?? (await nextFull());
    while (pairs.length < config.reps) {
      const m = await timed(runMethod);
      rowWarmups += m.warmups;
      methodRuns.push(m.stats);
      pairs.push({ full: before, method: m.stats });
      // Always end on a full run: the next row's first pair needs one just before its method run.
      const after = await nextFull();
      if (pairs.length < config.reps) pairs.push({ full: after, method: m.stats });
      before = after;
    }
    const t = summariseTiming(pairs);
    const cpu = cpuTiming(pairs);
    // fewer-steps computes K of the requested steps: its block compute counts against the request.
    const ratio = (median(methodRuns.map((r) => r.blockComputeRatio)) * choice.steps) / steps;
    const settings: SpeedRow['settings'] = v.method === 'fewer-steps' ? { steps: choice.steps, requestedSteps: steps, derivedFrom: (v.derivedFrom ?? []).join(',') } : { ...(choice.method?.settings ?? {}) };
    const first = methodRuns[0];
    return {
      ...common(v, choice.steps),
      settings,
      date: new Date().toISOString(),
      blockComputeRatio: ratio,
      computedSteps: ratio * steps,
      idealSpeedup: 1 / ratio,
      predictedPasses: first.predictedCount,
      computedPasses: first.computedCount,
      timing: { speedup: t.speedup, fullWallMs: t.fullWallMs, methodWallMs: t.methodWallMs, reps: pairs.length, samples: tn },
      speedupWall: t.speedup.median,
      speedupOverIdeal: t.speedup.median * ratio,
      cpuTiming: cpu,
      cpuSpeedupOverIdeal: cpu.speedup.median * ratio,
      blocksShare: t.blocksShare,
      split: medianSplit(methodRuns),
      cacheBytesPeak: Math.max(...methodRuns.map((r) => r.cacheBytesPeak)),
      splitSteps: splitSteps(first),
      warmSteps,
      warmupRuns: rowWarmups,
      loadAverage: loadAverage(),
    };
  };

  const noneRow = async (v: Variant): Promise<SpeedRow> => {
    while (fulls.length < config.reps + 1) await nextFull();
    const runs = fulls.slice(-(config.reps + 1));
    const pairs: PairTimes[] = runs.slice(1).map((full, k) => ({ full: runs[k], method: full }));
    const t = summariseTiming(pairs);
    const cpu = cpuTiming(pairs);
    return {
      ...common(v, steps),
      settings: {},
      date: new Date().toISOString(),
      blockComputeRatio: 1,
      computedSteps: steps,
      idealSpeedup: 1,
      predictedPasses: 0,
      computedPasses: runs[0].computedCount,
      timing: { speedup: t.speedup, fullWallMs: t.fullWallMs, methodWallMs: t.methodWallMs, reps: pairs.length, samples: tn },
      speedupWall: t.speedup.median,
      speedupOverIdeal: t.speedup.median,
      cpuTiming: cpu,
      cpuSpeedupOverIdeal: cpu.speedup.median,
      blocksShare: t.blocksShare,
      split: medianSplit(runs),
      cacheBytesPeak: 0,
      splitSteps: 0,
      warmSteps: 0,
      warmupRuns: fullRunWarmups,
      loadAverage: loadAverage(),
    };
  };

  const none: Variant = { method: 'none', preset: 'default' };
  const pending = [...ctx.variants, none].some((v) => !ctx.done(keyOf(v)));
  if (pending) {
    ctx.onLog?.(`${ctx.entry.name} @ ${steps} steps: speed only, ${tn} sample(s) × ${config.cfgScale === 1 ? 1 : 2} branch(es), chained full/method pairs`);
    await warmFullPath();
  }
  for (const v of ctx.variants) {
    if (ctx.aborted()) break;
    await measure(v, () => methodRow(v));
  }
  if (ctx.includeFewerSteps && !ctx.aborted()) {
    // Only the matched row: a fewer-steps run does the full run's work per step, so its speedup is its ideal by construction.
    for (const v of fewerStepsVariants(steps, [], ctx.cachedComputedSteps())) {
      if (ctx.aborted()) break;
        await measure(v, () => methodRow(v));
    }
  }
  if (!ctx.aborted()) await measure(none, () => noneRow(none));
  return { measured, skipped, failed };
}
