// loadDiT: reads a DiT from the real formats — original state dict (safetensors or .pt via the restricted
// unpickler) or a diffusers DiTTransformer2DModel folder — into original-DiT keys, then builds a DiT.
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsLazy, toFloat32, StTensor } from '../../io/safetensors.js';
import { LazyWeights, type LazyTensor } from '../weights.js';
import { readJsonObject } from '../../io/json.js';
import { loadTorchCheckpoint } from '../../io/torch-pickle.js';
import { CheckpointError } from '../../io/errors.js';
import { DiTConfig, configFromDiffusersJson, configFromOriginalJson, validateConfig } from './dit-config.js';
import { parameterShapes, positionEmbedding2d } from './dit-graph.js';
import type { Objective } from '../denoiser.js';
import { DiT } from './dit.js';

export interface LoadOptions {
  /** Config to use when no config.json lies beside an original checkpoint (or to override it). */
  config?: DiTConfig;
  threads?: number;
  /** display names of the classes (a pipeline folder's id2label), index = label */
  labelNames?: readonly string[];
}

/** The diffusers class names of a DiT transformer: the current one, and the older generic class with ada_norm_zero. */
export const DIFFUSERS_DIT_CLASSES: readonly string[] = ['DiTTransformer2DModel', 'Transformer2DModel'];

/** Whether a config.json describes a DiT (diffusers or the original constructor arguments). */
export function isDiTConfigJson(j: Record<string, unknown>): boolean {
  if (typeof j._class_name === 'string') return DIFFUSERS_DIT_CLASSES.includes(j._class_name);
  return typeof j.hidden_size === 'number' && typeof j.depth === 'number' && typeof j.input_size === 'number';
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

/** A stored tensor converted to float32 when asked for. */
function lazyTensor(file: string, t: ReadonlyMap<string, StTensor>, k: string): LazyTensor {
  const x = t.get(k);
  if (!x) throw new CheckpointError(file, `missing key ${k}`, 'Is this a DiTTransformer2DModel checkpoint?');
  return { numel: x.shape.reduce((a, b) => a * b, 1), load: () => toFloat32(x, file, k) };
}

/** Tensors loaded one after another into one array (diffusers' separate q, k, v → DiT's fused qkv). */
function concatenated(parts: readonly LazyTensor[]): LazyTensor {
  const numel = parts.reduce((a, p) => a + p.numel, 0);
  return {
    numel,
    load: () => {
      const out = new Float32Array(numel);
      let at = 0;
      for (const p of parts) {
        out.set(p.load(), at);
        at += p.numel;
      }
      return out;
    },
  };
}

/** Converts diffusers DiT keys to original ones (lazily); the per-block embedder copies must agree. */
function fromDiffusers(file: string, t: Map<string, StTensor>, c: DiTConfig): LazyWeights {
  const lazy = (k: string): LazyTensor => lazyTensor(file, t, k);
  const f = (k: string): Float32Array => lazy(k).load();
  const out = new Map<string, LazyTensor>();
  const emb = 'transformer_blocks.0.norm1.emb';
  out.set('x_embedder.proj.weight', lazy('pos_embed.proj.weight'));
  out.set('x_embedder.proj.bias', lazy('pos_embed.proj.bias'));
  out.set('t_embedder.mlp.0.weight', lazy(`${emb}.timestep_embedder.linear_1.weight`));
  out.set('t_embedder.mlp.0.bias', lazy(`${emb}.timestep_embedder.linear_1.bias`));
  out.set('t_embedder.mlp.2.weight', lazy(`${emb}.timestep_embedder.linear_2.weight`));
  out.set('t_embedder.mlp.2.bias', lazy(`${emb}.timestep_embedder.linear_2.bias`));
  out.set('y_embedder.embedding_table.weight', lazy(`${emb}.class_embedder.embedding_table.weight`));
  const used = new Set<string>(['pos_embed.proj.weight', 'pos_embed.proj.bias']);
  const embSuffixes = ['timestep_embedder.linear_1.weight', 'timestep_embedder.linear_1.bias', 'timestep_embedder.linear_2.weight', 'timestep_embedder.linear_2.bias', 'class_embedder.embedding_table.weight'];
  const refs = new Map(embSuffixes.map((s) => [s, f(`${emb}.${s}`)] as const));
  for (let i = 0; i < c.depth; i++) {
    const b = `transformer_blocks.${i}`;
    for (const s of embSuffixes) {
      const k = `${b}.norm1.emb.${s}`;
      used.add(k);
      const a = f(k);
      const ref = refs.get(s)!;
      // diffusers keeps one embedder per block; one model needs them equal, or we'd be guessing.
      if (a.length !== ref.length || a.some((v, j) => v !== ref[j])) throw new CheckpointError(file, `${k} differs from block 0's copy`, 'Per-block timestep/class embedders must be identical for a DiT.');
    }
    out.set(`blocks.${i}.attn.qkv.weight`, concatenated(['to_q', 'to_k', 'to_v'].map((x) => lazy(`${b}.attn1.${x}.weight`))));
    out.set(`blocks.${i}.attn.qkv.bias`, concatenated(['to_q', 'to_k', 'to_v'].map((x) => lazy(`${b}.attn1.${x}.bias`))));
    const pairs: [string, string][] = [
      ['attn1.to_out.0', 'attn.proj'],
      ['ff.net.0.proj', 'mlp.fc1'],
      ['ff.net.2', 'mlp.fc2'],
      ['norm1.linear', 'adaLN_modulation.1'],
    ];
    for (const [d, o] of pairs) for (const wb of ['weight', 'bias']) {
      out.set(`blocks.${i}.${o}.${wb}`, lazy(`${b}.${d}.${wb}`));
      used.add(`${b}.${d}.${wb}`);
    }
    for (const x of ['to_q', 'to_k', 'to_v']) for (const wb of ['weight', 'bias']) used.add(`${b}.attn1.${x}.${wb}`);
  }
  for (const [d, o] of [['proj_out_1', 'final_layer.adaLN_modulation.1'], ['proj_out_2', 'final_layer.linear']] as const) {
    for (const wb of ['weight', 'bias']) {
      out.set(`${o}.${wb}`, lazy(`${d}.${wb}`));
      used.add(`${d}.${wb}`);
    }
  }
  const extra = [...t.keys()].filter((k) => !used.has(k));
  if (extra.length) throw new CheckpointError(file, `has keys a DiTTransformer2DModel with ${c.depth} layers does not: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ', …' : ''}`);
  // diffusers recomputes the fixed position embedding instead of storing it.
  const grid = c.inputSize / c.patchSize;
  out.set('pos_embed', { numel: grid * grid * c.hiddenSize, load: () => positionEmbedding2d(c.hiddenSize, grid) });
  return new LazyWeights(out);
}

/** Checks every key and shape at once and reports all problems in one error. */
function checkOriginal(file: string, t: Map<string, StTensor>, c: DiTConfig): LazyWeights {
  const expected = parameterShapes(c);
  const problems: string[] = [];
  for (const [k, shape] of expected) {
    const x = t.get(k);
    if (!x) problems.push(`missing ${k} [${shape.join(', ')}]`);
    else if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${k}: expected [${shape.join(', ')}], found [${x.shape.join(', ')}]`);
    }
  }
  for (const k of t.keys()) if (!expected.has(k)) problems.push(`unexpected key ${k}`);
  if (problems.length) {
    throw new CheckpointError(file, `does not match the DiT config (${problems.length} problems):\n  ${problems.join('\n  ')}`, 'Check that config.json (or --config) describes this checkpoint.');
  }
  return new LazyWeights(new Map([...expected.keys()].map((k) => [k, lazyTensor(file, t, k)] as const)));
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
  return configFile && readJsonObject(configFile).objective === 'flow' ? 'flow' : 'eps';
}

/** The DiT entry point (kept for compatibility; `loadDenoiser` is the family-neutral one). */
export async function loadDiT(pathOrDir: string, opts: LoadOptions = {}): Promise<DiT> {
  const { config, weights } = await openDiTWeights(pathOrDir, opts);
  const { configFile } = resolveCheckpoint(pathOrDir);
  return new DiT(config, weights, { threads: opts.threads, objective: objectiveOf(configFile), labelNames: opts.labelNames });
}
