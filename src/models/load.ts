// loadDenoiser: any supported checkpoint file or folder → the family's Denoiser. The family is read from
// the config (diffusers' _class_name, or the original constructor arguments); a pipeline folder
// (model_index.json) contributes its transformer/ and pipeline-level data such as label names.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../io/errors.js';
import type { Denoiser } from './denoiser.js';
import type { DiTConfig } from './dit/dit-config.js';
import { DIFFUSERS_DIT_CLASSES, isDiTConfigJson, loadDiT, resolveCheckpoint } from './dit/load.js';
import { readJsonObject } from '../io/json.js';
import { isPipelineFolder, readPipelineFolder, requireComponent } from './folders.js';

export interface LoadDenoiserOptions {
  /** ORT intra-op threads (default min(2, cores)) */
  threads?: number;
  /** family-specific settings for checkpoints without a config (DiT: a DiTConfig) */
  config?: DiTConfig;
  /** class names by label, overriding a pipeline folder's id2label */
  labelNames?: readonly string[];
}

/** The config.json that decides a checkpoint's family, if any. */
function configFileOf(p: string): string | undefined {
  const dir = fs.statSync(p).isDirectory() ? p : path.dirname(p);
  const f = path.join(dir, 'config.json');
  return fs.existsSync(f) ? f : undefined;
}

/**
 * Loads a denoiser from a checkpoint file, a model folder, or a diffusers pipeline folder.
 * DiT: original `.pt`/`.safetensors` (+ config.json or `config`), diffusers `DiTTransformer2DModel` or
 * `Transformer2DModel` (ada_norm_zero) folders, pipeline folders with transformer/.
 */
export async function loadDenoiser(p: string, opts: LoadDenoiserOptions = {}): Promise<Denoiser> {
  if (!fs.existsSync(p)) throw new CheckpointError(p, 'does not exist', 'Pass a checkpoint file, a model folder or a pipeline folder.');
  let modelPath = p;
  let labelNames = opts.labelNames;
  if (fs.statSync(p).isDirectory() && isPipelineFolder(p)) {
    const pipe = readPipelineFolder(p);
    modelPath = requireComponent(pipe, 'transformer', 'the denoising transformer');
    labelNames ??= pipe.labelNames;
  }
  const configFile = configFileOf(modelPath);
  const json = configFile ? readJsonObject(configFile) : undefined;
  const className = typeof json?._class_name === 'string' ? json._class_name : undefined;
  if (json && className !== undefined && !DIFFUSERS_DIT_CLASSES.includes(className)) {
    throw new CheckpointError(configFile!, `_class_name ${className} is not a model family tcpade supports`, `Supported: ${DIFFUSERS_DIT_CLASSES.join(', ')} (DiT).`);
  }
  if (json && className === undefined && !isDiTConfigJson(json)) {
    throw new CheckpointError(configFile!, 'describes no model tcpade knows (no _class_name, and not DiT constructor arguments)');
  }
  // Every supported family is a DiT today; resolveCheckpoint explains a folder without weights.
  resolveCheckpoint(modelPath);
  return loadDiT(modelPath, { threads: opts.threads, config: opts.config, labelNames });
}
