// Public surface of src/diffusion: schedules, timestep spacing, samplers (DDIM, DPM-Solver++(2M),
// ancestral DDPM, flow-matching Euler, UniPC on flow σ) as plans + steppers, diffusers scheduler configs (and
// diffusers-exact schedulers from them), classifier-free guidance, and seeded noise.
export { DiffusionConfigError, DiffusionShapeError } from './errors.js';
export { Rng, sampleRng, noiseForSample, batchNoiseSource } from './rng.js';
export type { NoiseSource } from './rng.js';
export { linearBetaSchedule, scaledLinearBetaSchedule, squaredCosCapV2BetaSchedule, scheduleFromBetas, numpyLinspace, logSnr } from './schedule.js';
export type { DdpmSchedule, LinearBetaOptions } from './schedule.js';
export { spaceTimesteps, ditSpaceTimesteps, roundHalfEven } from './spacing.js';
export type { TimestepSpacing, SpacingConvention, SpacingOptions } from './spacing.js';
export type { PlanCommon, SamplerKind, Numerics } from './plan.js';
export { ddimPlan, ddimStep } from './ddim.js';
export type { DdimOptions, DdimPlan } from './ddim.js';
export { dpmSolverPlan, dpmSolverStep, createDpmSolverState } from './dpm-solver.js';
export type { DpmSolverOptions, DpmSolverPlan, DpmSolverState } from './dpm-solver.js';
export { ddpmPlan, ddpmStep, ddpmLogVariance, DDPM_VARIANCES } from './ddpm.js';
export type { DdpmOptions, DdpmPlan, DdpmSpacing, DdpmVariance, DdpmStepInputs } from './ddpm.js';
export { flowMatchPlan, flowEulerStep, shiftSigma } from './flow.js';
export type { FlowMatchOptions, FlowMatchPlan } from './flow.js';
export { calculateShift, flowMatchEulerSchedule, flowMatchEulerStepF32, DEFAULT_IMAGE_SEQ_LEN_SHIFT } from './flow-match.js';
export type { FlowMatchEulerSettings, FlowMatchEulerSchedule, FlowSigmaSource, ImageSeqLenShift, TimeShiftType } from './flow-match.js';
export { uniPcPlan, uniPcStep, createUniPcState } from './unipc.js';
export type { UniPcOptions, UniPcPlan, UniPcState, UniPcSolverType } from './unipc.js';
export { diffusersSchedule } from './diffusers-schedule.js';
export type { DiffusersBetaSchedule, DiffusersScheduleOptions } from './diffusers-schedule.js';
export { torchLinspaceF32, torchCumprodF32, DEFAULT_TORCH_LINSPACE } from './float32.js';
export type { TorchLinspaceKernel } from './float32.js';
export { applyGuidance, guideLeadingChannels, splitLearnedSigma, epsChannels } from './guidance.js';
export type { LearnedSigmaSplit, Shape4 } from './guidance.js';
export { createPlan, createSampler, planObjective, readsVarianceChannels, sampleLoop } from './sampler.js';
export type { Denoiser, PlanSpec, Sampler, SamplerOptions, SamplerPlan } from './sampler.js';
export { planSpecFromSchedulerConfig, parseSchedulerConfigJson, SUPPORTED_SCHEDULER_CLASSES } from './scheduler-config.js';
export type { SchedulerConfigPlan, SchedulerConfigOptions, SchedulerClassName, DdpmFamilySpec, FlowSpec, UniPcSpec } from './scheduler-config.js';
export { samplerFromSchedulerConfig } from './scheduler.js';
export type { SchedulerSampler, SchedulerSamplerOptions, SchedulerSamplerClass } from './scheduler.js';
