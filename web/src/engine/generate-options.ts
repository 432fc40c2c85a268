// A WebRequest against a loaded model → the options `generate` runs with: the same defaults and checks as
// `tcpade generate` (src/cli/generate.ts, cache-choice.ts) — sampler by objective, CFG 1.5, leading spacing
// (DiT's for ddpm), guidance on all channels (DiT's for ddpm), η 0, batches of 20, TeaCache's coefficients
// from teacache.json beside the model, fewer-steps as a shorter plan — so a page run and a CLI run of the
// same request give the same samples (test/web checks it).
import { createCacheMethod } from '../../../src/cache/index.js';
import type { CacheMethod } from '../../../src/cache/contract.js';
import { planObjective } from '../../../src/diffusion/sampler.js';
import type { SamplerKind } from '../../../src/diffusion/plan.js';
import type { ModelFiles } from '../../../src/io/model-files.js';
import { type Denoiser, classCount } from '../../../src/models/denoiser.js';
import { parseClassList } from '../../../src/models/labels.js';
import type { GenerateOptions, GuidanceChannels, SamplerName } from '../../../src/pipeline/generate.js';
import { RequestError, type WebRequest } from '../request.js';

/** The CLI's --batch-size default: samples per model batch (results do not depend on it). */
export const CLI_BATCH_SIZE = 20;

export interface ResolvedRequest {
  /** what generate runs (onStep added by the caller) */
  readonly options: Omit<GenerateOptions, 'onStep'>;
  readonly classes: readonly number[];
  readonly labels: readonly number[];
  /** steps asked for; fewer-steps samples with fewer */
  readonly requestedSteps: number;
  /** "tcpade/fast", "none", "fewer-steps (7 of 20)" */
  readonly label: string;
  readonly sampler: SamplerName;
  readonly cfg: number;
}

/** TeaCache's rescale polynomial as `tcpade calibrate teacache` stored it beside the model, if it did. */
export async function storedCoefficients(files: ModelFiles): Promise<number[] | undefined> {
  if (!(await files.has('teacache.json'))) return undefined;
  const j = JSON.parse(await files.readText('teacache.json')) as { coefficients?: number[] };
  return Array.isArray(j.coefficients) ? j.coefficients : undefined;
}

/** fewer-steps: x2 = half the steps, x2.5, x3, … (the CLI's presets) */
function fewerSteps(requested: number, preset: string | undefined): number {
  const m = /^x(\d+(?:\.\d+)?)$/.exec(preset ?? 'x2');
  if (!m) throw new RequestError(`fewer-steps presets are x2, x2.5, x3, … (divide the step count); got "${preset}"`);
  return Math.max(1, Math.round(requested / Number(m[1])));
}

/** The cache method of a request (undefined = full compute), checked by the library's registry. */
export function cacheChoice(r: WebRequest, coefficients: number[] | undefined): { method: CacheMethod | undefined; steps: number; label: string } {
  if (r.cache === 'none') return { method: undefined, steps: r.steps, label: 'none' };
  if (r.cache === 'fewer-steps') {
    const k = fewerSteps(r.steps, r.preset);
    return { method: undefined, steps: k, label: `fewer-steps (${k} of ${r.steps})` };
  }
  try {
    const method = createCacheMethod(r.cache, r.preset, r.cache === 'teacache' && coefficients ? { coefficients } : {});
    return { method, steps: r.steps, label: `${method.name}/${method.preset}` };
  } catch (e) {
    throw new RequestError((e as Error).message);
  }
}

export function resolveRequest(r: WebRequest, model: Denoiser, coefficients: number[] | undefined): ResolvedRequest {
  const choice = cacheChoice(r, coefficients);
  const classSpace = model.classes;
  if (!classSpace) throw new RequestError(`model ${r.model} is not class-conditional; the page samples class-conditional models`);
  const sampler: SamplerName = r.sampler ?? (model.objective === 'flow' ? 'flow-euler' : 'ddim');
  if ((planObjective({ kind: sampler as SamplerKind }) === 'flow') !== (model.objective === 'flow')) {
    throw new RequestError(`sampler ${sampler} does not fit ${r.model}, trained with the ${model.objective} objective; use ${model.objective === 'flow' ? 'flow-euler' : 'ddim, dpmpp-2m or ddpm'}`);
  }
  let classes: number[];
  try {
    classes = parseClassList(r.classes ?? Array.from({ length: Math.min(10, classCount(model)) }, (_, k) => k).join(','), classSpace);
  } catch (e) {
    throw new RequestError((e as Error).message);
  }
  const labels = classes.flatMap((k) => new Array<number>(r.perClass).fill(k));
  const cfg = r.cfg ?? 1.5;
  const guidanceChannels: GuidanceChannels = sampler === 'ddpm' ? 'dit' : 'all';
  return {
    options: {
      labels,
      seed: r.seed,
      steps: choice.steps,
      sampler,
      guidanceChannels,
      cfgScale: cfg,
      cache: choice.method,
      batchSize: CLI_BATCH_SIZE,
      eta: 0,
      spacing: sampler === 'ddpm' ? 'dit' : 'leading',
      flowShift: 1,
    },
    classes,
    labels,
    requestedSteps: r.steps,
    label: choice.label,
    sampler,
    cfg,
  };
}
