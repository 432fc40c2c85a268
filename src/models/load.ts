// loadDenoiser: any supported checkpoint file or folder → the family's Denoiser. The family is read from
// the config (diffusers' _class_name, or a family's own config fields); a pipeline folder (model_index.json)
// contributes its transformer/ and pipeline-level data such as label names. Families register below.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../io/errors.js';
import { readJsonObject } from '../io/json.js';
import type { Denoiser, ModelFamily } from './denoiser.js';
import type { DiTConfig } from './dit/dit-config.js';
import { DIFFUSERS_DIT_CLASSES, isDiTConfigJson, loadDiT } from './dit/load.js';
import { isPipelineFolder, readPipelineFolder, requireComponent } from './folders.js';
import { isBflFluxCheckpoint, isFluxConfigJson, loadFlux } from './flux/index.js';
import { isWanConfigJson, loadWan } from './wan/index.js';
import { folderModelFiles } from '../io/node-model-files.js';
import { folderFamilyFor, loadDenoiserFiles } from './load-files.js';

export interface LoadDenoiserOptions {
  /** ORT intra-op threads (default min(2, cores)) */
  threads?: number;
  /** DiT: the config of an original checkpoint without config.json (e.g. namedConfig('DiT-XL/2-256')) */
  config?: DiTConfig;
  /** class names by label, overriding a pipeline folder's id2label */
  labelNames?: readonly string[];
}

/** How a family recognises its checkpoints and loads them. */
interface FamilyLoader {
  readonly family: ModelFamily;
  /** what the family's configs are called, for messages */
  readonly classNames: readonly string[];
  /** the config (or its absence) is this family's */
  recognises(config: Record<string, unknown> | undefined, modelPath: string): boolean;
  load(modelPath: string, opts: LoadDenoiserOptions): Promise<Denoiser>;
}

const FAMILIES: readonly FamilyLoader[] = [
  {
    family: 'flux',
    classNames: ['FluxTransformer2DModel', "BFL's flux1-dev/flux1-schnell.safetensors"],
    // BFL's single files come without a config: their keys say what they are.
    recognises: (json, p) => (json !== undefined ? isFluxConfigJson(json) : fs.statSync(p).isFile() && /\.safetensors$/i.test(p) && isBflFluxCheckpoint(p)),
    load: (p, opts) => loadFlux(p, { threads: opts.threads }),
  },
  {
    family: 'wan',
    classNames: ['WanTransformer3DModel', 'WanModel'],
    recognises: (json) => json !== undefined && isWanConfigJson(json),
    load: (p, opts) => loadWan(p, { threads: opts.threads }),
  },
  {
    family: 'dit',
    classNames: DIFFUSERS_DIT_CLASSES,
    // Last: an original DiT checkpoint may come without any config (`config` option, e.g. --config DiT-XL/2-256).
    recognises: (json) => json === undefined || isDiTConfigJson(json),
    load: (p, opts) => loadDiT(p, { threads: opts.threads, config: opts.config, labelNames: opts.labelNames }),
  },
];

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
 * FLUX.1: diffusers `FluxTransformer2DModel` folders and BFL's single files (dev, schnell).
 * Wan2.1: diffusers `WanTransformer3DModel` folders and Wan's original layout (with its config.json).
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
  // A model folder the loader interface can open (config.json + safetensors, e.g. the shipped models) loads
  // through it, as in the browser: both run the same loader. Everything else needs paths (below).
  if (json && !opts.config && fs.statSync(modelPath).isDirectory() && !fs.existsSync(path.join(modelPath, 'transformer', 'config.json'))) {
    const files = folderModelFiles(modelPath);
    if (await folderFamilyFor(files, json)) return loadDenoiserFiles(files, { threads: opts.threads, labelNames });
  }
  const loader = FAMILIES.find((f) => f.recognises(json, modelPath));
  if (!loader) {
    const known = FAMILIES.flatMap((f) => f.classNames).join(', ');
    const what = typeof json?._class_name === 'string' ? `_class_name ${json._class_name} is not a model family tcpade supports` : 'describes no model tcpade knows';
    throw new CheckpointError(configFile ?? modelPath, what, `Supported: ${known}.`);
  }
  return loader.load(modelPath, { ...opts, labelNames });
}
