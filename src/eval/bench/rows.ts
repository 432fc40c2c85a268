// The result file of a bench run (bench/results/<run>.json): header (config, machine, commit, models),
// one row per (model, steps, method, preset) — speed-only rows of synthetic models apart —, the prediction
// study; rewritten atomically after each row.
import fs from 'node:fs';
import { writeFileAtomicSync } from '../../io/atomic.js';
import type { SettingValue } from '../../cache/contract.js';
import type { GitInfo, MachineInfo } from './machine.js';
import type { Spread } from './numbers.js';
import type { StudyRecord } from './study-run.js';

export const BENCH_FORMAT = 'tcpade-bench/1';

/** Identical images have infinite PSNR; each image's PSNR is capped here so means stay finite (dB). */
export const PSNR_CAP_DB = 100;

export class BenchFileError extends Error {
  override name = 'BenchFileError';
}

export interface TimingMeasure {
  /** full wall / method wall per interleaved pair, summarised. */
  readonly speedup: Spread;
  readonly fullWallMs: readonly number[];
  readonly methodWallMs: readonly number[];
  readonly reps: number;
  /** Samples in the timing batch (the first timingN of the row's samples). */
  readonly samples: number;
}

/** What every bench row records, quality-measured or speed-only: the request, the machine, block compute and wall speed. */
export interface RowCommon {
  /** model|steps|method|preset: unique per file; `--resume` skips keys already present. */
  readonly key: string;
  readonly model: string;
  readonly modelPath: string;
  readonly objective: 'eps' | 'flow';
  readonly sampler: string;
  /** Requested step count (the group this row belongs to). */
  readonly steps: number;
  /** Steps actually sampled (fewer-steps: K < steps). */
  readonly stepsRun: number;
  readonly method: string;
  readonly preset: string;
  readonly label: string;
  readonly settings: Readonly<Record<string, SettingValue>>;
  readonly seed: number;
  readonly cfgScale: number;
  readonly threads: number;
  readonly machine: string;
  readonly date: string;
  /** Block evaluations / those of the full run at `steps` (fewer-steps: counted against `steps`). */
  readonly blockComputeRatio: number;
  /** blockComputeRatio · steps: full-pass equivalents per (sample, branch). */
  readonly computedSteps: number;
  readonly predictedPasses: number;
  readonly computedPasses: number;
  readonly timing: TimingMeasure;
  /** Median speedup (full wall / this wall), same process, interleaved pairs. */
  readonly speedupWall: number;
}

export interface BenchRow extends RowCommon {
  readonly n: number;
  /** Sample k has label k mod 10 and noise from (seed, k). */
  readonly labels: string;
  /** Issue 5's floor 0.9 / (1 − f·b), f = 1 − blockComputeRatio, b = blocksShare. */
  readonly speedupBound: number;
  /** Blocks' share of a full step's wall time (median over this row's full timing runs). */
  readonly blocksShare: number;
  /** Mean per-image PSNR vs the full run of the same seeds, each capped at PSNR_CAP_DB (dB). */
  readonly psnr: number;
  readonly ssim: number;
  readonly fid: number;
  /** FID's standard deviation over bootstrap resamples of the row's N samples (absent in older files). */
  readonly fidStd?: number;
  /** Set when FID could not be computed (fid is then null in the file). */
  readonly fidError?: string;
  readonly fidFull: number;
  readonly fidReal: number;
  readonly classAcc: number;
  /** Cache bookkeeping + prediction per (batched) step of the timing batch (ms), median over reps. */
  readonly cacheMsPerStep: number;
  /** cacheMsPerStep as % of a full step's wall time on the same batch. */
  readonly cacheOverheadPct: number;
  /** Extra signal compute per step (TeaCache modulated input, FBCache block 0) (ms). */
  readonly signalMsPerStep: number;
  readonly cacheBytesPeak: number;
  /** Steps of the timing batch on which its rows disagreed and the blocks ran split (absent in older files). */
  readonly splitSteps?: number;
  /** Wall time of the N-sample quality run (informational; not a speed measurement). */
  readonly qualityWallMs: number;
  /** `none` rows: sha256 of the full samples, checked when a resumed run recomputes them. */
  readonly samplesSha256?: string;
}

/** Where a run's wall time went, per sampled step (ms): RunStats.times / steps; other = wall − the phases. */
export interface StepSplitMs {
  readonly embed: number;
  readonly blocks: number;
  readonly head: number;
  /** extra signal compute (TeaCache's modulated input, FBCache's block 0 when it decides) */
  readonly signal: number;
  /** cache bookkeeping and prediction */
  readonly cache: number;
  /** guidance and the sampler update */
  readonly sampler: number;
  /** what no phase clock saw (copies, row gathering, the loop) */
  readonly other: number;
  /** the whole wall time per step */
  readonly total: number;
}

/**
 * A row of a speed-only model (synthetic, random weights): block compute, ideal and wall speedup and the
 * per-step time split; no quality fields, since its samples are noise.
 */
/** `timing` here: chained pairs — each method run is paired with the full run just before it and the one just after it. */
export interface SpeedRow extends RowCommon {
  /** Samples in the timed batch; model rows = samples × CFG branches. */
  readonly samples: number;
  readonly modelRows: number;
  /** 1 / blockComputeRatio: the speedup if the blocks were the whole step and caching cost nothing. */
  readonly idealSpeedup: number;
  /** speedupWall / idealSpeedup. */
  readonly speedupOverIdeal: number;
  /**
   * The same pairs in process CPU time (all threads, user + system): full CPU / method CPU per pair. Barely
   * moved by other work on the cores, it checks the wall speedup on a busy machine.
   */
  readonly cpuTiming: { readonly speedup: Spread; readonly fullCpuMs: readonly number[]; readonly methodCpuMs: readonly number[] };
  /** cpuTiming.speedup.median / idealSpeedup. */
  readonly cpuSpeedupOverIdeal: number;
  /** Blocks' share of a full step's wall time (median over the full runs the row was paired with). */
  readonly blocksShare: number;
  /** This row's runs (`none`: the full runs), median per phase over its timed runs. */
  readonly split: StepSplitMs;
  readonly cacheBytesPeak: number;
  readonly splitSteps: number;
  /** Steps of the untimed run of the method before its timed ones (builds and first uses its graphs; 0: none). */
  readonly warmSteps: number;
  /** Timed runs thrown away because they still compiled a graph (the first use of a session is not timed). */
  readonly warmupRuns: number;
  /** The machine's 1-minute load average when the row started and ended (this run alone adds ≈ its threads). */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

/** A decoder's time per sample, measured once per model; not part of any sampling wall time. */
export interface DecoderTiming {
  readonly description: string;
  /** [1, C, h, w] */
  readonly latentShape: readonly number[];
  /** [1, 3, H, W] */
  readonly imageShape: readonly number[];
  readonly msPerSample: Spread;
  readonly runsMs: readonly number[];
  /** The first decode, which also builds the graph and session (not in msPerSample). */
  readonly firstRunMs: number;
  readonly threads: number;
}

export interface ModelRecord {
  readonly name: string;
  readonly path: string;
  readonly objective: 'eps' | 'flow';
  readonly sampler: string;
  readonly depth: number;
  readonly hiddenSize: number;
  readonly tokens: number;
  readonly teacache: {
    readonly source: 'teacache.json' | 'calibrated-on-the-fly';
    readonly coefficients: readonly number[];
    readonly detail: string;
  };
  /** Set for a synthetic model: what it is shaped like and why its weights are random (its rows are SpeedRows). */
  readonly speedOnly?: { readonly architecture: string; readonly weights: string };
  readonly decoder?: DecoderTiming;
}

export interface BenchFile {
  readonly format: typeof BENCH_FORMAT;
  readonly run: string;
  readonly created: string;
  updated: string;
  readonly fingerprint: Readonly<Record<string, unknown>>;
  /** The configuration of the invocation that created the file (later ones may add models/steps). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly machine: MachineInfo;
  readonly git: GitInfo;
  readonly models: Record<string, ModelRecord>;
  readonly rows: BenchRow[];
  /** Rows of speed-only (synthetic) models; absent in files written before they existed. */
  speedRows?: SpeedRow[];
  readonly study: StudyRecord[];
  readonly notes: string[];
}

export function rowKey(model: string, steps: number, method: string, preset: string): string {
  return `${model}|${steps}|${method}|${preset}`;
}

/** JSON has no Infinity/NaN: they are written as null (readers treat null as "not finite"). */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

export function saveBenchFile(file: string, data: BenchFile): void {
  data.updated = new Date().toISOString();
  writeFileAtomicSync(file, JSON.stringify(data, replacer, 1) + '\n');
}

export function loadBenchFile(file: string): BenchFile {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BenchFileError(`${file}: cannot read the bench results (${(e as Error).message})`);
  }
  const f = j as Partial<BenchFile>;
  if (typeof j !== 'object' || j === null || f.format !== BENCH_FORMAT) {
    throw new BenchFileError(`${file}: not a tcpade bench result (expected "format": "${BENCH_FORMAT}", got ${JSON.stringify(f?.format)})`);
  }
  if (!Array.isArray(f.rows) || !Array.isArray(f.study) || typeof f.models !== 'object' || !Array.isArray(f.notes)) {
    throw new BenchFileError(`${file}: missing rows/study/models/notes; the file is damaged — start a new run with another --run-name`);
  }
  if (f.speedRows !== undefined && !Array.isArray(f.speedRows)) throw new BenchFileError(`${file}: speedRows is not a list; the file is damaged — start a new run with another --run-name`);
  const seen = new Set<string>();
  for (const r of [...f.rows, ...(f.speedRows ?? [])]) {
    if (seen.has(r.key)) throw new BenchFileError(`${file}: row ${r.key} appears twice`);
    seen.add(r.key);
  }
  return j as BenchFile;
}

/** Adds or replaces (same key) a row and saves the whole file atomically. */
export function appendRow(file: string, data: BenchFile, row: BenchRow): void {
  upsert(data.rows, row);
  saveBenchFile(file, data);
}

/** appendRow for a speed-only row. */
export function appendSpeedRow(file: string, data: BenchFile, row: SpeedRow): void {
  data.speedRows ??= [];
  upsert(data.speedRows, row);
  saveBenchFile(file, data);
}

function upsert<T extends { readonly key: string }>(list: T[], row: T): void {
  const i = list.findIndex((r) => r.key === row.key);
  if (i >= 0) list[i] = row;
  else list.push(row);
}
