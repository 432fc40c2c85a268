// loadVAE: finds a diffusers AutoencoderKL folder (or a pipeline folder's vae/), reads config.json and
// the weights (safetensors, sharded safetensors, or .bin through the restricted unpickler) and builds the model.
// A single file in the LDM/BFL layout (FLUX.1's ae.safetensors, the SD VAE) needs no config.json (ldm-keys.ts).
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../../io/errors.js';
import { StTensor, readSafetensorsLazy } from '../../io/safetensors.js';
import { loadTorchCheckpoint } from '../../io/torch-pickle.js';
import { AutoencoderKL, TilingSettings } from './autoencoder-kl.js';
import { VAEConfig, vaeConfigFromDiffusersJson } from './config.js';
import { readJsonObject } from '../../io/json.js';
import { checkVAEWeights } from './weights.js';
import { ldmTensorsOf, ldmVAEConfig, ldmVAEWeights } from './ldm-keys.js';
import { AutoencoderKLWan } from './wan/autoencoder-kl-wan.js';
import { WAN_VAE_CLASS, isWanVAEConfigJson } from './wan/config.js';
import { readWanVAE, wanVAEFrom } from './wan/load.js';

export interface LoadVAEOptions {
  /** ORT intra-op threads (default min(2, cores)). */
  threads?: number;
  /** Tile size/overlap and the latent size above which decode tiles automatically. */
  tiling?: Partial<TilingSettings>;
  /** Compiled input sizes kept per direction (each holds a copy of the weights); default 2. */
  maxCachedGraphs?: number;
  /**
   * Which VAE the caller can use: 'image' (AutoencoderKL), 'video' (AutoencoderKLWan) or 'any'; a folder
   * holding the other kind is refused, naming both. Default: whichever the folder holds (see loadVAE).
   */
  expect?: 'image' | 'video' | 'any';
}

/** The files of one AutoencoderKL: its config and one weights file or the shards of one. */
export interface VAEFiles {
  /** Absent for a single file without config.json beside it, which must be in the LDM/BFL layout. */
  readonly configFile?: string;
  readonly weightFiles: readonly string[];
  readonly format: 'safetensors' | 'bin';
}

const WEIGHT_NAMES = 'diffusion_pytorch_model';
/** Black Forest Labs' name for the FLUX.1 VAE (LDM layout, no config.json) in the flux1-dev/schnell repos. */
const BFL_AE_FILE = 'ae.safetensors';
/** What a diffusers folder may hold, in order of preference (full precision before fp16 variants). */
const CANDIDATES: readonly { name: string; format: VAEFiles['format']; sharded: boolean }[] = [
  { name: `${WEIGHT_NAMES}.safetensors`, format: 'safetensors', sharded: false },
  { name: `${WEIGHT_NAMES}.safetensors.index.json`, format: 'safetensors', sharded: true },
  { name: `${WEIGHT_NAMES}.bin`, format: 'bin', sharded: false },
  { name: `${WEIGHT_NAMES}.bin.index.json`, format: 'bin', sharded: true },
  { name: `${WEIGHT_NAMES}.fp16.safetensors`, format: 'safetensors', sharded: false },
  { name: `${WEIGHT_NAMES}.fp16.bin`, format: 'bin', sharded: false },
];

/**
 * Finds config.json and the weights for `p`: an AutoencoderKL folder, a pipeline folder with vae/, a
 * weights file with config.json beside it, or a single LDM-layout file (config.json beside it optional) or
 * a folder holding BFL's ae.safetensors.
 */
export function resolveVAEFiles(p: string): VAEFiles {
  if (!fs.existsSync(p)) throw new CheckpointError(p, 'does not exist', 'Pass a diffusers AutoencoderKL folder, a pipeline folder holding vae/, or a weights file (e.g. FLUX.1\'s ae.safetensors).');
  if (!fs.statSync(p).isDirectory()) {
    const beside = path.join(path.dirname(p), 'config.json');
    // Without config.json the file must be in the LDM layout; readVAE says so if it is not.
    const configFile = fs.existsSync(beside) ? beside : undefined;
    if (/\.safetensors$/i.test(p)) return { configFile, weightFiles: [p], format: 'safetensors' };
    if (/\.(bin|pt|pth|ckpt)$/i.test(p)) return { configFile, weightFiles: [p], format: 'bin' };
    throw new CheckpointError(p, 'has an unknown extension', 'Use .safetensors or .bin weights, or pass the folder.');
  }
  if (!fs.existsSync(path.join(p, 'config.json')) && fs.existsSync(path.join(p, 'vae', 'config.json'))) return resolveVAEFiles(path.join(p, 'vae'));
  const configFile = path.join(p, 'config.json');
  // After vae/: a FLUX.1 repo folder holds both, and diffusers' vae/ then comes with its config.
  if (!fs.existsSync(configFile) && fs.existsSync(path.join(p, BFL_AE_FILE))) return { weightFiles: [path.join(p, BFL_AE_FILE)], format: 'safetensors' };
  if (!fs.existsSync(configFile)) throw new CheckpointError(p, `holds neither config.json, vae/config.json nor ${BFL_AE_FILE}`, 'Pass a diffusers AutoencoderKL folder, a pipeline folder holding vae/, or an LDM-layout VAE file.');
  for (const c of CANDIDATES) {
    const file = path.join(p, c.name);
    if (!fs.existsSync(file)) continue;
    return { configFile, weightFiles: c.sharded ? shardFiles(file) : [file], format: c.format };
  }
  throw new CheckpointError(p, 'holds config.json but no weights', `Expected one of ${CANDIDATES.map((c) => c.name).join(', ')}.`);
}

/** The shard files an index names (diffusers' *.index.json: {"weight_map": {key: shard}}), in first-use order. */
function shardFiles(indexFile: string): string[] {
  const map = readJsonObject(indexFile).weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new CheckpointError(indexFile, 'has no "weight_map" of key → shard file', 'Is this a diffusers/transformers sharded-weights index?');
  }
  const names = [...new Set(Object.values(map as Record<string, string>))];
  const bad = names.find((n) => path.basename(n) !== n);
  if (bad) throw new CheckpointError(indexFile, `names shard "${bad}" outside its folder`);
  return names.map((n) => path.join(path.dirname(indexFile), n));
}

async function readTensors(files: VAEFiles): Promise<Map<string, StTensor>> {
  const all = new Map<string, StTensor>();
  for (const file of files.weightFiles) {
    if (!fs.existsSync(file)) throw new CheckpointError(file, 'is named by the weights index but does not exist');
    // loadTorchCheckpoint refuses any pickle global but tensor rebuilding, so a .bin cannot run code.
    // safetensors are opened lazily: only the tensors the model takes are read, so the VAE inside a whole
    // SD checkpoint (first_stage_model.*) costs its own ~330 MB, not the checkpoint's gigabytes.
    const tensors = files.format === 'bin' ? await loadTorchCheckpoint(file) : readSafetensorsLazy(file).tensors;
    for (const [key, t] of tensors) {
      if (all.has(key)) throw new CheckpointError(file, `holds ${key}, which an earlier shard also holds`);
      all.set(key, t);
    }
  }
  return all;
}

/**
 * Reads config and checked float32 weights of an AutoencoderKL (see resolveVAEFiles for `p`). Weights in the
 * LDM/BFL layout are renamed to diffusers' keys; their config comes from config.json if there is one, else
 * from their shapes.
 */
export async function readVAE(p: string): Promise<{ config: VAEConfig; weights: Map<string, Float32Array>; files: VAEFiles }> {
  const files = resolveVAEFiles(p);
  const label = files.weightFiles.length === 1 ? files.weightFiles[0] : `${path.dirname(files.weightFiles[0])} (${files.weightFiles.length} shards)`;
  const given = files.configFile ? vaeConfigFromDiffusersJson(readJsonObject(files.configFile), files.configFile) : undefined;
  const stored = await readTensors(files);
  const ldm = ldmTensorsOf(stored, label);
  if (ldm) {
    const config = given ?? ldmVAEConfig(ldm, label);
    return { config, weights: ldmVAEWeights(label, ldm, config, files.configFile), files };
  }
  if (!given) {
    const first = stored.keys().next().value ?? '(no tensors)';
    throw new CheckpointError(label, 'has no config.json beside it', `Its keys are not in the LDM/BFL layout (ae.safetensors), which is the only one read without a config (first key: ${first}); a diffusers AutoencoderKL file needs its config.json next to it.`);
  }
  return { config: given, weights: checkVAEWeights(label, stored, given), files };
}

/**
 * The public entry point: `const vae = await loadVAE(dir, { threads })`, then `vae.decode(z)` /
 * `vae.encode(x)`. `dir` is a diffusers AutoencoderKL folder (config.json + diffusion_pytorch_model.*),
 * a pipeline folder holding vae/, or an LDM-layout single file such as BFL's FLUX.1 ae.safetensors (or a
 * folder holding just that file) — or the same for a diffusers AutoencoderKLWan (Wan 2.1 video VAE),
 * recognised by its config's _class_name, whose decode/encode take and return [B, C, T, H, W].
 *
 * Types: without `expect` the result is typed AutoencoderKL, as every image caller had it, although a Wan
 * folder still loads as AutoencoderKLWan (`vae.kind === 'video'`); pass `expect: 'video'` or `'any'` to get
 * the video type, or `expect: 'image'` to have a Wan folder refused.
 */
export function loadVAE(p: string, opts?: LoadVAEOptions & { expect?: 'image' }): Promise<AutoencoderKL>;
export function loadVAE(p: string, opts: LoadVAEOptions & { expect: 'video' }): Promise<AutoencoderKLWan>;
export function loadVAE(p: string, opts: LoadVAEOptions & { expect: 'any' }): Promise<AutoencoderKL | AutoencoderKLWan>;
export function loadVAE(p: string, opts?: LoadVAEOptions): Promise<AutoencoderKL | AutoencoderKLWan>;
export async function loadVAE(p: string, opts: LoadVAEOptions = {}): Promise<AutoencoderKL | AutoencoderKLWan> {
  const files = resolveVAEFiles(p);
  const json = files.configFile ? readJsonObject(files.configFile) : undefined;
  const kind = json && isWanVAEConfigJson(json) ? 'video' : 'image';
  if (opts.expect !== undefined && opts.expect !== 'any' && opts.expect !== kind) {
    const found = kind === 'video' ? `an ${WAN_VAE_CLASS} (video VAE)` : 'an image VAE (AutoencoderKL)';
    const wanted = opts.expect === 'video' ? `an ${WAN_VAE_CLASS} (video VAE)` : 'an image VAE (AutoencoderKL)';
    throw new CheckpointError(files.configFile ?? files.weightFiles[0], `holds ${found}, but ${wanted} is needed here`, 'Pass the VAE that belongs to the model.');
  }
  if (json && kind === 'video') {
    const label = files.weightFiles.length === 1 ? files.weightFiles[0] : `${path.dirname(files.weightFiles[0])} (${files.weightFiles.length} shards)`;
    const wanOpts = { threads: opts.threads, tiling: opts.tiling, maxCachedSizes: opts.maxCachedGraphs };
    return wanVAEFrom(readWanVAE(json, files.configFile!, await readTensors(files), label), files.weightFiles[0], wanOpts);
  }
  const { config, weights } = await readVAE(p);
  return new AutoencoderKL(config, weights, { threads: opts.threads, tiling: opts.tiling, maxCachedGraphs: opts.maxCachedGraphs, source: files.weightFiles[0] });
}
