// Which rows a (model, step count) group holds: `none`, every preset of every registered cache method,
// and `fewer-steps` at S/d for the configured divisors and at the cached rows' median computed steps.
import { listCacheMethods } from '../../cache/index.js';
import { median } from './numbers.js';
import { BenchConfigError } from './config.js';

export interface Variant {
  readonly method: string;
  readonly preset: string;
  /** fewer-steps: steps actually sampled. */
  readonly stepsRun?: number;
  /** fewer-steps: how K was chosen ("x2", "matched"…). */
  readonly derivedFrom?: readonly string[];
}

/** Every method name the bench knows (for `--methods` validation and help). */
export function benchMethodNames(): string[] {
  return ['none', 'fewer-steps', ...listCacheMethods().map((m) => m.name).filter((n) => n !== 'none')];
}

export function checkMethodFilter(methods: readonly string[] | undefined): void {
  if (methods === undefined) return;
  const known = benchMethodNames();
  const bad = methods.filter((m) => !known.includes(m));
  if (bad.length) throw new BenchConfigError(`--methods: unknown ${bad.join(', ')}; known: ${known.join(', ')}`);
}

/**
 * Checks a `--presets` list: `default`, `all`, or `method/preset` of a registered cache method that
 * `--methods` (if given) selects.
 */
export function checkPresetFilter(presets: readonly string[] | undefined, methods: readonly string[] | undefined): void {
  if (presets === undefined) return;
  if (presets.length === 0) throw new BenchConfigError('--presets needs at least one entry: default, all, or method/preset');
  const registry = listCacheMethods().filter((m) => m.name !== 'none');
  for (const p of presets) {
    if (p === 'default' || p === 'all') continue;
    const [method, preset, ...rest] = p.split('/');
    const m = registry.find((x) => x.name === method);
    if (!m || preset === undefined || rest.length) {
      throw new BenchConfigError(`--presets: "${p}" is not default, all or method/preset of a cache method (${registry.map((x) => x.name).join(', ')})`);
    }
    if (!m.presets.includes(preset)) throw new BenchConfigError(`--presets: ${method} has no preset "${preset}"; its presets: ${m.presets.join(', ')}`);
    if (methods !== undefined && !methods.includes(method)) throw new BenchConfigError(`--presets names ${p}, but --methods (${methods.join(', ')}) leaves ${method} out`);
  }
}

function presetSelected(presets: readonly string[] | undefined, method: string, preset: string, defaultPreset: string): boolean {
  if (presets === undefined || presets.includes('all')) return true;
  return (presets.includes('default') && preset === defaultPreset) || presets.includes(`${method}/${preset}`);
}

/**
 * `none` first (every other row compares against it), then each cache method's presets in registry order,
 * limited by `--methods` and `--presets`.
 */
export function cachedVariants(methods: readonly string[] | undefined, presets?: readonly string[]): Variant[] {
  const out: Variant[] = [{ method: 'none', preset: 'default' }];
  for (const m of listCacheMethods()) {
    if (m.name === 'none') continue;
    if (methods !== undefined && !methods.includes(m.name)) continue;
    for (const p of m.presets) if (presetSelected(presets, m.name, p, m.defaultPreset)) out.push({ method: m.name, preset: p });
  }
  return out;
}

/**
 * fewer-steps rows: K = round(S / d) per divisor, plus K = round(median computed steps of the cached rows)
 * ("matched": as many steps as the caches compute). Equal K are merged; K = S or K < 1 are dropped.
 */
export function fewerStepsVariants(steps: number, divisors: readonly number[], cachedComputedSteps: readonly number[]): Variant[] {
  const byK = new Map<number, string[]>();
  const add = (k: number, why: string): void => {
    if (!Number.isFinite(k) || k < 1 || k >= steps) return;
    byK.set(k, [...(byK.get(k) ?? []), why]);
  };
  for (const d of divisors) add(Math.max(1, Math.round(steps / d)), `x${d}`);
  if (cachedComputedSteps.length > 0) add(Math.max(1, Math.round(median(cachedComputedSteps))), 'matched');
  return [...byK.entries()].sort((a, b) => b[0] - a[0]).map(([k, why]) => ({ method: 'fewer-steps', preset: `k${k}`, stepsRun: k, derivedFrom: why }));
}
