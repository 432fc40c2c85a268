// One face for all samplers, so the pipeline owns the loop (caches interpose per step):
//   for s in 0 … steps−1: out = await model(x, s, plan.timesteps[s]); x = sampler.step(s, x, out)
import { DdimOptions, DdimPlan, ddimPlan, ddimStep } from './ddim.js';
import { DdpmOptions, DdpmPlan, ddpmPlan, ddpmStep } from './ddpm.js';
import { DpmSolverOptions, DpmSolverPlan, DpmSolverState, createDpmSolverState, dpmSolverPlan, dpmSolverStep } from './dpm-solver.js';
import { DiffusionConfigError, DiffusionShapeError } from './errors.js';
import { FlowMatchOptions, FlowMatchPlan, flowEulerStep, flowMatchPlan } from './flow.js';
import { NoiseSource } from './rng.js';
import { DdpmSchedule, linearBetaSchedule } from './schedule.js';
import { UniPcOptions, UniPcPlan, UniPcState, createUniPcState, uniPcPlan, uniPcStep } from './unipc.js';

export type SamplerPlan = DdimPlan | DpmSolverPlan | FlowMatchPlan | DdpmPlan | UniPcPlan;

export type PlanSpec =
  | ({ kind: 'ddim'; steps: number } & DdimOptions)
  | ({ kind: 'dpmpp-2m'; steps: number } & DpmSolverOptions)
  | ({ kind: 'flow-euler'; steps: number } & FlowMatchOptions)
  | ({ kind: 'ddpm'; steps: number } & DdpmOptions)
  | ({ kind: 'unipc'; steps: number } & UniPcOptions);

/**
 * The model as the samplers see it. x: [B, C, H, W] flattened; tModel: the plan's model timestep for
 * this step (DDPM 0 … 999, flow σ·timestepScale, UniPC trunc(σ·T)). Returns ε (DDPM plans) or v (flow plans), same size,
 * or [B, 2C, H, W] = ε ‖ variance channels for a plan that reads them (readsVarianceChannels).
 */
export type Denoiser = (x: Float32Array, stepIndex: number, tModel: number) => Promise<Float32Array>;

/** A plan from a spec; DDPM kinds use `schedule`, default the DiT/ADM linear schedule. */
export function createPlan(spec: PlanSpec, schedule: DdpmSchedule = linearBetaSchedule()): SamplerPlan {
  switch (spec.kind) {
    case 'ddim':
      return ddimPlan(schedule, spec.steps, spec);
    case 'dpmpp-2m':
      return dpmSolverPlan(schedule, spec.steps, spec);
    case 'flow-euler':
      return flowMatchPlan(spec.steps, spec);
    case 'ddpm':
      return ddpmPlan(schedule, spec.steps, spec);
    case 'unipc':
      return uniPcPlan(spec.steps, spec);
  }
}

/**
 * What the plan's model must predict: 'eps' (ε on a DDPM schedule: ddim, dpmpp-2m, ddpm) or 'flow' (the velocity
 * v = ε − x0 of x_σ = (1 − σ)·x0 + σ·ε: flow-euler, unipc).
 */
export function planObjective(plan: Pick<SamplerPlan, 'kind'>): 'eps' | 'flow' {
  return plan.kind === 'flow-euler' || plan.kind === 'unipc' ? 'flow' : 'eps';
}

/**
 * Whether the plan's step reads the model's variance channels: then modelOut is [B, 2C, H, W] = ε ‖ v
 * (the full learn_sigma output, with guidance applied to ε only), else the ε or v part, [B, C, H, W].
 */
export function readsVarianceChannels(plan: SamplerPlan): boolean {
  return plan.kind === 'ddpm' && plan.readsVarianceChannels;
}

export interface Sampler {
  readonly plan: SamplerPlan;
  /** the multistep solvers' memory (null for the memoryless samplers); one Sampler per request. */
  readonly state: DpmSolverState | UniPcState | null;
  /** x after step `stepIndex`, given the model output at (x, plan.timesteps[stepIndex]). */
  step(stepIndex: number, x: Float32Array, modelOut: Float32Array): Float32Array;
}

export interface SamplerOptions {
  /** η-noise for DDIM with eta > 0 and DDPM's per-step noise, e.g. batchNoiseSource(seed, sampleIndices) */
  noise?: NoiseSource;
  /** rows B of x; a plan that reads variance channels needs it to split each row's [2C, H, W] output */
  batchSize?: number;
}

/** A sampler for one request. The initial x is the noise itself (σ_max = 1 for every plan here). */
export function createSampler(plan: SamplerPlan, opts: SamplerOptions = {}): Sampler {
  switch (plan.kind) {
    case 'ddim':
      return { plan, state: null, step: (s, x, eps) => ddimStep(plan, s, x, eps, opts.noise) };
    case 'dpmpp-2m': {
      const state = createDpmSolverState();
      return { plan, state, step: (s, x, eps) => dpmSolverStep(plan, state, s, x, eps) };
    }
    case 'flow-euler':
      return { plan, state: null, step: (s, x, v) => flowEulerStep(plan, s, x, v) };
    case 'unipc': {
      const state = createUniPcState();
      return { plan, state, step: (s, x, v) => uniPcStep(plan, state, s, x, v) };
    }
    case 'ddpm':
      // fail at creation, not mid-run: every step but the last draws noise
      if (plan.steps > 1 && !opts.noise) throw new DiffusionConfigError('createSampler: ddpm draws noise at every step but the last; pass SamplerOptions.noise');
      if (plan.readsVarianceChannels && opts.batchSize === undefined) {
        throw new DiffusionConfigError("createSampler: ddpm with variance 'learned-range' needs SamplerOptions.batchSize (rows of x)");
      }
      return { plan, state: null, step: (s, x, out) => ddpmStep(plan, s, x, out, opts) };
  }
}

/** The plain loop (no caching): run every step from `noise` and return the final x. */
export async function sampleLoop(sampler: Sampler, noise: Float32Array, model: Denoiser): Promise<Float32Array> {
  let x = noise;
  const outPerX = readsVarianceChannels(sampler.plan) ? 2 : 1;
  for (let s = 0; s < sampler.plan.steps; s++) {
    const out = await model(x, s, sampler.plan.timesteps[s]!);
    if (out.length !== outPerX * x.length) {
      const layout = outPerX === 2 ? 'ε ‖ variance channels, twice the size of x' : 'same size as x';
      throw new DiffusionShapeError(`model output at step ${s}: expected ${outPerX * x.length} values (${layout}), got ${out.length}`);
    }
    x = sampler.step(s, x, out);
  }
  return x;
}
