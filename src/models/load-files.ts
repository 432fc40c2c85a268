// loadDenoiserFiles: a model folder reached through ModelFiles (the loader interface: a local folder in
// Node, a web server in the browser) → the family's Denoiser, decided by its config.json. Only families
// whose folders load without a file system register here (DiT in safetensors today); loadDenoiser (load.ts)
// takes every path a Node process can open and sends such folders through this same code.
import { CheckpointError } from '../io/errors.js';
import { parseJsonObject } from '../io/json-object.js';
import type { ModelFiles } from '../io/model-files.js';
import type { Denoiser, ModelFamily } from './denoiser.js';
import { DIFFUSERS_DIT_CLASSES, isDiTConfigJson } from './dit/checkpoint-keys.js';
import { DIT_SAFETENSORS_FILES, loadDiTFiles } from './dit/load-files.js';

export interface LoadDenoiserFilesOptions {
  /** ORT intra-op threads (default min(2, cores)) */
  threads?: number;
  /** class names by label */
  labelNames?: readonly string[];
}

/** How a family recognises a model folder from its config and loads it through ModelFiles. */
export interface FolderFamilyLoader {
  readonly family: ModelFamily;
  readonly classNames: readonly string[];
  /** the config is this family's */
  recognises(config: Record<string, unknown>): boolean;
  /** weight files the folder must hold one of (checked before loading; else a local path loader takes it) */
  readonly weightFiles: readonly string[];
  load(files: ModelFiles, config: Record<string, unknown>, opts: LoadDenoiserFilesOptions): Promise<Denoiser>;
}

export const FOLDER_FAMILIES: readonly FolderFamilyLoader[] = [
  {
    family: 'dit',
    classNames: DIFFUSERS_DIT_CLASSES,
    recognises: isDiTConfigJson,
    weightFiles: DIT_SAFETENSORS_FILES,
    load: (files, config, opts) => loadDiTFiles(files, config, opts),
  },
];

/** The config.json of a model folder, parsed (CheckpointError naming it when missing or malformed). */
export async function readFolderConfig(files: ModelFiles): Promise<Record<string, unknown>> {
  if (!(await files.has('config.json'))) throw new CheckpointError(files.where('config.json'), 'does not exist', 'A model folder holds config.json beside its weights.');
  return parseJsonObject(await files.readText('config.json'), files.where('config.json'));
}

/** The folder family that loads this config from these files, if any. */
export async function folderFamilyFor(files: ModelFiles, config: Record<string, unknown>): Promise<FolderFamilyLoader | undefined> {
  for (const f of FOLDER_FAMILIES) {
    if (!f.recognises(config)) continue;
    for (const w of f.weightFiles) if (await files.has(w)) return f;
  }
  return undefined;
}

/** Loads the denoiser of a model folder (config.json + safetensors weights) through the loader interface. */
export async function loadDenoiserFiles(files: ModelFiles, opts: LoadDenoiserFilesOptions = {}): Promise<Denoiser> {
  const config = await readFolderConfig(files);
  const loader = await folderFamilyFor(files, config);
  if (!loader) {
    const known = FOLDER_FAMILIES.map((f) => `${f.classNames.join(' / ')} (${f.weightFiles.join(' or ')})`).join(', ');
    throw new CheckpointError(files.location, 'is not a model folder that loads without a file system', `Supported: ${known}.`);
  }
  return loader.load(files, config, opts);
}
