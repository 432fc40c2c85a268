// Sampling plans from the scheduler_config.json of a diffusers pipeline folder: DDIM, DDPM, DPM-Solver++(2M)
// and flow-matching Euler configs become a PlanSpec (plus the β schedule for DDPM-family ones). Every field
// the current diffusers class knows is mapped, accepted at the one value we implement, or declared inert;
// any other setting is refused with the file, field, value and what is supported, rather than sampled wrongly.
import { parsePythonJson } from '../io/python-json.js';
import { DdpmVariance } from './ddpm.js';
import { DiffusionConfigError } from './errors.js';
import { checkSteps } from './plan.js';
import { PlanSpec, createPlan } from './sampler.js';
import { DdpmSchedule, linearBetaSchedule, scaledLinearBetaSchedule, scheduleFromBetas, squaredCosCapV2BetaSchedule } from './schedule.js';
import { TimestepSpacing } from './spacing.js';

export type DdpmFamilySpec = Extract<PlanSpec, { kind: 'ddim' | 'dpmpp-2m' | 'ddpm' }>;
export type FlowSpec = Extract<PlanSpec, { kind: 'flow-euler' }>;

/**
 * spec: pass to createPlan with `schedule` (null for flow specs, which have no discrete schedule).
 * ignoredFields: keys (other than `_`-prefixed metadata) the current diffusers class does not know either;
 * diffusers drops those with a warning, and so do we, listing them for the caller to report.
 */
export type SchedulerConfigPlan =
  | { readonly spec: DdpmFamilySpec; readonly schedule: DdpmSchedule; readonly ignoredFields: readonly string[] }
  | { readonly spec: FlowSpec; readonly schedule: null; readonly ignoredFields: readonly string[] };

export const SUPPORTED_SCHEDULER_CLASSES = ['DDIMScheduler', 'DDPMScheduler', 'DPMSolverMultistepScheduler', 'FlowMatchEulerDiscreteScheduler'] as const;

const SPACINGS: readonly TimestepSpacing[] = ['leading', 'linspace', 'trailing'];

/**
 * The plan `steps` sampling steps of the scheduler described by `json` (a parsed scheduler_config.json) would
 * run. `file` names the config in errors. The plan is built once here, so a config that cannot give `steps`
 * steps (e.g. steps_offset pushing a timestep past T − 1) fails with the file named.
 */
export function planSpecFromSchedulerConfig(json: Record<string, unknown>, steps: number, file: string): SchedulerConfigPlan {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DiffusionConfigError(`${file}: a scheduler config must be a JSON object, got ${Array.isArray(json) ? 'an array' : String(json)}`);
  }
  checkSteps(file, steps);
  const className = json['_class_name'];
  const fields = new ConfigFields(json, file, String(className));
  let result: SchedulerConfigPlan;
  switch (className) {
    case 'DDIMScheduler':
      result = { ...ddimFromConfig(fields, steps), ignoredFields: fields.unknown() };
      break;
    case 'DDPMScheduler':
      result = { ...ddpmFromConfig(fields, steps), ignoredFields: fields.unknown() };
      break;
    case 'DPMSolverMultistepScheduler':
      result = { ...dpmSolverFromConfig(fields, steps), ignoredFields: fields.unknown() };
      break;
    case 'FlowMatchEulerDiscreteScheduler':
      result = { spec: flowFromConfig(fields, steps), schedule: null, ignoredFields: fields.unknown() };
      break;
    default:
      throw new DiffusionConfigError(
        `${file}: _class_name = ${show(className)} is not supported; supported: ${SUPPORTED_SCHEDULER_CLASSES.join(', ')}`,
      );
  }
  try {
    createPlan(result.spec, result.schedule ?? undefined);
  } catch (e) {
    if (e instanceof DiffusionConfigError) throw new DiffusionConfigError(`${file}: ${className} with ${steps} steps: ${e.message}`);
    throw e;
  }
  return result;
}

/**
 * Parses a scheduler_config.json as diffusers writes it: JSON plus Python's bare -Infinity, Infinity and NaN,
 * which JSON.parse refuses. Tokens inside strings are left alone.
 */
export function parseSchedulerConfigJson(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parsePythonJson(text);
  } catch (e) {
    throw new DiffusionConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DiffusionConfigError(`${file}: a scheduler config must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function ddimFromConfig(f: ConfigFields, steps: number): { spec: DdpmFamilySpec; schedule: DdpmSchedule } {
  const schedule = readSchedule(f);
  readEpsilonPrediction(f);
  return {
    schedule,
    spec: {
      kind: 'ddim',
      steps,
      spacing: f.choice('timestep_spacing', 'leading', SPACINGS),
      stepsOffset: f.integer('steps_offset', 0, 0),
      clipX0: readClipSample(f),
      setAlphaToOne: f.boolean('set_alpha_to_one', true),
      eta: 0, // diffusers takes η as a step() argument, not config; its pipelines pass 0 by default
      prevTimestep: 'step-ratio', // DDIMScheduler.step lands on t − T // N
    },
  };
}

const DDPM_VARIANCE_TYPES: Readonly<Record<string, DdpmVariance>> = {
  fixed_small: 'fixed-small',
  fixed_small_log: 'fixed-small', // the same σ, computed as exp(½·log β̃)
  fixed_large: 'fixed-large',
  learned_range: 'learned-range',
};

function ddpmFromConfig(f: ConfigFields, steps: number): { spec: DdpmFamilySpec; schedule: DdpmSchedule } {
  const schedule = readSchedule(f);
  readEpsilonPrediction(f);
  // 'learned' (an unbounded log-variance output) and 'fixed_large_log' are not implemented. One difference
  // from DDPMScheduler.step remains: it adds noise whenever t > 0, so a last step at t > 0 (leading with
  // steps_offset, trailing) gets σ·z with ᾱ_prev = 1 (0 for fixed_small, √β for fixed_large); the plan, as
  // DiT, adds none on the last step.
  const varianceType = f.choice('variance_type', 'fixed_small', Object.keys(DDPM_VARIANCE_TYPES));
  return {
    schedule,
    spec: {
      kind: 'ddpm',
      steps,
      variance: DDPM_VARIANCE_TYPES[varianceType]!,
      spacing: f.choice('timestep_spacing', 'leading', SPACINGS),
      stepsOffset: f.integer('steps_offset', 0, 0),
      clipX0: readClipSample(f),
    },
  };
}

function dpmSolverFromConfig(f: ConfigFields, steps: number): { spec: DdpmFamilySpec; schedule: DdpmSchedule } {
  const schedule = readSchedule(f);
  readEpsilonPrediction(f);
  f.only('solver_order', [2], 'only the second-order multistep solver (2M) is implemented');
  f.only('algorithm_type', ['dpmsolver++'], 'only the data-prediction ODE solver dpmsolver++ is implemented');
  f.only('solver_type', ['midpoint'], "only the 'midpoint' second-order update is implemented");
  f.only('euler_at_final', [false], 'the final step is first order only by lower_order_final or final_sigmas_type "zero"');
  for (const sigmas of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas', 'use_lu_lambdas', 'use_flow_sigmas']) {
    f.only(sigmas, [false], 'only timesteps laid out by timestep_spacing are implemented');
  }
  f.inert('flow_shift'); // read only with use_flow_sigmas
  f.only('lambda_min_clipped', [-Infinity], 'λ clipping (which can end the schedule early) is not implemented');
  f.only('use_dynamic_shifting', [false], 'resolution-dependent shifting is not implemented');
  f.inert('time_shift_type'); // read only with use_dynamic_shifting
  // the solver needs ε only; for learn_sigma models the caller passes the ε channels (readsVarianceChannels is false)
  f.only('variance_type', [null, 'learned', 'learned_range'], 'it only says whether the model also outputs variance channels');
  const finalSigma = f.choice('final_sigmas_type', 'zero', ['zero', 'sigma_min']);
  return {
    schedule,
    spec: {
      kind: 'dpmpp-2m',
      steps,
      spacing: f.choice('timestep_spacing', 'linspace', SPACINGS),
      stepsOffset: f.integer('steps_offset', 0, 0),
      finalSigma: finalSigma === 'zero' ? 'zero' : 'min',
      lowerOrderFinal: f.boolean('lower_order_final', true),
      clipX0: null, // this scheduler has no clip_sample; thresholding is refused in readSchedule
    },
  };
}

/**
 * Static-shift flow matching. The plan keeps flow.ts's σ layout, linspace(1, 0, N + 1) then shifted;
 * diffusers spaces N points from 1 to shift(1/T) (shifting its σ_min a second time) and appends 0, so the
 * timesteps differ slightly (at N = 28, shift 3: the last nonzero σ is 0.1 here vs ≈ 0.105 there).
 */
function flowFromConfig(f: ConfigFields, steps: number): FlowSpec {
  const trainSteps = f.integer('num_train_timesteps', 1000, 1);
  const shift = f.number('shift', 1, (v) => v > 0 && Number.isFinite(v), 'a positive number');
  f.only('use_dynamic_shifting', [false], 'only a static shift is implemented (dynamic shifting needs the image sequence length)');
  f.inert('base_shift', 'max_shift', 'base_image_seq_len', 'max_image_seq_len', 'time_shift_type'); // dynamic shifting only
  f.only('invert_sigmas', [false], 'σ runs from 1 to 0');
  f.only('shift_terminal', [null], 'stretching the shifted σ to a terminal value is not implemented');
  for (const sigmas of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas']) {
    f.only(sigmas, [false], 'only linearly spaced, shifted σ are implemented');
  }
  f.only('stochastic_sampling', [false], 'only the deterministic Euler step is implemented');
  return { kind: 'flow-euler', steps, shift, timestepScale: trainSteps };
}

/** The β schedule fields shared by the DDPM-family schedulers. */
function readSchedule(f: ConfigFields): DdpmSchedule {
  const trainSteps = f.integer('num_train_timesteps', 1000, 2);
  const betaStart = f.number('beta_start', 0.0001, (v) => v > 0 && v < 1, 'a number in (0, 1)');
  const betaEnd = f.number('beta_end', 0.02, (v) => v > 0 && v < 1, 'a number in (0, 1)');
  f.only('rescale_betas_zero_snr', [false], 'zero-terminal-SNR rescaling is not implemented');
  f.only('thresholding', [false], 'dynamic thresholding is not implemented');
  f.inert('dynamic_thresholding_ratio', 'sample_max_value'); // read only with thresholding
  const trained = f.optionalNumbers('trained_betas');
  if (trained !== null) {
    f.inert('beta_schedule'); // diffusers uses trained_betas over any named schedule
    if (trained.length !== trainSteps) f.reject('trained_betas', `[${trained.length} values]`, `one β per training step, ${trainSteps} (num_train_timesteps)`);
    const bad = trained.findIndex((b) => !(b > 0 && b < 1));
    if (bad >= 0) f.reject('trained_betas', `[…, ${trained[bad]} at index ${bad}, …]`, 'every β in (0, 1)');
    return scheduleFromBetas(Float64Array.from(trained));
  }
  switch (f.choice('beta_schedule', 'linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2'])) {
    case 'linear':
      return linearBetaSchedule({ trainSteps, betaStart, betaEnd });
    case 'scaled_linear':
      return scaledLinearBetaSchedule({ trainSteps, betaStart, betaEnd });
    case 'squaredcos_cap_v2':
      return squaredCosCapV2BetaSchedule({ trainSteps });
  }
}

function readEpsilonPrediction(f: ConfigFields): void {
  f.choice('prediction_type', 'epsilon', ['epsilon']); // 'sample', 'v_prediction' and 'flow_prediction' are not implemented
}

/** clip_sample (default true, as in DDIMScheduler and DDPMScheduler) → the x0 bound clip_sample_range, or null. */
function readClipSample(f: ConfigFields): number | null {
  const clipSample = f.boolean('clip_sample', true);
  const range = f.number('clip_sample_range', 1, (v) => v > 0 && Number.isFinite(v), 'a positive number');
  return clipSample ? range : null;
}

/** Reads fields of one config, remembering which it has seen so the rest can be listed as unknown. */
class ConfigFields {
  private readonly seen = new Set<string>();

  constructor(
    private readonly json: Record<string, unknown>,
    private readonly file: string,
    private readonly className: string,
  ) {}

  fail(field: string, value: unknown, supported: string): never {
    return this.reject(field, show(value), supported);
  }

  /** As fail, with the value already described (e.g. an array by its length). */
  reject(field: string, described: string, supported: string): never {
    throw new DiffusionConfigError(`${this.file}: ${this.className} ${field} = ${described} is not supported; supported: ${supported}`);
  }

  private take(field: string): unknown {
    this.seen.add(field);
    return this.json[field];
  }

  number(field: string, fallback: number, ok: (v: number) => boolean, supported: string): number {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !ok(v)) this.fail(field, v, supported);
    return v;
  }

  integer(field: string, fallback: number, min: number): number {
    return this.number(field, fallback, (v) => Number.isInteger(v) && v >= min, `an integer ≥ ${min}`);
  }

  boolean(field: string, fallback: boolean): boolean {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(field, v, 'true or false');
    return v;
  }

  choice<T extends string>(field: string, fallback: T, supported: readonly T[]): T {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (!supported.includes(v as T)) this.fail(field, v, supported.map((s) => `"${s}"`).join(', '));
    return v as T;
  }

  /** A field implemented at these values only (absent means diffusers' default, which is among them). */
  only(field: string, allowed: readonly unknown[], why: string): void {
    const v = this.take(field);
    if (v !== undefined && !allowed.includes(v)) this.fail(field, v, `${allowed.map(show).join(' or ')} (${why})`);
  }

  /** null/absent, or an array of numbers. */
  optionalNumbers(field: string): number[] | null {
    const v = this.take(field);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.some((b) => typeof b !== 'number')) this.reject(field, Array.isArray(v) ? '[non-numeric entries]' : show(v), 'null or an array of numbers');
    return v as number[];
  }

  /** Fields diffusers knows that cannot change the result given the others accepted. */
  inert(...fields: string[]): void {
    for (const field of fields) this.seen.add(field);
  }

  /** Keys neither read nor declared inert, other than `_`-prefixed metadata (_class_name, _diffusers_version). */
  unknown(): string[] {
    return Object.keys(this.json).filter((k) => !k.startsWith('_') && !this.seen.has(k));
  }
}

/** A config value as it reads in the file (JSON.stringify would print −Infinity as null). */
function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return '(absent)';
  return JSON.stringify(value) ?? String(value);
}
