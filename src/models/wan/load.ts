// loadWan: a Wan2.1 text-to-video transformer from diffusers' WanTransformer3DModel folders or the
// original Wan layout (single or sharded safetensors, F32 / BF16 / F16), weights read lazily per graph.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../../io/errors.js';
import { readJsonObject } from '../../io/json.js';
import { readSafetensorsLazy, toFloat32, type StTensor } from '../../io/safetensors.js';
import { LazyWeights, type LazyTensor } from '../weights.js';
import { DIFFUSERS_WAN_CLASS, ORIGINAL_WAN_CLASS, WanConfig, configFromDiffusersJson, configFromOriginalJson, configFromShapes } from './config.js';
import { parameterShapes } from './graph.js';
import { SINGLE_FILE_PREFIX, diffusersKeyOf, isImageBranchKey, originalKeyOf } from './keys.js';
import { Wan, type WanOptions } from './wan.js';

export interface WanLoadOptions extends WanOptions {
  /** the config, overriding config.json (or standing in for a missing one) */
  config?: WanConfig;
}

/** diffusers' key names, or the original Wan code's (see keys.ts). */
export type WanLayout = 'diffusers' | 'original';

/** The files of one Wan transformer: its weights (one file or the shards of one) and its config, if any. */
export interface WanFiles {
  readonly weightFiles: readonly string[];
  readonly configFile?: string;
  /** how errors name the weights: the file, or the folder and its shard count */
  readonly label: string;
}

/** Whether a config.json describes a Wan transformer (diffusers', or the original WanModel arguments). */
export function isWanConfigJson(j: Record<string, unknown>): boolean {
  if (typeof j._class_name === 'string') return j._class_name === DIFFUSERS_WAN_CLASS || j._class_name === ORIGINAL_WAN_CLASS;
  return ['dim', 'num_heads', 'num_layers', 'ffn_dim', 'freq_dim'].every((k) => typeof j[k] === 'number');
}

const WEIGHTS = 'diffusion_pytorch_model.safetensors';
const INDEX = `${WEIGHTS}.index.json`;

/**
 * Finds the weights and config of `p`: a model folder (diffusion_pytorch_model.safetensors or its
 * sharded index, config.json beside — both the diffusers and the original Wan releases use these names),
 * a pipeline folder holding transformer/, a .safetensors file or a .safetensors.index.json.
 */
export function resolveWanFiles(p: string): WanFiles {
  if (!fs.existsSync(p)) throw new CheckpointError(p, 'does not exist', 'Pass a Wan transformer folder, a pipeline folder holding transformer/, or a .safetensors file.');
  if (fs.statSync(p).isDirectory()) {
    const sub = path.join(p, 'transformer');
    if (!fs.existsSync(path.join(p, 'config.json')) && fs.existsSync(sub)) return resolveWanFiles(sub);
    for (const name of [WEIGHTS, INDEX]) {
      const f = path.join(p, name);
      if (fs.existsSync(f)) return resolveWanFiles(f);
    }
    throw new CheckpointError(p, 'holds no Wan transformer weights', `Expected ${WEIGHTS} or ${INDEX} (with config.json), or a pipeline folder holding transformer/.`);
  }
  const beside = path.join(path.dirname(p), 'config.json');
  const configFile = fs.existsSync(beside) ? beside : undefined;
  if (p.endsWith('.safetensors.index.json')) {
    const weightFiles = shardFiles(p);
    return { weightFiles, configFile, label: `${p} (${weightFiles.length} shards)` };
  }
  if (/\.safetensors$/i.test(p)) return { weightFiles: [p], configFile, label: p };
  throw new CheckpointError(p, 'is not a safetensors file or index', 'Wan transformers load from .safetensors (single or sharded); convert a .pt/.bin first.');
}

/** The shard files an index names ({"weight_map": {key: shard}}), in first-use order, each checked to exist. */
function shardFiles(indexFile: string): string[] {
  const map = readJsonObject(indexFile).weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new CheckpointError(indexFile, 'has no "weight_map" of key → shard file', 'Is this a diffusers sharded-weights index?');
  }
  const names = [...new Set(Object.values(map as Record<string, string>))];
  const bad = names.find((n) => path.basename(n) !== n);
  if (bad) throw new CheckpointError(indexFile, `names shard "${bad}" outside its folder`);
  const files = names.map((n) => path.join(path.dirname(indexFile), n));
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length) throw new CheckpointError(indexFile, `names shard(s) that do not exist: ${missing.map((f) => path.basename(f)).join(', ')}`, 'Download every shard the index lists.');
  return files;
}

interface StoredTensor {
  readonly tensor: StTensor;
  readonly file: string;
  /** the key as stored (before any prefix is stripped) */
  readonly storedKey: string;
}

/** Every tensor header of every file (data is read only when a graph asks for the tensor). */
function readHeaders(files: WanFiles): Map<string, StoredTensor> {
  const all = new Map<string, StoredTensor>();
  for (const file of files.weightFiles) {
    for (const [key, tensor] of readSafetensorsLazy(file).tensors) {
      if (all.has(key)) throw new CheckpointError(file, `holds ${key}, which ${all.get(key)!.file} also holds`);
      all.set(key, { tensor, file, storedKey: key });
    }
  }
  // ComfyUI-style single files keep the original keys under model.diffusion_model.
  if (all.size && [...all.keys()].every((k) => k.startsWith(SINGLE_FILE_PREFIX))) {
    return new Map([...all].map(([k, v]) => [k.slice(SINGLE_FILE_PREFIX.length), v] as const));
  }
  return all;
}

function detectLayout(keys: readonly string[], label: string): WanLayout {
  const diffusers = keys.some((k) => k.startsWith('condition_embedder.') || /^blocks\.\d+\.attn1\./.test(k));
  const original = keys.some((k) => /^(time_projection|time_embedding|text_embedding|head)\./.test(k) || /^blocks\.\d+\.self_attn\./.test(k));
  if (diffusers && original) throw new CheckpointError(label, "mixes diffusers' WanTransformer3DModel keys (condition_embedder.*, attn1) with the original Wan keys (time_projection.*, self_attn)");
  if (diffusers) return 'diffusers';
  if (original) return 'original';
  throw new CheckpointError(label, `holds neither diffusers' WanTransformer3DModel keys (condition_embedder.*) nor the original Wan keys (time_projection.*); first keys: ${keys.slice(0, 5).join(', ')}`, 'Is this a Wan2.1 transformer?');
}

/** The config: given, from config.json (either kind), or inferred from the shapes. */
function readConfig(files: WanFiles, shapes: ReadonlyMap<string, readonly number[]>, given: WanConfig | undefined): WanConfig {
  if (given) return given;
  if (!files.configFile) return configFromShapes(shapes, files.label);
  const j = readJsonObject(files.configFile);
  if (j._class_name === DIFFUSERS_WAN_CLASS) return configFromDiffusersJson(j, files.configFile);
  if (j._class_name === ORIGINAL_WAN_CLASS || (j._class_name === undefined && isWanConfigJson(j))) return configFromOriginalJson(j, files.configFile);
  throw new CheckpointError(files.configFile, `describes ${typeof j._class_name === 'string' ? j._class_name : 'no Wan model'}, not a Wan transformer (${DIFFUSERS_WAN_CLASS} or ${ORIGINAL_WAN_CLASS})`);
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Opens a Wan checkpoint: config, layout, and lazily loaded float32 weights under diffusers' names.
 * Every key, shape and dtype is checked against the config from the headers alone, all problems in one
 * error; no tensor data is read until a graph needs it, so a 28 GB BF16 model never sits in JS memory.
 */
export function openWanWeights(p: string, opts: { config?: WanConfig } = {}): { config: WanConfig; weights: LazyWeights; layout: WanLayout; files: WanFiles } {
  const files = resolveWanFiles(p);
  const stored = readHeaders(files);
  const keys = [...stored.keys()];
  const imageKeys = keys.filter(isImageBranchKey);
  if (imageKeys.length) {
    throw new CheckpointError(files.label, `is an image-to-video Wan transformer (it has ${imageKeys.slice(0, 3).join(', ')}${imageKeys.length > 3 ? ', …' : ''})`, 'Only text-to-video Wan transformers are supported.');
  }
  const layout = detectLayout(keys, files.label);
  // canonical (diffusers) name → stored tensor; original keys with no diffusers name are unexpected
  const byName = new Map<string, StoredTensor>();
  const unexpected: string[] = [];
  for (const [k, v] of stored) {
    const name = layout === 'diffusers' ? k : diffusersKeyOf(k);
    if (name === undefined) unexpected.push(k);
    else byName.set(name, v);
  }
  const config = readConfig(files, new Map([...byName].map(([k, v]) => [k, v.tensor.shape] as const)), opts.config);
  const expected = parameterShapes(config);
  const named = (name: string): string => (layout === 'diffusers' ? name : `${byName.get(name)?.storedKey ?? name} (diffusers ${name})`);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const s = byName.get(name);
    if (!s) problems.push(`missing ${layout === 'diffusers' ? name : `${originalKeyOf(name)} (diffusers ${name})`} [${shape.join(', ')}]`);
    else if (s.tensor.shape.length !== shape.length || s.tensor.shape.some((d, i) => d !== shape[i])) problems.push(`${named(name)}: expected [${shape.join(', ')}], found [${s.tensor.shape.join(', ')}]`);
    else if (!FLOAT_DTYPES.has(s.tensor.dtype)) problems.push(`${named(name)}: dtype ${s.tensor.dtype}, expected F32, BF16, F16 or F64`);
  }
  for (const name of byName.keys()) if (!expected.has(name)) unexpected.push(byName.get(name)!.storedKey);
  for (const k of unexpected) problems.push(`unexpected key ${k}`);
  if (problems.length) {
    throw new CheckpointError(
      files.label,
      `does not match a ${layout} Wan T2V transformer with ${config.numLayers} layers, width ${config.numHeads * config.headDim} (${problems.length} problems):\n  ${problems.join('\n  ')}`,
      opts.config ? 'Check that the config passed describes these weights.' : files.configFile ? `Check that ${files.configFile} describes these weights.` : 'The config was inferred from the shapes; put the model\'s config.json next to the weights.',
    );
  }
  const entries = new Map<string, LazyTensor>();
  for (const name of expected.keys()) {
    const { tensor, file, storedKey } = byName.get(name)!;
    entries.set(name, { numel: tensor.shape.reduce((a, b) => a * b, 1), load: () => toFloat32(tensor, file, storedKey) });
  }
  return { config, weights: new LazyWeights(entries), layout, files };
}

/**
 * The Wan entry point: `await loadWan(path, { threads })` → a Wan on the denoiser contract (objective
 * flow). `path`: a diffusers WanTransformer3DModel folder, a pipeline folder holding transformer/, an
 * original Wan2.1 folder or file, or a sharded index. See WanOptions for the latent size, text length
 * and the negative-prompt embedding that `unconditional` needs.
 */
export async function loadWan(p: string, opts: WanLoadOptions = {}): Promise<Wan> {
  const { config: given, ...wanOpts } = opts;
  const { config, weights } = openWanWeights(p, { config: given });
  return new Wan(config, weights, wanOpts);
}
