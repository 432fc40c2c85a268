// Resolves `--model <name|path>`: shipped models live in the package's models/ folder; anything else
// is a path to a checkpoint or model folder. Also reads the shipped model's objective (ε or flow).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelInputError } from './denoiser.js';

/** The package root (the nearest folder above this module holding package.json). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the tcpade package root');
    dir = up;
  }
  return dir;
}

export function shippedModels(): string[] {
  const dir = path.join(packageRoot(), 'models');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'model.safetensors')));
}

export function resolveModelPath(nameOrPath: string): string {
  const shipped = path.join(packageRoot(), 'models', nameOrPath);
  if (/^[\w.-]+$/.test(nameOrPath) && fs.existsSync(path.join(shipped, 'model.safetensors'))) return shipped;
  if (fs.existsSync(nameOrPath)) return nameOrPath;
  const names = shippedModels();
  throw new ModelInputError(`no model "${nameOrPath}": not a shipped model (${names.length ? names.join(', ') : 'none shipped'}) and no such file or folder`);
}

/** 'eps' or 'flow' from the model folder's config.json ("objective"); ε for anything else (DiT's own). */
export function modelObjective(modelPath: string): 'eps' | 'flow' {
  const dir = fs.statSync(modelPath).isDirectory() ? modelPath : path.dirname(modelPath);
  const cfg = path.join(dir, 'config.json');
  if (!fs.existsSync(cfg)) return 'eps';
  try {
    const j = JSON.parse(fs.readFileSync(cfg, 'utf8')) as { objective?: string };
    return j.objective === 'flow' ? 'flow' : 'eps';
  } catch {
    return 'eps';
  }
}
