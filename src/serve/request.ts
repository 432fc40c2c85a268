// A generation request as the service takes it (POST /v1/jobs), its JSON schema (fastify validates the
// shape), and its resolution against what the service serves into a JobSpec: the plain, serialisable
// description a worker runs — the same defaults as `tcpade generate`, so a request gives the bytes the
// CLI gives with the same flags.
import { ModelInputError } from '../models/denoiser.js';
import { parseClassList } from '../models/labels.js';
import type { SamplerName } from '../pipeline/generate.js';

/** A served model as the API describes it (GET /v1/models); everything needed to check a request. */
export interface ModelInfo {
  readonly name: string;
  readonly family: string;
  readonly objective: 'eps' | 'flow';
  /** class-conditional models: the label count and display names (index = label) */
  readonly classes?: { readonly count: number; readonly nullLabel: number; readonly names?: readonly string[] };
  /** one sample's latent shape */
  readonly latentShape: readonly number[];
  /** text-conditioned models need prompts, which the service does not take yet */
  readonly textConditioned: boolean;
}

export interface CacheRequest {
  readonly method: string;
  readonly preset?: string;
  /** setting overrides, as `--set key=value` */
  readonly set?: Readonly<Record<string, string | number | boolean>>;
}

/** The body of POST /v1/jobs. */
export interface JobRequest {
  readonly model: string;
  /** class ids or label names; default the first 10 (as the CLI) */
  readonly classes?: readonly (number | string)[];
  readonly perClass?: number;
  readonly steps?: number;
  readonly sampler?: SamplerName;
  readonly cfg?: number;
  readonly seed?: number;
  readonly cache?: CacheRequest;
}

/** What a worker runs: a request with every default filled in and every name resolved. */
export interface JobSpec {
  readonly model: string;
  /** resolved class ids, in the request's order */
  readonly classes: readonly number[];
  readonly perClass: number;
  readonly steps: number;
  /** absent: the model's pipeline scheduler config, else DDIM (ε models) or flow Euler (flow models), as the CLI */
  readonly sampler?: SamplerName;
  readonly cfg: number;
  readonly seed: number;
  readonly cache: { readonly method: string; readonly preset?: string; readonly set: readonly string[] };
}

/** Limits one request may ask for (a service shares its machine). */
export interface RequestLimits {
  readonly maxSamples: number;
  readonly maxSteps: number;
}

export const DEFAULT_LIMITS: RequestLimits = { maxSamples: 256, maxSteps: 1000 };

/** A request the service refuses, with the HTTP status to answer. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 413 | 422 = 400,
  ) {
    super(message);
  }
}

const SAMPLERS = ['ddim', 'dpmpp-2m', 'ddpm', 'flow-euler'] as const;

/** JSON schema of JobRequest (fastify/ajv checks types and ranges before the handler runs). */
export function jobRequestSchema(limits: RequestLimits = DEFAULT_LIMITS): object {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['model'],
    properties: {
      model: { type: 'string', minLength: 1, maxLength: 200 },
      classes: { type: 'array', minItems: 1, maxItems: limits.maxSamples, items: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1, maxLength: 200 }] } },
      perClass: { type: 'integer', minimum: 1, maximum: limits.maxSamples },
      steps: { type: 'integer', minimum: 1, maximum: limits.maxSteps },
      sampler: { type: 'string', enum: [...SAMPLERS] },
      cfg: { type: 'number', minimum: 0, maximum: 100 },
      seed: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      cache: {
        type: 'object',
        additionalProperties: false,
        required: ['method'],
        properties: {
          method: { type: 'string', minLength: 1, maxLength: 100 },
          preset: { type: 'string', minLength: 1, maxLength: 100 },
          set: { type: 'object', maxProperties: 50, additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } },
        },
      },
    },
  };
}

/** A class given by id or by one of its names (the CLI's --classes rules: any synonym, case-insensitive). */
function resolveClass(c: number | string, model: ModelInfo): number {
  let ids: number[];
  try {
    ids = parseClassList(String(c), model.classes!);
  } catch (e) {
    if (e instanceof ModelInputError) throw new RequestError(`model ${model.name}: ${e.message}`);
    throw e;
  }
  if (ids.length !== 1) throw new RequestError(`"${c}" names ${ids.length} classes (${ids.join(', ')}); give one class per array item`);
  return ids[0];
}

/**
 * The JobSpec of a request against the served models, or a RequestError (404 for an unknown model, 400
 * for everything else a caller can fix). Cache method names and settings are checked by the caller with
 * the cache registry, which knows them.
 */
export function resolveJobRequest(req: JobRequest, models: ReadonlyMap<string, ModelInfo>, limits: RequestLimits = DEFAULT_LIMITS): JobSpec {
  const model = models.get(req.model);
  if (!model) throw new RequestError(`this service does not serve a model named "${req.model}"; it serves: ${[...models.keys()].join(', ') || 'none yet (no worker has registered)'}`, 404);
  if (model.textConditioned || !model.classes) throw new RequestError(`model ${model.name} is text-conditioned and needs prompts, which the service does not take yet; it serves class-conditional models`, 422);
  const classes = (req.classes ?? Array.from({ length: Math.min(10, model.classes.count) }, (_, k) => k)).map((c) => resolveClass(c, model));
  const perClass = req.perClass ?? 4;
  if (classes.length * perClass > limits.maxSamples) {
    throw new RequestError(`${classes.length} classes × ${perClass} per class = ${classes.length * perClass} samples; this service takes at most ${limits.maxSamples} per request`, 413);
  }
  const sampler = req.sampler;
  if (sampler !== undefined && (sampler === 'flow-euler') !== (model.objective === 'flow')) {
    throw new RequestError(`sampler ${sampler} does not fit model ${model.name}, trained with the ${model.objective} objective; use ${model.objective === 'flow' ? 'flow-euler' : 'ddim, dpmpp-2m or ddpm'}`);
  }
  const cache = req.cache ?? { method: 'none' };
  return {
    model: model.name,
    classes,
    perClass,
    steps: req.steps ?? 20,
    ...(sampler !== undefined ? { sampler } : {}),
    cfg: req.cfg ?? 1.5,
    seed: req.seed ?? 0,
    cache: {
      method: cache.method,
      ...(cache.preset !== undefined ? { preset: cache.preset } : {}),
      set: Object.entries(cache.set ?? {}).map(([k, v]) => `${k}=${String(v)}`),
    },
  };
}
