// The result file of a bench run (bench/results/<run>.json): header (config, machine, commit, models),
// one row per (model, steps, method, preset), the prediction study; rewritten atomically after each row.
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

export interface BenchRow {
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
  readonly n: number;
  readonly seed: number;
  /** Sample k has label k mod 10 and noise from (seed, k). */
  readonly labels: string;
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
  const seen = new Set<string>();
  for (const r of f.rows) {
    if (seen.has(r.key)) throw new BenchFileError(`${file}: row ${r.key} appears twice`);
    seen.add(r.key);
  }
  return j as BenchFile;
}

/** Adds or replaces (same key) a row and saves the whole file atomically. */
export function appendRow(file: string, data: BenchFile, row: BenchRow): void {
  const i = data.rows.findIndex((r) => r.key === row.key);
  if (i >= 0) data.rows[i] = row;
  else data.rows.push(row);
  saveBenchFile(file, data);
}
