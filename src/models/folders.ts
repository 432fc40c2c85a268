// Pipeline folders as diffusers saves them (e.g. facebook/DiT-XL-2-256): model_index.json names the
// components, each in a sub-folder of its own (transformer/, vae/, scheduler/…), plus pipeline-level data
// such as ImageNet's id2label. This module reads the index and checks the parts are there.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../io/errors.js';
import { readJsonObject } from '../io/json.js';

export interface PipelineFolder {
  readonly root: string;
  /** model_index.json's _class_name, e.g. "DiTPipeline" */
  readonly className: string;
  /** component name → its folder, for every component the index lists (null entries left out) */
  readonly components: Readonly<Record<string, string>>;
  /** class names by label (model_index.json's id2label), when the pipeline has them */
  readonly labelNames?: readonly string[];
}


export function isPipelineFolder(p: string): boolean {
  return fs.existsSync(path.join(p, 'model_index.json'));
}

/** id2label {"0": "tench, Tinca tinca", …} → names by label; every id 0 … n−1 must be present once. */
function labelNamesFrom(id2label: unknown, file: string): string[] {
  if (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label)) {
    throw new CheckpointError(file, 'id2label must be an object of label id → name');
  }
  const entries = Object.entries(id2label as Record<string, unknown>);
  const names = new Array<string>(entries.length);
  for (const [k, v] of entries) {
    const id = Number(k);
    if (!Number.isInteger(id) || id < 0 || id >= entries.length || typeof v !== 'string') {
      throw new CheckpointError(file, `id2label entry ${JSON.stringify(k)}: ${JSON.stringify(v)} is not "<id 0…${entries.length - 1}>": "<name>"`);
    }
    names[id] = v;
  }
  return names;
}

/**
 * Reads a pipeline folder's index and checks every listed component's folder exists (a part missing is
 * an error naming it and the folder).
 */
export function readPipelineFolder(root: string): PipelineFolder {
  const file = path.join(root, 'model_index.json');
  const j = readJsonObject(file);
  const components: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, v] of Object.entries(j)) {
    // Components are ["library", "ClassName"] pairs; [null, null] marks an absent optional one.
    if (name.startsWith('_') || !Array.isArray(v) || v.length !== 2 || v[0] === null || v[1] === null) continue;
    const dir = path.join(root, name);
    if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) components[name] = dir;
    else missing.push(`${name}/ (${String(v[1])})`);
  }
  if (missing.length) {
    throw new CheckpointError(root, `model_index.json lists ${missing.join(', ')} but the folder${missing.length > 1 ? 's are' : ' is'} missing`, 'Download the whole pipeline folder (every component sub-folder).');
  }
  return {
    root,
    className: typeof j._class_name === 'string' ? j._class_name : '',
    components,
    ...(j.id2label !== undefined ? { labelNames: labelNamesFrom(j.id2label, file) } : {}),
  };
}

/** The component folder `name` of a pipeline, or a clear error. */
export function requireComponent(p: PipelineFolder, name: string, what: string): string {
  const dir = p.components[name];
  if (!dir) throw new CheckpointError(p.root, `has no ${name}/ component (${what})`, `model_index.json lists: ${Object.keys(p.components).join(', ') || 'nothing'}.`);
  return dir;
}

/** A pipeline folder's scheduler/scheduler_config.json, when `modelPath` is a pipeline folder that has one. */
export function schedulerConfigFile(modelPath: string): string | undefined {
  if (!fs.statSync(modelPath).isDirectory() || !isPipelineFolder(modelPath)) return undefined;
  const dir = readPipelineFolder(modelPath).components.scheduler;
  const file = dir && path.join(dir, 'scheduler_config.json');
  return file && fs.existsSync(file) ? file : undefined;
}
