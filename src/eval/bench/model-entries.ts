// The models a bench run compares: shipped names or paths resolved to a loadable path, a short unique
// name for rows and files, the sampler their training objective calls for, and a path fit for reports.
import path from 'node:path';
import { modelObjective, packageRoot, resolveModelPath } from '../../models/shipped.js';
import type { SamplerName } from '../../pipeline/generate.js';

export interface ModelEntry {
  readonly name: string;
  /** Where to load it from. */
  readonly path: string;
  /** What the result files say: relative to the package root when inside it (reports are committed). */
  readonly shownPath: string;
  readonly objective: 'eps' | 'flow';
  readonly sampler: SamplerName;
}

/** A path as reports write it: relative to the package root when inside it, else absolute. */
export function portablePath(p: string): string {
  const rel = path.relative(packageRoot(), path.resolve(p));
  return rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(p) : rel.split(path.sep).join('/');
}

/** Short unique names: the shipped name, or the folder/file name of a path. */
export function modelEntries(models: readonly string[]): ModelEntry[] {
  const used = new Set<string>();
  return models.map((m) => {
    const p = resolveModelPath(m);
    let base = /^[\w.-]+$/.test(m) ? m : path.basename(path.resolve(p)).replace(/\.(safetensors|pt|pth)$/i, '');
    for (let k = 2; used.has(base); k++) base = `${base}-${k}`;
    used.add(base);
    const objective = modelObjective(p);
    return { name: base, path: p, shownPath: portablePath(p), objective, sampler: objective === 'flow' ? 'flow-euler' : 'ddim' };
  });
}
