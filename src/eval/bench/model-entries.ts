// The models a bench run compares: shipped names or paths resolved to a loadable path, or synthetic model
// names (a named architecture with random weights, speed only); a short unique name for rows and files,
// the sampler their training objective calls for, and a path fit for reports.
import path from 'node:path';
import type { Denoiser } from '../../models/denoiser.js';
import { loadDenoiser } from '../../models/load.js';
import { modelObjective, packageRoot, resolveModelPath } from '../../models/shipped.js';
import { isSyntheticModel, syntheticDenoiser, syntheticModelInfo, type SyntheticModelInfo } from '../../models/synthetic.js';
import type { SamplerName } from '../../pipeline/generate.js';

export interface ModelEntry {
  readonly name: string;
  /** Where to load it from (`synthetic:<name>` for a synthetic model). */
  readonly path: string;
  /** What the result files say: relative to the package root when inside it (reports are committed). */
  readonly shownPath: string;
  readonly objective: 'eps' | 'flow';
  readonly sampler: SamplerName;
  /** A synthetic model (random weights): its rows measure speed only, never quality. */
  readonly synthetic?: SyntheticModelInfo;
}

/** The prefix of a synthetic model's path in entries and result files. */
export const SYNTHETIC_PREFIX = 'synthetic:';

/** A path as reports write it: relative to the package root when inside it, else absolute. */
export function portablePath(p: string): string {
  if (p.startsWith(SYNTHETIC_PREFIX)) return p;
  const rel = path.relative(packageRoot(), path.resolve(p));
  return rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(p) : rel.split(path.sep).join('/');
}

function samplerFor(objective: 'eps' | 'flow'): SamplerName {
  return objective === 'flow' ? 'flow-euler' : 'ddim';
}

/** Short unique names: the synthetic or shipped name, or the folder/file name of a path. */
export function modelEntries(models: readonly string[]): ModelEntry[] {
  const used = new Set<string>();
  const unique = (base: string): string => {
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}-${k}`;
    used.add(name);
    return name;
  };
  return models.map((m) => {
    if (isSyntheticModel(m)) {
      const info = syntheticModelInfo(m);
      return { name: unique(m), path: SYNTHETIC_PREFIX + m, shownPath: SYNTHETIC_PREFIX + m, objective: info.objective, sampler: samplerFor(info.objective), synthetic: info };
    }
    const p = resolveModelPath(m);
    const base = /^[\w.-]+$/.test(m) ? m : path.basename(path.resolve(p)).replace(/\.(safetensors|pt|pth)$/i, '');
    const objective = modelObjective(p);
    return { name: unique(base), path: p, shownPath: portablePath(p), objective, sampler: samplerFor(objective) };
  });
}

/** The entry's denoiser: loaded from its checkpoint, or a synthetic model built in memory. */
export async function openDenoiser(entry: ModelEntry, threads: number): Promise<Denoiser> {
  if (entry.synthetic) return syntheticDenoiser(entry.synthetic.name, threads);
  return loadDenoiser(entry.path, { threads });
}
