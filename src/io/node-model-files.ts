// ModelFiles over a local folder (Node): text read whole, safetensors tensors read lazily from disk
// (readSafetensorsLazy), names given as the joined path so messages stay what they were.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from './errors.js';
import type { ModelFiles } from './model-files.js';
import { readSafetensorsLazy } from './safetensors.js';

export function folderModelFiles(dir: string): ModelFiles {
  const where = (name: string): string => path.join(dir, name);
  return {
    location: dir,
    where,
    has: async (name) => fs.existsSync(where(name)),
    readText: async (name) => {
      try {
        return fs.readFileSync(where(name), 'utf8');
      } catch (e) {
        throw new CheckpointError(where(name), `cannot be read (${(e as Error).message})`);
      }
    },
    readSafetensors: async (name) => readSafetensorsLazy(where(name)),
  };
}
