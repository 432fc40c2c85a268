// What one `tcpade bench` run measures: models, step counts, sample counts, timing repetitions, study
// settings; the quick (CI smoke) and default (under an hour) configurations, and the resume fingerprint.

/** A bench option that cannot work (bad number, empty list, resume with other settings). */
export class BenchConfigError extends Error {
  override name = 'BenchConfigError';
}

export interface StudyConfig {
  /** Step counts whose full trajectories are recorded (the paper's RQ1: 20 and 50). */
  readonly steps: readonly number[];
  /** Samples recorded per step count (both CFG branches of each are trajectories). */
  readonly n: number;
  /** Largest gap g; gaps 1..maxGap are evaluated. */
  readonly maxGap: number;
}

export interface BenchConfig {
  /** Shipped model names or checkpoint paths, as given on the command line. */
  readonly models: readonly string[];
  readonly steps: readonly number[];
  /** Samples per row for fidelity and FID (labels i mod 10: balanced over the classes). */
  readonly n: number;
  /** Samples per model batch in the quality runs. */
  readonly batchSize: number;
  /** Interleaved (full, method) timing pairs per row. */
  readonly reps: number;
  /** Samples in the one-batch timing runs (the first timingN of the N). */
  readonly timingN: number;
  readonly threads: number;
  readonly cfgScale: number;
  readonly seed: number;
  /** Metric classifier (shipped name or path). */
  readonly classifier: string;
  /** Columns (first samples) of the per-method image grids. */
  readonly gridSeeds: number;
  /** fewer-steps divisors (K = round(S / d)); the step count matching the cached rows' median is added. */
  readonly fewerStepsDivisors: readonly number[];
  /** Only these methods (plus `none`); undefined = every method and preset. Not part of the fingerprint. */
  readonly methods?: readonly string[];
  /**
   * Only these presets of the cache methods: `default` (each method's default preset), `all`, or
   * `method/preset`; undefined = all. fewer-steps rows are not presets (see `fewerStepsDivisors`).
   * Not part of the fingerprint.
   */
  readonly presets?: readonly string[];
  readonly study: StudyConfig | null;
  /** TeaCache calibration when no teacache.json lies beside a model. */
  readonly teacacheCalibration: { readonly steps: readonly number[]; readonly samples: number };
  readonly quick: boolean;
}

export const SHIPPED_MODELS: readonly string[] = ['mnist-dit', 'mnist-dit-flow'];

/**
 * Default: N = 64 per row, timing 5 interleaved pairs on 8 samples, 4 step counts, 2 models (≈ 264 rows),
 * study at 20 and 50 steps on 8 samples. Sized from a measured quick run (about 4 ms of CPU per sample-step
 * with CFG on one thread) to stay under an hour on the idle 2-core dev machine.
 */
export function defaultBenchConfig(threads: number): BenchConfig {
  return {
    models: SHIPPED_MODELS,
    steps: [20, 25, 30, 50],
    n: 64,
    batchSize: 64,
    reps: 5,
    timingN: 8,
    threads,
    cfgScale: 1.5,
    seed: 0,
    classifier: 'mnist-classifier',
    gridSeeds: 10,
    fewerStepsDivisors: [1.5, 2, 2.5, 3],
    study: { steps: [20, 50], n: 8, maxGap: 6 },
    teacacheCalibration: { steps: [20, 50], samples: 10 },
    quick: false,
  };
}

/** Quick: minutes, a CI smoke test. 20 samples, 20 steps, 2 timing pairs on 4 samples, study at 20 steps. */
export function quickBenchConfig(threads: number): BenchConfig {
  return {
    ...defaultBenchConfig(threads),
    steps: [20],
    n: 20,
    batchSize: 20,
    reps: 2,
    timingN: 4,
    study: { steps: [20], n: 2, maxGap: 6 },
    teacacheCalibration: { steps: [20], samples: 4 },
    quick: true,
  };
}

function positiveInt(v: number, what: string, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new BenchConfigError(`${what} must be an integer ≥ ${min}, got ${v}`);
}

export function validateBenchConfig(c: BenchConfig): BenchConfig {
  if (c.models.length === 0) throw new BenchConfigError('--models needs at least one model name or path');
  if (c.steps.length === 0) throw new BenchConfigError('--steps needs at least one step count');
  for (const s of c.steps) positiveInt(s, `step count ${s}`, 4);
  if (new Set(c.steps).size !== c.steps.length) throw new BenchConfigError(`--steps lists a step count twice: ${c.steps.join(',')}`);
  positiveInt(c.n, '--n (samples per row; FID needs at least 2)', 2);
  positiveInt(c.batchSize, '--batch-size');
  positiveInt(c.reps, '--reps');
  positiveInt(c.timingN, '--timing-n');
  if (c.timingN > c.n) throw new BenchConfigError(`--timing-n (${c.timingN}) must not exceed --n (${c.n}): the timing batch is the first timing-n samples`);
  positiveInt(c.threads, '--threads');
  if (!Number.isFinite(c.cfgScale) || c.cfgScale < 0) throw new BenchConfigError(`--cfg must be a number ≥ 0, got ${c.cfgScale}`);
  positiveInt(c.seed, '--seed', 0);
  positiveInt(c.gridSeeds, '--grid-seeds');
  for (const d of c.fewerStepsDivisors) {
    if (!Number.isFinite(d) || d <= 1) throw new BenchConfigError(`fewer-steps divisors must be numbers > 1, got ${d}`);
  }
  if (c.study) {
    positiveInt(c.study.n, '--study-n');
    positiveInt(c.study.maxGap, 'study max gap');
    for (const s of c.study.steps) {
      if (!Number.isInteger(s) || s < 4) throw new BenchConfigError(`study step count ${s} must be an integer ≥ 4 (three history points and a target)`);
    }
  }
  if (c.teacacheCalibration.samples < 2) throw new BenchConfigError(`TeaCache calibration needs at least 2 samples, got ${c.teacacheCalibration.samples}`);
  return c;
}

/**
 * The settings that make rows of two invocations comparable; `--resume` refuses a file whose
 * fingerprint differs. Models, steps and the method filter may change: rows are keyed by them.
 */
export function configFingerprint(c: BenchConfig): Record<string, number | string | readonly number[]> {
  return {
    n: c.n,
    batchSize: c.batchSize,
    reps: c.reps,
    timingN: c.timingN,
    threads: c.threads,
    cfgScale: c.cfgScale,
    seed: c.seed,
    classifier: c.classifier,
    fewerStepsDivisors: c.fewerStepsDivisors,
  };
}

/** Differences between a stored fingerprint and this invocation's, as "key: stored → now" lines. */
export function fingerprintDiff(stored: Readonly<Record<string, unknown>>, now: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(now)]);
  const out: string[] = [];
  for (const k of keys) {
    const a = JSON.stringify(stored[k]);
    const b = JSON.stringify(now[k]);
    if (a !== b) out.push(`${k}: ${a} → ${b}`);
  }
  return out;
}
