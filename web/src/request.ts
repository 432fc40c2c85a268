// A sampling request as the page's URL carries it (?model=mnist-dit&classes=0,7&perClass=1&steps=20
// &sampler=&cfg=&seed=0&cache=tcpade&preset=fast&run=1), parsed and checked with messages a person can act
// on. Empty values mean "the default", which is what `tcpade generate` would use (filled in by the worker,
// which knows the model). Pure: used by the page and the worker.
import type { SamplerName } from '../../src/pipeline/generate.js';
import type { WeightPrecision } from './manifest.js';

export const SAMPLERS: readonly SamplerName[] = ['ddim', 'dpmpp-2m', 'ddpm', 'flow-euler'];
export type BackendChoice = 'auto' | 'wasm' | 'webgpu';

export interface WebRequest {
  readonly model: string;
  readonly weights: WeightPrecision;
  /** class ids or names, comma-separated; undefined = the first 10 classes (as the CLI) */
  readonly classes?: string;
  readonly perClass: number;
  readonly steps: number;
  /** undefined = the model's default (DDIM for ε models, flow Euler for flow models) */
  readonly sampler?: SamplerName;
  /** undefined = 1.5 (the CLI's default for class-conditional models) */
  readonly cfg?: number;
  readonly seed: number;
  /** a cache method (`tcpade methods`), `none`, or `fewer-steps` */
  readonly cache: string;
  /** undefined = the method's default preset */
  readonly preset?: string;
}

/** How the page runs: backend, threads, and what to do on load. Not part of the sampling request. */
export interface PageOptions {
  readonly backend: BackendChoice;
  /** wasm threads; undefined = min(2, cores), the library's default */
  readonly threads?: number;
  /** start at once */
  readonly run: boolean;
  /** after the run, also run the same request with full compute and compare */
  readonly compare: boolean;
}

export const DEFAULT_REQUEST: WebRequest = { model: 'mnist-dit', weights: 'fp32', perClass: 1, steps: 20, seed: 0, cache: 'tcpade', preset: 'fast' };

/** Limits that keep one browser tab responsive; the library itself takes more. */
export const LIMITS = { maxSteps: 1000, maxPerClass: 32, maxThreads: 16 } as const;

export class RequestError extends Error {
  override name = 'RequestError';
}

const KNOWN = ['model', 'weights', 'classes', 'perClass', 'steps', 'sampler', 'cfg', 'seed', 'cache', 'preset', 'backend', 'threads', 'run', 'compare'];

function integer(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new RequestError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return v;
}

function flag(name: string, raw: string | null): boolean {
  if (raw === null || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new RequestError(`${name} must be 1 or 0, got "${raw}"`);
}

/** The request and page options in `params`; RequestError naming the first bad parameter. */
export function parseRequestParams(params: URLSearchParams): { request: WebRequest; page: PageOptions } {
  const unknown = [...params.keys()].filter((k) => !KNOWN.includes(k));
  if (unknown.length) throw new RequestError(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; the page takes ${KNOWN.join(', ')}`);
  const get = (k: string): string | undefined => {
    const v = params.get(k);
    return v === null || v.trim() === '' ? undefined : v.trim();
  };
  const d = DEFAULT_REQUEST;
  const weights = get('weights') ?? d.weights;
  if (weights !== 'fp32' && weights !== 'fp16') throw new RequestError(`weights must be fp32 or fp16, got "${weights}"`);
  const sampler = get('sampler');
  if (sampler !== undefined && !SAMPLERS.includes(sampler as SamplerName)) throw new RequestError(`sampler must be one of ${SAMPLERS.join(', ')} (or empty for the model's default), got "${sampler}"`);
  const cfgRaw = get('cfg');
  const cfg = cfgRaw === undefined ? undefined : Number(cfgRaw);
  if (cfg !== undefined && !(Number.isFinite(cfg) && cfg >= 0 && cfg <= 100)) throw new RequestError(`cfg must be a number in [0, 100] (1 = no guidance), got "${cfgRaw}"`);
  const backend = get('backend') ?? 'auto';
  if (backend !== 'auto' && backend !== 'wasm' && backend !== 'webgpu') throw new RequestError(`backend must be auto, wasm or webgpu, got "${backend}"`);
  const threadsRaw = get('threads');
  const cache = get('cache') ?? d.cache;
  // the default preset (fast) belongs to the default method; another method takes its own default
  const preset = params.has('preset') ? get('preset') : cache === d.cache ? d.preset : undefined;
  const request: WebRequest = {
    model: get('model') ?? d.model,
    weights,
    classes: get('classes'),
    perClass: get('perClass') === undefined ? d.perClass : integer('perClass', get('perClass')!, 1, LIMITS.maxPerClass),
    steps: get('steps') === undefined ? d.steps : integer('steps', get('steps')!, 1, LIMITS.maxSteps),
    sampler: sampler as SamplerName | undefined,
    cfg,
    seed: get('seed') === undefined ? d.seed : integer('seed', get('seed')!, 0, Number.MAX_SAFE_INTEGER),
    cache,
    preset,
  };
  const page: PageOptions = {
    backend,
    threads: threadsRaw === undefined ? undefined : integer('threads', threadsRaw, 1, LIMITS.maxThreads),
    run: flag('run', params.get('run')),
    compare: flag('compare', params.get('compare')),
  };
  return { request, page };
}

/** The URL query of a request (defaults left out, so links stay short). */
export function requestToParams(r: WebRequest, page: Partial<PageOptions> = {}): URLSearchParams {
  const p = new URLSearchParams();
  p.set('model', r.model);
  if (r.weights !== 'fp32') p.set('weights', r.weights);
  if (r.classes !== undefined) p.set('classes', r.classes);
  p.set('perClass', String(r.perClass));
  p.set('steps', String(r.steps));
  p.set('sampler', r.sampler ?? '');
  p.set('cfg', r.cfg === undefined ? '' : String(r.cfg));
  p.set('seed', String(r.seed));
  p.set('cache', r.cache);
  p.set('preset', r.preset ?? '');
  if (page.backend && page.backend !== 'auto') p.set('backend', page.backend);
  if (page.threads !== undefined) p.set('threads', String(page.threads));
  return p;
}
