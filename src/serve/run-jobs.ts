// What a service worker does with a batch of jobs: the models it serves, loaded once; one joint model
// batch for jobs that share model, sampler, steps and cache method (pipeline/joint-batch.ts); and each
// job's output files — the bytes `tcpade generate` writes for the same request (grid.png, the sample
// PNGs, samples.safetensors), plus a stats.json of the service's own. Runs in the engine thread
// (engine-thread.ts); plain functions, so tests call them directly.
import path from 'node:path';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { resolveCacheChoice } from '../cli/cache-choice.js';
import type { Denoiser } from '../models/denoiser.js';
import { isPipelineFolder, readPipelineFolder, schedulerConfigFile } from '../models/folders.js';
import { parseSchedulerConfigJson, planSpecFromSchedulerConfig } from '../diffusion/scheduler-config.js';
import { labelDisplayName } from '../models/labels.js';
import { loadDenoiser } from '../models/load.js';
import { resolveModelPath, shippedModels } from '../models/shipped.js';
import { loadVAE, type AutoencoderKL } from '../models/vae/index.js';
import { decodeLatents } from '../pipeline/decode.js';
import { modelPlan, type SamplerName } from '../pipeline/generate.js';
import { encodeClassGrid, encodeSamplePngs, toUnitRange } from '../pipeline/images.js';
import { type BatchMember, runJointBatch } from '../pipeline/joint-batch.js';
import { type RunStats, summaryLine } from '../pipeline/stats.js';
import { encodeSafetensors } from '../io/safetensors.js';
import type { JobSpec, ModelInfo } from './request.js';

/** A model the service runs, with the VAE that turns its latents into images (latent models only). */
export interface ServedModel {
  readonly info: ModelInfo;
  readonly path: string;
  readonly model: Denoiser;
  readonly vae?: AutoencoderKL;
}

/**
 * Loads the models named on the command line: shipped names (mnist-dit) or paths (a checkpoint, a
 * diffusers pipeline folder, whose vae/ comes along). A path is served under its folder or file name.
 */
export async function loadServedModels(specs: readonly string[], threads: number): Promise<Map<string, ServedModel>> {
  const out = new Map<string, ServedModel>();
  for (const spec of specs) {
    const p = resolveModelPath(spec);
    const name = shippedModels().includes(spec) ? spec : path.basename(path.resolve(spec)).replace(/\.(safetensors|pt|pth|bin)$/, '');
    if (out.has(name)) throw new Error(`two served models would both be named "${name}"; serve one of them from a folder of another name`);
    const model = await loadDenoiser(p, { threads });
    const vaeDir = fs.statSync(p).isDirectory() && isPipelineFolder(p) ? readPipelineFolder(p).components.vae : undefined;
    const vae = vaeDir ? await loadVAE(vaeDir, { threads }) : undefined;
    out.set(name, { info: modelInfo(name, model), path: p, model, ...(vae ? { vae } : {}) });
  }
  return out;
}

export function modelInfo(name: string, model: Denoiser): ModelInfo {
  return {
    name,
    family: model.family,
    objective: model.objective,
    ...(model.classes ? { classes: { count: model.classes.count, nullLabel: model.classes.nullLabel, ...(model.classes.names ? { names: model.classes.names } : {}) } } : {}),
    latentShape: [...model.latentShape],
    textConditioned: !!model.textConditioning,
  };
}

/**
 * Jobs with the same key run in one model batch: same model, sampler, step count and cache method (its
 * preset and overrides); seeds, classes, sample counts and CFG scales may differ.
 */
export function batchKey(spec: JobSpec): string {
  return JSON.stringify([spec.model, spec.sampler ?? null, spec.steps, spec.cache.method, spec.cache.preset ?? null, [...spec.cache.set].sort()]);
}

/** Model-batch rows a job adds (samples × CFG branches). */
export function jobRows(spec: JobSpec): number {
  return spec.classes.length * spec.perClass * (spec.cfg === 1 ? 1 : 2);
}

/** A job's results: output files by name and its statistics. */
export interface JobOutput {
  /** grid.png, images/000.png …, samples.safetensors, stats.json (latent models without a VAE: no PNGs) */
  readonly files: Map<string, Uint8Array>;
  readonly stats: ServiceStats;
  readonly summary: string;
}

export interface ServiceStats extends RunStats {
  readonly model: string;
  readonly classes: readonly number[];
  readonly classNames?: readonly string[];
  readonly perClass: number;
  readonly cfg: number;
  readonly seed: number;
  readonly requestedSteps: number;
  readonly cacheLabel: string;
  /** the model batch this job ran in: how many jobs and rows shared it */
  readonly batch: { readonly jobs: number; readonly rows: number };
}

export interface BatchJob {
  readonly id: string;
  readonly spec: JobSpec;
  /** polled at step boundaries: true stops this job (its outputs are not made) */
  readonly cancelled: () => boolean;
  readonly onStep: (step: number, steps: number) => void;
}

export type BatchJobResult =
  | { readonly id: string; readonly ok: true; readonly output: JobOutput }
  /** `retryable`: the engine failed, not the job's request (a queue with retries may run it again) */
  | { readonly id: string; readonly ok: false; readonly cancelled: boolean; readonly error: string; readonly retryable?: boolean };

/** Problems a job's own request causes (found when the worker resolves it) and that fail only that job. */
export class JobSpecError extends Error {
  override name = 'JobSpecError';
}

/** The cache method, sampler plan and guidance of a spec, as `tcpade generate` picks them from the same flags. */
function runSettings(served: ServedModel, spec: JobSpec) {
  let choice;
  try {
    choice = resolveCacheChoice(spec.cache.method, spec.cache.preset, spec.cache.set, spec.steps, served.path);
  } catch (e) {
    throw new JobSpecError((e as Error).message);
  }
  // No sampler named: the pipeline folder's scheduler config decides, else the objective (as the CLI).
  const schedulerFile = spec.sampler === undefined ? schedulerConfigFile(served.path) : undefined;
  const fromConfig = schedulerFile ? planSpecFromSchedulerConfig(parseSchedulerConfigJson(fs.readFileSync(schedulerFile, 'utf8'), schedulerFile), choice.steps, schedulerFile) : undefined;
  const sampler = (fromConfig?.spec.kind ?? spec.sampler ?? (served.model.objective === 'flow' ? 'flow-euler' : 'ddim')) as SamplerName;
  const spacing = sampler === 'ddpm' ? ('dit' as const) : ('leading' as const);
  const plan = modelPlan(served.model, {
    sampler,
    steps: choice.steps,
    spacing,
    eta: 0,
    flowShift: 1,
    ...(fromConfig ? { schedulerPlan: { spec: fromConfig.spec, schedule: fromConfig.schedule } } : {}),
  });
  return { choice, plan, sampler, guidanceChannels: sampler === 'ddpm' ? ('dit' as const) : ('all' as const) };
}

/**
 * Runs jobs that share a batch key as one joint model batch and makes each job's outputs. A job whose
 * spec does not resolve fails alone; an engine failure fails the whole batch (thrown).
 */
export async function runJobBatch(models: ReadonlyMap<string, ServedModel>, jobs: readonly BatchJob[]): Promise<BatchJobResult[]> {
  const results = new Map<string, BatchJobResult>();
  const runnable: { job: BatchJob; served: ServedModel; settings: ReturnType<typeof runSettings> }[] = [];
  for (const job of jobs) {
    const served = models.get(job.spec.model);
    try {
      if (!served) throw new JobSpecError(`this worker does not serve model "${job.spec.model}"`);
      runnable.push({ job, served, settings: runSettings(served, job.spec) });
    } catch (e) {
      if (!(e instanceof JobSpecError) && !(e instanceof Error && /Error$/.test(e.name) && e.name !== 'Error')) throw e;
      results.set(job.id, { id: job.id, ok: false, cancelled: false, error: (e as Error).message });
    }
  }
  if (runnable.length) {
    const { served, settings } = runnable[0];
    if (runnable.some((r) => batchKey(r.job.spec) !== batchKey(runnable[0].job.spec))) throw new Error('runJobBatch: jobs of one batch must share their batch key');
    const members: BatchMember[] = runnable.map(({ job }) => ({
      sampleIndices: Array.from({ length: job.spec.classes.length * job.spec.perClass }, (_, k) => k),
      seed: job.spec.seed,
      cond: { classLabels: job.spec.classes.flatMap((k) => new Array<number>(job.spec.perClass).fill(k)) },
      cfgScale: job.spec.cfg,
      guidanceChannels: settings.guidanceChannels,
      cancelled: job.cancelled,
      onStep: (s) => job.onStep(s, settings.plan.steps),
    }));
    const started = performance.now();
    const compiledBefore = served.model.compileMs;
    const run = await runJointBatch(served.model, settings.plan, settings.choice.method, members);
    const setupMs = served.model.compileMs - compiledBefore;
    const wallMs = performance.now() - started - setupMs;
    for (const [k, { job }] of runnable.entries()) {
      const m = run.members[k];
      if (m.cancelled) {
        results.set(job.id, { id: job.id, ok: false, cancelled: true, error: 'cancelled' });
        continue;
      }
      const output = await jobOutput(served, job.spec, settings, m, { wallMs, setupMs, times: run.times, cacheBytesPeak: run.cacheBytesPeak, jobs: runnable.length, rows: run.rows });
      results.set(job.id, { id: job.id, ok: true, output });
    }
  }
  return jobs.map((j) => results.get(j.id)!);
}

type MemberOf = Awaited<ReturnType<typeof runJointBatch>>['members'][number];

async function jobOutput(
  served: ServedModel,
  spec: JobSpec,
  settings: ReturnType<typeof runSettings>,
  m: MemberOf,
  batch: { wallMs: number; setupMs: number; times: RunStats['times']; cacheBytesPeak: number; jobs: number; rows: number },
): Promise<JobOutput> {
  const { model } = served;
  const classSpace = model.classes!;
  const N = spec.classes.length * spec.perClass;
  const branches = spec.cfg === 1 ? ['cond'] : ['cond', 'uncond'];
  const fullEvals = N * branches.length * settings.plan.steps * model.depth;
  // fewer-steps computes a fraction of the requested steps: count its block compute against the request.
  const blockComputeRatio = ((m.blockEvals / fullEvals) * settings.plan.steps) / spec.steps;
  const latentShape = [N, ...model.latentShape];
  const pixelSpace = model.latentShape[0] === 1 || model.latentShape[0] === 3;
  const decoded = !pixelSpace && served.vae ? await decodeLatents(served.vae, m.x, latentShape) : undefined;
  const method = settings.choice.method;
  const stats: ServiceStats = {
    method: method?.name ?? 'none',
    preset: method?.preset ?? '',
    settings: { ...(method?.settings ?? {}) },
    steps: settings.plan.steps,
    sampler: settings.sampler,
    samples: N,
    branches,
    wallMs: batch.wallMs,
    setupMs: batch.setupMs,
    times: batch.times,
    blockComputeRatio,
    blockFlopsRun: m.blockEvals * model.blockFlops,
    blockFlopsFull: fullEvals * model.blockFlops,
    predictedCount: m.predictedRows,
    computedCount: m.computedRows,
    cacheBytesPeak: batch.cacheBytesPeak,
    perStep: m.perStep,
    ...(decoded ? { vaeMs: decoded.vaeMs } : {}),
    model: spec.model,
    classes: spec.classes,
    ...(classSpace.names ? { classNames: spec.classes.map((k) => labelDisplayName(classSpace, k)) } : {}),
    perClass: spec.perClass,
    cfg: spec.cfg,
    seed: spec.seed,
    requestedSteps: spec.steps,
    cacheLabel: settings.choice.label,
    batch: { jobs: batch.jobs, rows: batch.rows },
  };
  const labels = { dtype: 'I64' as const, shape: [N], data: BigInt64Array.from(spec.classes.flatMap((k) => new Array<bigint>(spec.perClass).fill(BigInt(k)))) };
  const files = new Map<string, Uint8Array>();
  if (!pixelSpace && !decoded) {
    files.set('samples.safetensors', encodeSafetensors({ latents: { dtype: 'F32', shape: latentShape, data: m.x }, labels }));
  } else {
    const { images, shape } = decoded ?? { images: toUnitRange(m.x), shape: latentShape };
    files.set('samples.safetensors', encodeSafetensors({ images: { dtype: 'F32', shape, data: images }, labels }));
    files.set('grid.png', encodeClassGrid(images, shape, spec.classes, spec.perClass, (k) => labelDisplayName(classSpace, k)));
    encodeSamplePngs(images, shape).forEach(({ png }, k) => files.set(`images/${k}.png`, png));
  }
  files.set('stats.json', Buffer.from(JSON.stringify(stats, null, 2) + '\n'));
  return { files, stats, summary: summaryLine({ ...stats, method: settings.choice.label, preset: '' }) };
}

/** A short content hash of a job's samples (logs and tests compare runs by it). */
export function samplesDigest(files: ReadonlyMap<string, Uint8Array>): string {
  return createHash('sha256').update(files.get('samples.safetensors') ?? new Uint8Array()).digest('hex').slice(0, 16);
}
