// Turns `--cache M --preset P --set k=v` into a configured cache method, or — for `fewer-steps` — into
// a shorter plan with no cache (the honest baseline: the same sampler with as many steps as a cache computes).
import { InvalidArgumentError } from 'commander';
import { createCacheMethod } from '../cache/index.js';
import type { CacheMethod } from '../cache/contract.js';
import { storedTeaCacheCoefficients } from './calibrate.js';

export interface CacheChoice {
  method: CacheMethod | undefined;
  steps: number;
  label: string;
}

export function parseSets(sets: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`--set expects key=value, got "${s}"`);
    out[s.slice(0, i).trim()] = s.slice(i + 1).trim();
  }
  return out;
}

/** fewer-steps presets: x2 = half the steps, … ; or --set steps=K. */
function fewerSteps(requested: number, preset: string | undefined, sets: Record<string, unknown>): number {
  if (sets.steps !== undefined) {
    const k = Number(sets.steps);
    if (!Number.isInteger(k) || k < 1 || k > requested) throw new InvalidArgumentError(`fewer-steps: steps must be an integer in [1, ${requested}], got ${sets.steps}`);
    return k;
  }
  const m = /^x(\d+(?:\.\d+)?)$/.exec(preset ?? 'x2');
  if (!m) throw new InvalidArgumentError(`fewer-steps presets are x2, x2.5, x3, … (divide the step count), or use --set steps=K; got "${preset}"`);
  return Math.max(1, Math.round(requested / Number(m[1])));
}

/** `modelPath` lets TeaCache pick up the coefficients `calibrate teacache` stored beside the model. */
export function resolveCacheChoice(name: string, preset: string | undefined, sets: readonly string[], steps: number, modelPath?: string): CacheChoice {
  const overrides: Record<string, string | readonly number[]> = parseSets(sets);
  if (name === 'teacache' && overrides.coefficients === undefined && modelPath) {
    const c = storedTeaCacheCoefficients(modelPath);
    if (c) overrides.coefficients = c;
  }
  if (name === 'none') return { method: undefined, steps, label: 'none' };
  if (name === 'fewer-steps') {
    const k = fewerSteps(steps, preset, overrides);
    return { method: undefined, steps: k, label: `fewer-steps (${k} of ${steps})` };
  }
  try {
    const method = createCacheMethod(name, preset, overrides);
    return { method, steps, label: `${method.name}/${method.preset}` };
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}
