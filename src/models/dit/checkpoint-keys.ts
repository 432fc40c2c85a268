// A DiT checkpoint's tensors as original-DiT keys: diffusers' names mapped (and q, k, v fused), or original
// ones checked against the config — each tensor converted to float32 only when a graph asks for it. No file
// access: load.ts (Node paths) and load-files.ts (ModelFiles, also the browser) hand the tensors in.
import { toFloat32, type StTensor } from '../../io/safetensors-format.js';
import { CheckpointError } from '../../io/errors.js';
import { LazyWeights, type LazyTensor } from '../weights.js';
import type { Objective } from '../denoiser.js';
import type { DiTConfig } from './dit-config.js';
import { parameterShapes, positionEmbedding2d } from './dit-graph.js';

/** The diffusers class names of a DiT transformer: the current one, and the older generic class with ada_norm_zero. */
export const DIFFUSERS_DIT_CLASSES: readonly string[] = ['DiTTransformer2DModel', 'Transformer2DModel'];

/** Whether a config.json describes a DiT (diffusers or the original constructor arguments). */
export function isDiTConfigJson(j: Record<string, unknown>): boolean {
  if (typeof j._class_name === 'string') return DIFFUSERS_DIT_CLASSES.includes(j._class_name);
  return typeof j.hidden_size === 'number' && typeof j.depth === 'number' && typeof j.input_size === 'number';
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
export function fromDiffusers(file: string, t: Map<string, StTensor>, c: DiTConfig): LazyWeights {
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
export function checkOriginal(file: string, t: Map<string, StTensor>, c: DiTConfig): LazyWeights {
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

/** 'eps' unless a DiT's config.json says `"objective": "flow"` (our flow-trained models). */
export function objectiveOfConfig(json: Record<string, unknown> | undefined): Objective {
  return json?.objective === 'flow' ? 'flow' : 'eps';
}
