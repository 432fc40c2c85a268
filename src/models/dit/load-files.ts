// A DiT from a model folder reached through ModelFiles (a local folder in Node, a web server in the
// browser): config.json + the weights in safetensors — original keys (model.safetensors, as our shipped
// models) or diffusers' (diffusion_pytorch_model.safetensors with a DiTTransformer2DModel config). Any
// float dtype is widened to float32 as a graph draws it (a half-precision file loads as float32 weights).
import { CheckpointError } from '../../io/errors.js';
import type { ModelFiles } from '../../io/model-files.js';
import { configFromDiffusersJson, configFromOriginalJson, validateConfig } from './dit-config.js';
import { DIFFUSERS_DIT_CLASSES, checkOriginal, fromDiffusers, objectiveOfConfig } from './checkpoint-keys.js';
import { DiT } from './dit.js';

/** The weight files a DiT folder may hold, in the order they are looked for (resolveCheckpoint's order). */
export const DIT_SAFETENSORS_FILES: readonly string[] = ['diffusion_pytorch_model.safetensors', 'model.safetensors'];

export interface LoadDiTFilesOptions {
  threads?: number;
  /** display names of the classes, index = label */
  labelNames?: readonly string[];
}

/** Loads the DiT described by `config` (the folder's config.json, already parsed) from `files`. */
export async function loadDiTFiles(files: ModelFiles, config: Record<string, unknown>, opts: LoadDiTFilesOptions = {}): Promise<DiT> {
  let weightsFile: string | undefined;
  for (const name of DIT_SAFETENSORS_FILES) {
    if (await files.has(name)) {
      weightsFile = name;
      break;
    }
  }
  if (!weightsFile) throw new CheckpointError(files.location, 'holds no DiT safetensors checkpoint', `Expected ${DIT_SAFETENSORS_FILES.join(' or ')} beside config.json.`);
  const file = files.where(weightsFile);
  const configFile = files.where('config.json');
  const { tensors } = await files.readSafetensors(weightsFile);
  const diffusers = DIFFUSERS_DIT_CLASSES.includes(String(config._class_name));
  const c = diffusers ? configFromDiffusersJson(config, configFile) : configFromOriginalJson(config, configFile);
  if (!diffusers) validateConfig(c, file);
  const weights = diffusers ? fromDiffusers(file, tensors, c) : checkOriginal(file, tensors, c);
  return new DiT(c, weights, { threads: opts.threads, objective: objectiveOfConfig(config), labelNames: opts.labelNames });
}
