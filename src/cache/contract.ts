// The contract between the sampling pipeline and every caching method: step info, decisions,
// per-sample state, method descriptors and typed errors. Plain data over Float32Array, no ORT types.

/**
 * Where the pipeline cuts the network for a method:
 * - `stack`: one section, the whole block stack (x_in [T*D] → x_out [T*D]);
 * - `per-block`: the blocks in `sections` contiguous ranges, by default one block each (a method may group
 *   them, `CacheMethod.blockRanges`); predicted sections are chained;
 * - `first-block`: block 0 always runs, section 0 = blocks 1..L-1 (input = block 0's output);
 * - `output`: one section, the whole model (input = latent x_t, output = model output), for opaque models.
 */
export type Granularity = 'stack' | 'per-block' | 'first-block' | 'output';

/** A method constant. Lists (TeaCache coefficients, weights) are number arrays. */
export type SettingValue = number | string | boolean | readonly number[];
export type SettingsRecord = Readonly<Record<string, SettingValue>>;

export interface StepInfo {
  /** 0..totalSteps-1, strictly increasing during sampling. */
  readonly stepIndex: number;
  /** Step count of THIS request. */
  readonly totalSteps: number;
  /**
   * Monotone trajectory coordinate of this step (DDPM: model timestep/1000, flow: sigma); steps may be
   * unevenly spaced. Must equal `taus[stepIndex]` given when the cache was created.
   */
  readonly tau: number;
}

/** Why a step computes or skips; written into stats by the pipeline. */
export type DecisionReason =
  | 'always' // `none`: never skips
  | 'warmup' // inside the first warm-up steps
  | 'final' // inside the final full steps
  | 'schedule' // interval schedule: a full step (compute) or an in-between step (skip)
  | 'tsi' // TC-Padé trajectory stability gate (signal = TSI, threshold = θ)
  | 'error-estimate' // ours: estimated relative extrapolation error (signal) vs the error budget (threshold)
  | 'teacache' // TeaCache accumulated rescaled change (signal) vs threshold
  | 'fbcache' // first-block residual relative change (signal) vs threshold
  | 'max-skips' // the maximum number of consecutive skipped steps was reached
  | 'history' // not enough computed history to predict
  | 'nan-fallback'; // the prediction or a signal was not finite: compute instead

export type Stage = 'early' | 'middle' | 'late';

export interface Decision {
  /** true: run every section this step. false: predict them (except `computeSections`). */
  readonly compute: boolean;
  readonly reason: DecisionReason;
  /** The measured quantity behind the decision (TSI, accumulated change, …). */
  readonly signal?: number;
  /** What `signal` was compared against. */
  readonly threshold?: number;
  /** Stage of sampling for stage-aware methods (TC-Padé). */
  readonly stage?: Stage;
  /**
   * Partial steps (`per-block` only, with compute=false): length `sections`; true = this block still
   * runs on its actual input, false = it is predicted. Absent: every section is predicted. Used by Δ-DiT.
   */
  readonly computeSections?: readonly boolean[];
}

/** Per-sample values the pipeline can hand over cheaply on this step, each [T*D] of this sample. */
export interface CacheSignals {
  /** Stack input tokens of this sample this step. */
  readonly xIn?: Float32Array;
  /** Block 0's adaLN-modulated normed input (TeaCache; only when `method.needs.modulatedInput0`). */
  readonly modulatedInput0?: Float32Array;
  /** block0(x) − x (FBCache; only when `method.needs.firstBlock`). */
  readonly firstBlockResidual?: Float32Array;
}

/**
 * State of one (request, branch, sample). Per step the pipeline calls `decide` once, then for every
 * section (in order) either runs it or calls `predict`, then `observe` for every section. `observe`'s
 * `computed` flag is the truth: if `predict` threw a CachePredictionError and the pipeline ran the
 * section instead, it passes computed = true.
 */
export interface SampleCache {
  decide(step: StepInfo, signals: CacheSignals): Decision;
  /**
   * Predicted OUTPUT of section `section` given its actual input this step ([T*D], not modified),
   * written into `out` when given (same length, must not overlap `input`) or into a new array; always
   * finite, otherwise throws CachePredictionError (the pipeline computes).
   */
  predict(step: StepInfo, section: number, input: Float32Array, out?: Float32Array): Float32Array;
  /**
   * After every step, for every section, computed or predicted. Arrays are copied, never kept.
   * `output` is undefined only for a predicted section of a `historyOnlyForecast` method whose prediction
   * the pipeline did not make because nothing read it; its `input` then holds no meaningful values.
   */
  observe(step: StepInfo, section: number, input: Float32Array, output: Float32Array | undefined, computed: boolean): void;
  /** Bytes of Float32Array state held now (history, scratch). */
  bytesHeld(): number;
}

/** What a sample cache is created from: this request's schedule and where the sample sits. */
export interface SampleCacheContext {
  readonly totalSteps: number;
  /** taus[s] = StepInfo.tau of step s; strictly monotone, length totalSteps. */
  readonly taus: readonly number[];
  readonly branch: string;
  readonly sampleIndex: number;
  /** Number of sections the pipeline cuts (`per-block`: the block ranges, else 1). */
  readonly sections: number;
  /**
   * `per-block`: the blocks [from, to) of each section, in order (absent: section i is block i).
   */
  readonly sectionBlocks?: readonly (readonly [number, number])[];
}

export interface CacheNeeds {
  readonly modulatedInput0?: boolean;
  readonly firstBlock?: boolean;
}

/** A configured method: immutable, holds no per-request state; create one SampleCache per sample. */
export interface CacheMethod {
  readonly name: string;
  readonly preset: string;
  /** Every constant the method uses, after preset and overrides. */
  readonly settings: SettingsRecord;
  readonly granularity: Granularity;
  readonly needs: CacheNeeds;
  /**
   * True when a prediction reads only the history (never the section's `input`), a predicted section
   * leaves the history unchanged (a raw-output forecaster), and decisions read no `xIn` (only the signals
   * in `needs`). The pipeline may then skip work whose result nobody reads: per-block, every section of a
   * row predicted throughout the step but the last, whose forecast is made first (a non-finite one sends
   * the row back to section-by-section prediction); and, without `needs`, it decides before embedding
   * (`xIn` absent) and, when every row is predicted, skips the embedding — `predict` and `observe` then
   * get an `input` that holds no meaningful values. Absent: false.
   */
  readonly historyOnlyForecast?: boolean;
  /**
   * `per-block` only: the sections as contiguous block ranges [from, to) covering 0..depth in order
   * (absent: one section per block). Δ-DiT reuses whole ranges: one residual across a range, not one per block.
   */
  blockRanges?(depth: number): readonly (readonly [number, number])[];
  createSampleCache(ctx: SampleCacheContext): SampleCache;
}

/** Base class of every error of the cache module. */
export class CacheError extends Error {
  override name = 'CacheError';
}

/** Unknown method, preset or setting, or a setting of the wrong type / out of range. */
export class CacheConfigError extends CacheError {
  override name = 'CacheConfigError';
}

/** The pipeline called the cache out of protocol (order, shapes, missing signals, bad schedule). */
export class CacheUsageError extends CacheError {
  override name = 'CacheUsageError';
}

/** A prediction came out non-finite; the pipeline should run the section instead. */
export class CachePredictionError extends CacheError {
  override name = 'CachePredictionError';
  constructor(
    message: string,
    readonly stepIndex: number,
    readonly section: number,
  ) {
    super(message);
  }
}
