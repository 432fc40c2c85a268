// loadDiT: reads a DiT from the real formats — original state dict (safetensors or .pt via the restricted
// unpickler) or a diffusers DiTTransformer2DModel folder — into original-DiT keys, then builds a DiT.
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsLazy, StTensor } from '../../io/safetensors.js';
import type { LazyWeights } from '../weights.js';
import { readJsonObject } from '../../io/json.js';
import { loadTorchCheckpoint } from '../../io/torch-pickle.js';
import { CheckpointError } from '../../io/errors.js';
import { DiTConfig, configFromDiffusersJson, configFromOriginalJson, validateConfig } from './dit-config.js';
import { DIFFUSERS_DIT_CLASSES, checkOriginal, fromDiffusers, objectiveOfConfig } from './checkpoint-keys.js';
import type { Objective } from '../denoiser.js';
import { DiT } from './dit.js';

export { DIFFUSERS_DIT_CLASSES, isDiTConfigJson } from './checkpoint-keys.js';

export interface LoadOptions {
  /** Config to use when no config.json lies beside an original checkpoint (or to override it). */
  config?: DiTConfig;
  threads?: number;
  /** display names of the classes (a pipeline folder's id2label), index = label */
  labelNames?: readonly string[];
}

export type CheckpointFormat = 'original-safetensors' | 'original-pt' | 'diffusers';


/** Decides the format and the files of a path; throws naming what was looked for. */
export function resolveCheckpoint(p: string): { format: CheckpointFormat; weights: string; configFile?: string } {
  if (!fs.existsSync(p)) throw new CheckpointError(p, 'does not exist', 'Pass a model folder, a .safetensors or a .pt file.');
  if (fs.statSync(p).isDirectory()) {
    const sub = path.join(p, 'transformer');
    if (fs.existsSync(path.join(sub, 'config.json'))) return resolveCheckpoint(sub);
    for (const name of ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.bin']) {
      const diff = path.join(p, name);
      if (fs.existsSync(diff)) return { format: 'diffusers', weights: diff, configFile: path.join(p, 'config.json') };
    }
    for (const name of ['model.safetensors', 'model.pt', 'model.pth']) {
      const f = path.join(p, name);
      if (fs.existsSync(f)) return resolveCheckpoint(f);
    }
    throw new CheckpointError(p, 'holds no DiT checkpoint', 'Expected model.safetensors (+ config.json), model.pt, or diffusers\' diffusion_pytorch_model.safetensors + config.json.');
  }
  const beside = path.join(path.dirname(p), 'config.json');
  const configFile = fs.existsSync(beside) ? beside : undefined;
  const diffusersConfig = !!configFile && DIFFUSERS_DIT_CLASSES.includes(String(readJsonObject(configFile)._class_name));
  if (/\.safetensors$/i.test(p)) return { format: diffusersConfig ? 'diffusers' : 'original-safetensors', weights: p, configFile };
  if (/\.(pt|pth|bin|ckpt)$/i.test(p)) return { format: diffusersConfig ? 'diffusers' : 'original-pt', weights: p, configFile };
  throw new CheckpointError(p, 'has an unknown extension', 'Use .safetensors, .pt/.pth, or a model folder.');
}

/**
 * Opens a DiT checkpoint: config, format, and weights (original-DiT keys) that load when a graph needs
 * them — read from a safetensors file on demand, converted from a torch pickle's stored bytes — so JS
 * never holds a float32 copy of the whole model beside onnxruntime's.
 */
export async function openDiTWeights(p: string, opts: LoadOptions = {}): Promise<{ config: DiTConfig; weights: LazyWeights; format: CheckpointFormat }> {
  const r = resolveCheckpoint(p);
  const read = async (file: string): Promise<Map<string, StTensor>> => (/\.safetensors$/i.test(file) ? readSafetensorsLazy(file).tensors : loadTorchCheckpoint(file));
  if (r.format === 'diffusers') {
    if (!r.configFile || !fs.existsSync(r.configFile)) throw new CheckpointError(r.weights, 'has no config.json beside it', 'A diffusers model folder holds config.json next to the weights.');
    const config = opts.config ?? configFromDiffusersJson(readJsonObject(r.configFile), r.configFile);
    return { config, weights: fromDiffusers(r.weights, await read(r.weights), config), format: r.format };
  }
  let config = opts.config;
  if (!config) {
    if (!r.configFile) throw new CheckpointError(r.weights, 'has no config.json beside it', 'Pass the config (e.g. --config DiT-XL/2-256) or put the constructor arguments in config.json.');
    config = configFromOriginalJson(readJsonObject(r.configFile), r.configFile);
  }
  validateConfig(config, r.weights);
  return { config, weights: checkOriginal(r.weights, await read(r.weights), config), format: r.format };
}

/** Reads weights (original-DiT keys, every tensor in memory) and config from any supported checkpoint. */
export async function readDiTWeights(p: string, opts: LoadOptions = {}): Promise<{ config: DiTConfig; weights: Map<string, Float32Array>; format: CheckpointFormat }> {
  const { config, weights, format } = await openDiTWeights(p, opts);
  return { config, weights: weights.materialize(), format };
}

/** 'eps' unless the checkpoint's config.json says `"objective": "flow"` (our flow-trained models). */
function objectiveOf(configFile: string | undefined): Objective {
  return objectiveOfConfig(configFile ? readJsonObject(configFile) : undefined);
}

/** The DiT entry point (kept for compatibility; `loadDenoiser` is the family-neutral one). */
export async function loadDiT(pathOrDir: string, opts: LoadOptions = {}): Promise<DiT> {
  const { config, weights } = await openDiTWeights(pathOrDir, opts);
  const { configFile } = resolveCheckpoint(pathOrDir);
  return new DiT(config, weights, { threads: opts.threads, objective: objectiveOf(configFile), labelNames: opts.labelNames });
}
