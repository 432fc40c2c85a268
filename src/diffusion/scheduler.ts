// A diffusers scheduler as its pipelines run it, from the scheduler_config.json alone: the timesteps and σ that
// set_timesteps produces and the samples each step() returns, matching diffusers to float32 precision, for
// FlowMatchEulerDiscreteScheduler (SD3's static shift, FLUX's dynamic shift), UniPCMultistepScheduler on flow σ
// (Wan), DDIMScheduler and DPMSolverMultistepScheduler (DPM-Solver++ 2M) under every timestep_spacing.
import { DiffusionConfigError } from './errors.js';
import { TorchLinspaceKernel } from './float32.js';
import { FlowSigmaSource } from './flow-match.js';
import { NoiseSource } from './rng.js';
import { PlanSpec, Sampler, SamplerPlan, createPlan, createSampler } from './sampler.js';
import { SchedulerClassName, parseSchedulerConfigJson, planSpecFromSchedulerConfig } from './scheduler-config.js';
import { DdpmSchedule } from './schedule.js';

export type SchedulerSamplerClass = Exclude<SchedulerClassName, 'DDPMScheduler'>;

export interface SchedulerSamplerOptions {
  /** num_inference_steps N */
  steps: number;
  /**
   * FLUX: the image's latent token count, (H/16)·(W/16) for H×W pixels (4096 at 1024²). FluxPipeline computes μ from
   * it (calculate_shift with the config's base/max shift and sequence lengths) and passes σ = linspace(1, 1/N, N);
   * giving it selects that pipeline's σ (see flowSigmas). Needed for use_dynamic_shifting unless `mu` is given.
   */
  imageSeqLen?: number;
  /** μ for use_dynamic_shifting, instead of imageSeqLen */
  mu?: number;
  /**
   * FlowMatchEuler: the σ passed to set_timesteps — 'flux' (FluxPipeline's linspace(1, 1/N, N); the default when
   * imageSeqLen or mu is given), 'scheduler' (none passed, as StableDiffusion3Pipeline; the default otherwise), or N values.
   */
  flowSigmas?: FlowSigmaSource;
  /** DDIM's step(eta=…) (default 0, as diffusers' pipelines); eta > 0 needs `noise` */
  eta?: number;
  /** DDIM with eta > 0: the variance noise z of each step (diffusers' variance_noise) */
  noise?: NoiseSource;
  /** names the config in errors; default 'scheduler/scheduler_config.json' */
  file?: string;
  /** the torch linspace kernel whose float32 values build the β schedule (DDIM, DPM-Solver): TorchLinspaceKernel, default torch ≥ 2.0's */
  torchLinspace?: TorchLinspaceKernel;
}

export interface SchedulerSampler {
  readonly className: SchedulerSamplerClass;
  readonly steps: number;
  /**
   * diffusers' scheduler.timesteps after set_timesteps: float32 σ·T for FlowMatchEuler (not integers), int64 for
   * UniPC (trunc(σ·T)), DDIM and DPM-Solver. The pipeline passes these to the model (FluxPipeline divides them by 1000 first).
   */
  readonly timesteps: readonly number[];
  /**
   * diffusers' scheduler.sigmas (float32 values, N + 1 with the final one): flow σ for FlowMatchEuler and UniPC,
   * √((1 − ᾱ)/ᾱ) for DPM-Solver; null for DDIM, which has none.
   */
  readonly sigmas: readonly number[] | null;
  /** config keys the diffusers class does not know (dropped, as diffusers drops them) */
  readonly ignoredFields: readonly string[];
  /** the same sampler as a pipeline plan: createSampler(plan) steps identically (plan.timesteps = timesteps) */
  readonly spec: PlanSpec;
  readonly schedule: DdpmSchedule | null;
  readonly plan: SamplerPlan;
  /**
   * One scheduler.step(modelOutput, timesteps[stepIndex], x) → prev_sample, with the pipeline's step index (diffusers'
   * pipelines call set_begin_index(0)). modelOutput: ε (DDIM, DPM-Solver) or velocity (flow), the size of x. The
   * multistep solvers (DPM-Solver, UniPC) keep state: call for 0, 1, 2, … in order; build a new sampler per run.
   */
  step(modelOutput: Float32Array, stepIndex: number, x: Float32Array): Float32Array;
}

const CLASSES: readonly SchedulerSamplerClass[] = ['DDIMScheduler', 'DPMSolverMultistepScheduler', 'FlowMatchEulerDiscreteScheduler', 'UniPCMultistepScheduler'];

/**
 * A diffusers scheduler, configured by `configJson` (scheduler_config.json's text, or the object it parses to),
 * after set_timesteps(steps) as its pipeline calls it.
 */
export function samplerFromSchedulerConfig(configJson: Record<string, unknown> | string, opts: SchedulerSamplerOptions): SchedulerSampler {
  const file = opts.file ?? 'scheduler/scheduler_config.json';
  const config = typeof configJson === 'string' ? parseSchedulerConfigJson(configJson, file) : configJson;
  const className = (config as { _class_name?: unknown } | null)?._class_name;
  if (!CLASSES.includes(className as SchedulerSamplerClass)) {
    throw new DiffusionConfigError(`${file}: _class_name = ${JSON.stringify(className) ?? '(absent)'} has no diffusers-exact sampler; supported: ${CLASSES.join(', ')}`);
  }
  const eta = opts.eta ?? 0;
  if (eta !== 0 && className !== 'DDIMScheduler') throw new DiffusionConfigError(`samplerFromSchedulerConfig: eta is DDIMScheduler.step's argument; ${String(className)} takes none`);
  const { spec: configSpec, schedule, ignoredFields } = planSpecFromSchedulerConfig(config, opts.steps, file, {
    imageSeqLen: opts.imageSeqLen,
    mu: opts.mu,
    flowSigmas: opts.flowSigmas,
    numerics: 'diffusers',
    torchLinspace: opts.torchLinspace,
  });
  const spec: PlanSpec = configSpec.kind === 'ddim' ? { ...configSpec, eta } : configSpec;
  const plan = createPlan(spec, schedule ?? undefined);
  const sampler: Sampler = createSampler(plan, { noise: opts.noise });
  return {
    className: className as SchedulerSamplerClass,
    steps: plan.steps,
    timesteps: plan.timesteps,
    sigmas: diffusersSigmas(plan),
    ignoredFields,
    spec,
    schedule,
    plan,
    step: (modelOutput, stepIndex, x) => sampler.step(stepIndex, x, modelOutput),
  };
}

function diffusersSigmas(plan: SamplerPlan): readonly number[] | null {
  switch (plan.kind) {
    case 'flow-euler':
    case 'unipc':
      return Array.from(plan.sigmas);
    case 'dpmpp-2m':
      return Array.from(plan.noiseRatios);
    case 'ddim':
    case 'ddpm':
      return null;
  }
}
