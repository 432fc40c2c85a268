// The shared skeleton of every SampleCache: validates the schedule and the decide → predict → observe
// protocol, checks shapes, and turns a non-finite prediction into a typed error, so methods hold only math.

import {
  CachePredictionError,
  CacheUsageError,
  type CacheSignals,
  type Decision,
  type Granularity,
  type SampleCache,
  type SampleCacheContext,
  type StepInfo,
} from './contract.js';
import { allFinite } from './vec.js';

/** Check a request's schedule once, when its caches are created. */
export function validateContext(ctx: SampleCacheContext, granularity: Granularity, methodLabel: string): void {
  const where = `${methodLabel} (branch '${ctx.branch}', sample ${ctx.sampleIndex})`;
  if (!Number.isInteger(ctx.totalSteps) || ctx.totalSteps < 1) {
    throw new CacheUsageError(`${where}: totalSteps must be a positive integer, got ${ctx.totalSteps}`);
  }
  if (ctx.taus.length !== ctx.totalSteps) {
    throw new CacheUsageError(`${where}: taus must have one entry per step, expected ${ctx.totalSteps}, got ${ctx.taus.length}`);
  }
  let direction = 0;
  for (let s = 0; s < ctx.taus.length; s++) {
    if (!Number.isFinite(ctx.taus[s])) throw new CacheUsageError(`${where}: taus[${s}] is ${ctx.taus[s]}, expected a finite number`);
    if (s === 0) continue;
    const d = Math.sign(ctx.taus[s] - ctx.taus[s - 1]);
    if (d === 0 || (direction !== 0 && d !== direction)) {
      throw new CacheUsageError(
        `${where}: taus must be strictly monotone (extrapolation divides by tau distances), got taus[${s - 1}] = ${ctx.taus[s - 1]}, taus[${s}] = ${ctx.taus[s]}`,
      );
    }
    direction = d;
  }
  if (!Number.isInteger(ctx.sections) || ctx.sections < 1) {
    throw new CacheUsageError(`${where}: sections must be a positive integer, got ${ctx.sections}`);
  }
  if (ctx.sectionBlocks !== undefined && ctx.sectionBlocks.length !== ctx.sections) {
    throw new CacheUsageError(`${where}: sectionBlocks has ${ctx.sectionBlocks.length} ranges for ${ctx.sections} sections`);
  }
  if (granularity !== 'per-block' && ctx.sections !== 1) {
    throw new CacheUsageError(`${where}: granularity '${granularity}' has exactly 1 section, got sections = ${ctx.sections}`);
  }
}

/** A prediction whose finiteness the kernel that wrote it already checked (saves reading it again). */
export interface CheckedPrediction {
  readonly data: Float32Array;
  readonly finite: boolean;
}

export abstract class SampleCacheBase implements SampleCache {
  private decidedStep = -1;
  private decision: Decision | null = null;
  private readonly observed: boolean[];
  private readonly computedNow: boolean[];
  private readonly sectionLength: number[];
  /** Last step on which every section was computed; −1 before any. */
  protected lastFullStep = -1;
  /** Steps in a row, up to the previous one, on which at least one section was predicted. */
  protected consecutiveSkips = 0;
  private accountedStep = -1;

  constructor(
    protected readonly ctx: SampleCacheContext,
    protected readonly label: string,
  ) {
    this.observed = new Array<boolean>(ctx.sections).fill(true);
    this.computedNow = new Array<boolean>(ctx.sections).fill(true);
    this.sectionLength = new Array<number>(ctx.sections).fill(-1);
  }

  /** The method's decision for a validated step. */
  protected abstract plan(step: StepInfo, signals: CacheSignals): Decision;
  /**
   * The method's prediction for a section it decided to skip, written into `out`; the base checks its
   * finiteness, unless the method returns it as a CheckedPrediction (checked by the kernel that wrote it).
   */
  protected abstract predictSection(step: StepInfo, section: number, input: Float32Array, out: Float32Array): Float32Array | CheckedPrediction;
  /** Record what happened to a section this step. */
  protected abstract record(step: StepInfo, section: number, input: Float32Array, output: Float32Array, computed: boolean): void;
  abstract bytesHeld(): number;

  decide(step: StepInfo, signals: CacheSignals): Decision {
    this.checkStep(step);
    if (step.stepIndex <= this.decidedStep) {
      throw new CacheUsageError(`${this.where()}: decide called for step ${step.stepIndex} after step ${this.decidedStep}; steps must increase`);
    }
    const missing = this.observed.findIndex((o) => !o);
    if (missing >= 0) {
      throw new CacheUsageError(
        `${this.where()}: step ${this.decidedStep} section ${missing} was never observed; call observe for every section before the next decide`,
      );
    }
    // Account for the previous step once, even if plan() below throws and decide is retried.
    if (this.decidedStep >= 0 && this.accountedStep !== this.decidedStep) {
      this.accountedStep = this.decidedStep;
      if (this.computedNow.every((c) => c)) {
        this.lastFullStep = this.decidedStep;
        this.consecutiveSkips = 0;
      } else {
        this.consecutiveSkips++;
      }
    }
    const d = this.plan(step, signals);
    if (d.computeSections !== undefined && (d.compute || d.computeSections.length !== this.ctx.sections)) {
      throw new CacheUsageError(`${this.where()}: internal: computeSections must have ${this.ctx.sections} entries and come with compute = false`);
    }
    this.decidedStep = step.stepIndex;
    this.decision = d;
    this.observed.fill(false);
    return d;
  }

  predict(step: StepInfo, section: number, input: Float32Array, out?: Float32Array): Float32Array {
    this.checkCurrent(step, section, 'predict');
    const d = this.decision!;
    if (d.compute || d.computeSections?.[section] === true) {
      throw new CacheUsageError(`${this.where()}: predict called for step ${step.stepIndex} section ${section}, but the decision was to compute it`);
    }
    this.checkLength(section, input, 'predict input');
    if (out !== undefined && out.length !== input.length) {
      throw new CacheUsageError(`${this.where()}: predict output buffer has ${out.length} elements, the input ${input.length}`);
    }
    const made = this.predictSection(step, section, input, out ?? new Float32Array(input.length));
    const [result, finite] = made instanceof Float32Array ? [made, allFinite(made)] : [made.data, made.finite];
    if (!finite) {
      throw new CachePredictionError(
        `${this.where()}: prediction for step ${step.stepIndex} section ${section} is not finite (input or history holds NaN/Inf); compute this section instead`,
        step.stepIndex,
        section,
      );
    }
    return result;
  }

  observe(step: StepInfo, section: number, input: Float32Array, output: Float32Array | undefined, computed: boolean): void {
    this.checkCurrent(step, section, 'observe');
    if (this.observed[section]) {
      throw new CacheUsageError(`${this.where()}: observe called twice for step ${step.stepIndex} section ${section}`);
    }
    this.checkLength(section, input, 'observe input');
    if (output === undefined) {
      // A prediction the pipeline skipped (historyOnlyForecast): nothing to record, the history is unchanged.
      if (computed || this.decision!.compute || this.decision!.computeSections?.[section] === true) {
        throw new CacheUsageError(`${this.where()}: observe without an output for step ${step.stepIndex} section ${section}, which was computed`);
      }
    } else {
      this.checkLength(section, output, 'observe output');
      this.record(step, section, input, output, computed);
    }
    this.observed[section] = true;
    this.computedNow[section] = computed;
  }

  protected where(): string {
    return `${this.label} (branch '${this.ctx.branch}', sample ${this.ctx.sampleIndex})`;
  }

  /** Require a per-sample signal the method declared in `needs`, of a fixed length. */
  protected requireSignal(signals: CacheSignals, key: keyof CacheSignals, step: StepInfo): Float32Array {
    const v = signals[key];
    if (v === undefined) {
      throw new CacheUsageError(`${this.where()}: step ${step.stepIndex} needs signals.${key} (declared in method.needs), got none`);
    }
    return v;
  }

  private checkStep(step: StepInfo): void {
    if (step.totalSteps !== this.ctx.totalSteps) {
      throw new CacheUsageError(
        `${this.where()}: step says totalSteps = ${step.totalSteps} but this cache was created for ${this.ctx.totalSteps}; create a new request cache per request`,
      );
    }
    if (!Number.isInteger(step.stepIndex) || step.stepIndex < 0 || step.stepIndex >= this.ctx.totalSteps) {
      throw new CacheUsageError(`${this.where()}: stepIndex must be an integer in [0, ${this.ctx.totalSteps - 1}], got ${step.stepIndex}`);
    }
    const expected = this.ctx.taus[step.stepIndex];
    if (!(Math.abs(step.tau - expected) <= 1e-9 * Math.max(1, Math.abs(expected)))) {
      throw new CacheUsageError(`${this.where()}: step ${step.stepIndex} has tau = ${step.tau}, but the schedule given at creation has ${expected}`);
    }
  }

  private checkCurrent(step: StepInfo, section: number, what: string): void {
    if (this.decision === null || step.stepIndex !== this.decidedStep) {
      throw new CacheUsageError(`${this.where()}: ${what} for step ${step.stepIndex} before decide for that step (last decided: ${this.decidedStep})`);
    }
    if (!Number.isInteger(section) || section < 0 || section >= this.ctx.sections) {
      throw new CacheUsageError(`${this.where()}: section must be an integer in [0, ${this.ctx.sections - 1}], got ${section}`);
    }
  }

  private checkLength(section: number, a: Float32Array, what: string): void {
    const known = this.sectionLength[section];
    if (known < 0) this.sectionLength[section] = a.length;
    else if (known !== a.length) {
      throw new CacheUsageError(`${this.where()}: ${what} of section ${section} has ${a.length} elements, earlier steps had ${known}`);
    }
  }
}
