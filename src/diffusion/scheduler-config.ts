// Sampling plans from the scheduler_config.json of a diffusers pipeline folder: DDIM, DDPM, DPM-Solver++(2M),
// flow-matching Euler and UniPC (flow) configs become a PlanSpec (plus the β schedule for DDPM-family ones).
// Every field the current diffusers class knows is mapped, accepted at the one value we implement, or declared
// inert; any other setting is refused with the file, field, value and what is supported, rather than sampled wrongly.
// Flow-matching Euler and UniPC plans reproduce diffusers' σ, timesteps and float32 steps exactly; DDIM, DDPM and
// DPM-Solver plans compute in float64 on float64 schedules unless numerics 'diffusers' is asked for (scheduler.ts).
import { parsePythonJson } from '../io/python-json.js';
import { ConfigFields, show } from './config-fields.js';
import { DdpmVariance } from './ddpm.js';
import { diffusersSchedule } from './diffusers-schedule.js';
import { DiffusionConfigError } from './errors.js';
import { TorchLinspaceKernel } from './float32.js';
import { FlowSigmaSource } from './flow-match.js';
import { Numerics, checkSteps } from './plan.js';
import { PlanSpec, createPlan } from './sampler.js';
import { flowFromConfig, uniPcFromConfig } from './scheduler-config-flow.js';
import { DdpmSchedule, linearBetaSchedule, scaledLinearBetaSchedule, scheduleFromBetas, squaredCosCapV2BetaSchedule } from './schedule.js';
import { TimestepSpacing } from './spacing.js';

export type DdpmFamilySpec = Extract<PlanSpec, { kind: 'ddim' | 'dpmpp-2m' | 'ddpm' }>;
export type FlowSpec = Extract<PlanSpec, { kind: 'flow-euler' }>;
export type UniPcSpec = Extract<PlanSpec, { kind: 'unipc' }>;

/**
 * spec: pass to createPlan with `schedule` (null for flow specs, which have no discrete schedule).
 * ignoredFields: keys (other than `_`-prefixed metadata) the current diffusers class does not know either;
 * diffusers drops those with a warning, and so do we, listing them for the caller to report.
 */
export type SchedulerConfigPlan =
  | { readonly spec: DdpmFamilySpec; readonly schedule: DdpmSchedule; readonly ignoredFields: readonly string[] }
  | { readonly spec: FlowSpec | UniPcSpec; readonly schedule: null; readonly ignoredFields: readonly string[] };

export const SUPPORTED_SCHEDULER_CLASSES = [
  'DDIMScheduler',
  'DDPMScheduler',
  'DPMSolverMultistepScheduler',
  'FlowMatchEulerDiscreteScheduler',
  'UniPCMultistepScheduler',
] as const;

export type SchedulerClassName = (typeof SUPPORTED_SCHEDULER_CLASSES)[number];

/** What the pipeline adds to a scheduler config when it sets the timesteps. */
export interface SchedulerConfigOptions {
  /**
   * Latent tokens of the image, for FlowMatchEuler's resolution-dependent shift (use_dynamic_shifting):
   * μ = calculate_shift(imageSeqLen, base_image_seq_len, max_image_seq_len, base_shift, max_shift), as FluxPipeline
   * computes it. FLUX: (H/16)·(W/16) for an H×W image (the packed 2×2 latent patches), 4096 at 1024×1024.
   */
  imageSeqLen?: number;
  /** μ itself, instead of imageSeqLen */
  mu?: number;
  /**
   * The σ FlowMatchEuler's set_timesteps receives. Default: 'flux' (FluxPipeline's linspace(1, 1/N, N)) when
   * imageSeqLen or mu is given — FluxPipeline passes both, for FLUX.1-dev and -schnell alike — else 'scheduler'
   * (none passed, as StableDiffusion3Pipeline does).
   */
  flowSigmas?: FlowSigmaSource;
  /**
   * DDIM/DDPM/DPM-Solver: 'float64' (default) float64 schedules and steps (DiT's arithmetic, ε re-derived after
   * clipping); 'diffusers' float32 schedules and steps as diffusers computes them. Flow plans are always 'diffusers'.
   */
  numerics?: Numerics;
  /** the torch linspace kernel whose float32 values build 'diffusers' β schedules (TorchLinspaceKernel; default torch ≥ 2.0's) */
  torchLinspace?: TorchLinspaceKernel;
}

const SPACINGS: readonly TimestepSpacing[] = ['leading', 'linspace', 'trailing'];

/**
 * The plan `steps` sampling steps of the scheduler described by `json` (a parsed scheduler_config.json) would
 * run. `file` names the config in errors. The plan is built once here, so a config that cannot give `steps`
 * steps (e.g. steps_offset pushing a timestep past T − 1) fails with the file named.
 */
export function planSpecFromSchedulerConfig(json: Record<string, unknown>, steps: number, file: string, opts: SchedulerConfigOptions = {}): SchedulerConfigPlan {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DiffusionConfigError(`${file}: a scheduler config must be a JSON object, got ${Array.isArray(json) ? 'an array' : String(json)}`);
  }
  checkSteps(file, steps);
  const className = json['_class_name'];
  const fields = new ConfigFields(json, file, String(className));
  const ddpmFamily = { numerics: opts.numerics ?? 'float64', torchLinspace: opts.torchLinspace } as const;
  let result: SchedulerConfigPlan;
  switch (className) {
    case 'DDIMScheduler':
      result = { ...ddimFromConfig(fields, steps, ddpmFamily), ignoredFields: fields.unknown() };
      break;
    case 'DDPMScheduler':
      if (ddpmFamily.numerics === 'diffusers') throw new DiffusionConfigError(`${file}: DDPMScheduler has no 'diffusers' numerics here (its step draws noise); use numerics 'float64'`);
      result = { ...ddpmFromConfig(fields, steps), ignoredFields: fields.unknown() };
      break;
    case 'DPMSolverMultistepScheduler':
      result = { ...dpmSolverFromConfig(fields, steps, ddpmFamily), ignoredFields: fields.unknown() };
      break;
    case 'FlowMatchEulerDiscreteScheduler':
      result = { spec: flowFromConfig(fields, steps, opts), schedule: null, ignoredFields: fields.unknown() };
      break;
    case 'UniPCMultistepScheduler':
      result = { spec: uniPcFromConfig(fields, steps), schedule: null, ignoredFields: fields.unknown() };
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

interface DdpmFamilyNumerics {
  numerics: Numerics;
  torchLinspace?: TorchLinspaceKernel;
}

function ddimFromConfig(f: ConfigFields, steps: number, n: DdpmFamilyNumerics): { spec: DdpmFamilySpec; schedule: DdpmSchedule } {
  const schedule = readSchedule(f, n);
  readEpsilonPrediction(f);
  const spacing = f.choice('timestep_spacing', 'leading', SPACINGS);
  if (n.numerics === 'diffusers') checkTrailingCount(f, spacing, steps);
  return {
    schedule,
    spec: {
      kind: 'ddim',
      steps,
      spacing,
      stepsOffset: f.integer('steps_offset', 0, 0),
      clipX0: readClipSample(f),
      setAlphaToOne: f.boolean('set_alpha_to_one', true),
      eta: 0, // diffusers takes η as a step() argument, not config; its pipelines pass 0 by default
      prevTimestep: 'step-ratio', // DDIMScheduler.step lands on t − T // N
      ...(n.numerics === 'diffusers' ? { numerics: 'diffusers' as const } : {}),
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
  const schedule = readSchedule(f, { numerics: 'float64' });
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

function dpmSolverFromConfig(f: ConfigFields, steps: number, n: DdpmFamilyNumerics): { spec: DdpmFamilySpec; schedule: DdpmSchedule } {
  const schedule = readSchedule(f, n);
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
  if (n.numerics === 'diffusers') {
    // diffusers keeps model_output[:, :3], right only for 3-channel models; here the caller passes ε itself
    f.only('variance_type', [null], "with variance channels diffusers' step keeps the first 3 output channels; pass null and the ε channels");
  } else {
    // the solver needs ε only; for learn_sigma models the caller passes the ε channels (readsVarianceChannels is false)
    f.only('variance_type', [null, 'learned', 'learned_range'], 'it only says whether the model also outputs variance channels');
  }
  const finalSigma = f.choice('final_sigmas_type', 'zero', ['zero', 'sigma_min']);
  const spacing = f.choice('timestep_spacing', 'linspace', SPACINGS);
  if (n.numerics === 'diffusers') checkTrailingCount(f, spacing, steps);
  return {
    schedule,
    spec: {
      kind: 'dpmpp-2m',
      steps,
      spacing,
      stepsOffset: f.integer('steps_offset', 0, 0),
      finalSigma: finalSigma === 'zero' ? 'zero' : 'min',
      lowerOrderFinal: f.boolean('lower_order_final', true),
      clipX0: null, // this scheduler has no clip_sample; thresholding is refused in readSchedule
      ...(n.numerics === 'diffusers' ? { numerics: 'diffusers' as const } : {}),
    },
  };
}

/**
 * numpy.arange(T, 0, −T/N), which diffusers' trailing spacing rounds, holds ceil(T/(T/N)) values: N + 1 for some N
 * (61, 103, … at T = 1000), the last of them −1 after the shift by one, which diffusers then indexes from the end.
 */
function checkTrailingCount(f: ConfigFields, spacing: TimestepSpacing, steps: number): void {
  if (spacing !== 'trailing') return;
  const trainSteps = f.integer('num_train_timesteps', 1000, 2);
  const count = Math.ceil((0 - trainSteps) / -(trainSteps / steps));
  if (count !== steps) {
    f.reject('timestep_spacing', `"trailing" with ${steps} steps`, `a step count whose numpy.arange(${trainSteps}, 0, −${trainSteps}/${steps}) has ${steps} values (this one has ${count}; diffusers would run timestep −1)`);
  }
}

/** The β schedule fields shared by the DDPM-family schedulers. */
function readSchedule(f: ConfigFields, n: DdpmFamilyNumerics): DdpmSchedule {
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
    if (n.numerics === 'diffusers') return diffusersSchedule({ trainSteps, betaStart, betaEnd, betaSchedule: 'linear', trainedBetas: trained });
    return scheduleFromBetas(Float64Array.from(trained));
  }
  const betaSchedule = f.choice('beta_schedule', 'linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']);
  if (n.numerics === 'diffusers') return diffusersSchedule({ trainSteps, betaStart, betaEnd, betaSchedule, torchLinspace: n.torchLinspace });
  switch (betaSchedule) {
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
