// loadDiT: reads a DiT from the real formats — original state dict (safetensors or .pt via the restricted
// unpickler) or a diffusers DiTTransformer2DModel folder — into original-DiT keys, then builds a DiT.
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, toFloat32, StTensor } from '../../io/safetensors.js';
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

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(file, `cannot read (${(e as Error).message})`);
  }
  try {
    const j = JSON.parse(text) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not an object');
    return j as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(file, `is not a JSON object (${(e as Error).message})`);
  }
}

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
  const diffusersConfig = !!configFile && DIFFUSERS_DIT_CLASSES.includes(String(readJson(configFile)._class_name));
  if (/\.safetensors$/i.test(p)) return { format: diffusersConfig ? 'diffusers' : 'original-safetensors', weights: p, configFile };
  if (/\.(pt|pth|bin|ckpt)$/i.test(p)) return { format: diffusersConfig ? 'diffusers' : 'original-pt', weights: p, configFile };
  throw new CheckpointError(p, 'has an unknown extension', 'Use .safetensors, .pt/.pth, or a model folder.');
}

/** Converts diffusers DiT keys to original ones; the per-block embedder copies must agree. */
function fromDiffusers(file: string, t: Map<string, StTensor>, c: DiTConfig): Map<string, Float32Array> {
  const f = (k: string): Float32Array => {
    const x = t.get(k);
    if (!x) throw new CheckpointError(file, `missing key ${k}`, 'Is this a DiTTransformer2DModel checkpoint?');
    return toFloat32(x, file, k);
  };
  const out = new Map<string, Float32Array>();
  const emb = 'transformer_blocks.0.norm1.emb';
  out.set('x_embedder.proj.weight', f('pos_embed.proj.weight'));
  out.set('x_embedder.proj.bias', f('pos_embed.proj.bias'));
  out.set('t_embedder.mlp.0.weight', f(`${emb}.timestep_embedder.linear_1.weight`));
  out.set('t_embedder.mlp.0.bias', f(`${emb}.timestep_embedder.linear_1.bias`));
  out.set('t_embedder.mlp.2.weight', f(`${emb}.timestep_embedder.linear_2.weight`));
  out.set('t_embedder.mlp.2.bias', f(`${emb}.timestep_embedder.linear_2.bias`));
  out.set('y_embedder.embedding_table.weight', f(`${emb}.class_embedder.embedding_table.weight`));
  const used = new Set<string>(['pos_embed.proj.weight', 'pos_embed.proj.bias']);
  const embSuffixes = ['timestep_embedder.linear_1.weight', 'timestep_embedder.linear_1.bias', 'timestep_embedder.linear_2.weight', 'timestep_embedder.linear_2.bias', 'class_embedder.embedding_table.weight'];
  for (let i = 0; i < c.depth; i++) {
    const b = `transformer_blocks.${i}`;
    for (const s of embSuffixes) {
      const k = `${b}.norm1.emb.${s}`;
      used.add(k);
      const a = f(k);
      const ref = f(`${emb}.${s}`);
      // diffusers keeps one embedder per block; one model needs them equal, or we'd be guessing.
      if (a.some((v, j) => v !== ref[j])) throw new CheckpointError(file, `${k} differs from block 0's copy`, 'Per-block timestep/class embedders must be identical for a DiT.');
    }
    const q = f(`${b}.attn1.to_q.weight`);
    const kk = f(`${b}.attn1.to_k.weight`);
    const v = f(`${b}.attn1.to_v.weight`);
    const qkv = new Float32Array(q.length * 3);
    qkv.set(q, 0);
    qkv.set(kk, q.length);
    qkv.set(v, 2 * q.length);
    out.set(`blocks.${i}.attn.qkv.weight`, qkv);
    const qb = f(`${b}.attn1.to_q.bias`);
    const qkvb = new Float32Array(qb.length * 3);
    qkvb.set(qb, 0);
    qkvb.set(f(`${b}.attn1.to_k.bias`), qb.length);
    qkvb.set(f(`${b}.attn1.to_v.bias`), 2 * qb.length);
    out.set(`blocks.${i}.attn.qkv.bias`, qkvb);
    const pairs: [string, string][] = [
      ['attn1.to_out.0', 'attn.proj'],
      ['ff.net.0.proj', 'mlp.fc1'],
      ['ff.net.2', 'mlp.fc2'],
      ['norm1.linear', 'adaLN_modulation.1'],
    ];
    for (const [d, o] of pairs) for (const wb of ['weight', 'bias']) {
      out.set(`blocks.${i}.${o}.${wb}`, f(`${b}.${d}.${wb}`));
      used.add(`${b}.${d}.${wb}`);
    }
    for (const x of ['to_q', 'to_k', 'to_v']) for (const wb of ['weight', 'bias']) used.add(`${b}.attn1.${x}.${wb}`);
  }
  for (const [d, o] of [['proj_out_1', 'final_layer.adaLN_modulation.1'], ['proj_out_2', 'final_layer.linear']] as const) {
    for (const wb of ['weight', 'bias']) {
      out.set(`${o}.${wb}`, f(`${d}.${wb}`));
      used.add(`${d}.${wb}`);
    }
  }
  const extra = [...t.keys()].filter((k) => !used.has(k));
  if (extra.length) throw new CheckpointError(file, `has keys a DiTTransformer2DModel with ${c.depth} layers does not: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ', …' : ''}`);
  // diffusers recomputes the fixed position embedding instead of storing it.
  out.set('pos_embed', positionEmbedding2d(c.hiddenSize, c.inputSize / c.patchSize));
  return out;
}

/** Checks every key and shape at once and reports all problems in one error. */
function checkOriginal(file: string, t: Map<string, StTensor>, c: DiTConfig): Map<string, Float32Array> {
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
  return new Map([...expected.keys()].map((k) => [k, toFloat32(t.get(k)!, file, k)] as const));
}

/** Reads weights (original-DiT keys) and config from any supported checkpoint. */
export async function readDiTWeights(p: string, opts: LoadOptions = {}): Promise<{ config: DiTConfig; weights: Map<string, Float32Array>; format: CheckpointFormat }> {
  const r = resolveCheckpoint(p);
  if (r.format === 'diffusers') {
    if (!r.configFile || !fs.existsSync(r.configFile)) throw new CheckpointError(r.weights, 'has no config.json beside it', 'A diffusers model folder holds config.json next to the weights.');
    const config = opts.config ?? configFromDiffusersJson(readJson(r.configFile), r.configFile);
    const tensors = /\.safetensors$/i.test(r.weights) ? (await readSafetensors(r.weights)).tensors : await loadTorchCheckpoint(r.weights);
    return { config, weights: fromDiffusers(r.weights, tensors, config), format: r.format };
  }
  let config = opts.config;
  if (!config) {
    if (!r.configFile) throw new CheckpointError(r.weights, 'has no config.json beside it', 'Pass the config (e.g. --config DiT-XL/2-256) or put the constructor arguments in config.json.');
    config = configFromOriginalJson(readJson(r.configFile), r.configFile);
  }
  validateConfig(config, r.weights);
  const tensors = r.format === 'original-pt' ? await loadTorchCheckpoint(r.weights) : (await readSafetensors(r.weights)).tensors;
  return { config, weights: checkOriginal(r.weights, tensors, config), format: r.format };
}

/** 'eps' unless the checkpoint's config.json says `"objective": "flow"` (our flow-trained models). */
function objectiveOf(configFile: string | undefined): Objective {
  return configFile && readJson(configFile).objective === 'flow' ? 'flow' : 'eps';
}

/** The DiT entry point (kept for compatibility; `loadDenoiser` is the family-neutral one). */
export async function loadDiT(pathOrDir: string, opts: LoadOptions = {}): Promise<DiT> {
  const { config, weights } = await readDiTWeights(pathOrDir, opts);
  const { configFile } = resolveCheckpoint(pathOrDir);
  return new DiT(config, weights, { threads: opts.threads, objective: objectiveOf(configFile), labelNames: opts.labelNames });
}
