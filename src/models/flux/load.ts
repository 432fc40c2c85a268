// loadFlux: a FLUX.1 transformer from diffusers' FluxTransformer2DModel folder (config.json + one or sharded
// safetensors) or from Black Forest Labs' single file (config inferred from the tensor shapes), with weights
// read from disk only when a graph needs them — a 23 GB BF16 file is never held in memory whole.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../../io/errors.js';
import { readJsonObject } from '../../io/json.js';
import { ST_DTYPE_BYTES, StTensor, readSafetensorsLazy, toFloat32 } from '../../io/safetensors.js';
import { LazyTensor, LazyWeights } from '../weights.js';
import { BFL_EMBEDDED_PREFIX, RowBlock, bflLayout, rowSize } from './bfl.js';
import { FluxConfig, fluxConfigFromDiffusersJson, isFluxConfigJson, validateFluxConfig } from './config.js';
import { Flux, FluxOptions } from './flux.js';
import { parameterShapes } from './params.js';

export interface LoadFluxOptions extends FluxOptions {
  /**
   * RoPE axes of a BFL single file, which does not record them. Default: FLUX.1's [16, 56, 56] when the
   * head dim is 128; other head dims must say.
   */
  axesDimsRope?: readonly number[];
}

export type FluxCheckpointFormat = 'diffusers' | 'bfl';

export interface FluxFiles {
  readonly format: FluxCheckpointFormat;
  readonly weightFiles: readonly string[];
  /** diffusers only */
  readonly configFile?: string;
}

const WEIGHTS = 'diffusion_pytorch_model.safetensors';
const WEIGHTS_INDEX = `${WEIGHTS}.index.json`;

/** Finds the config and weight files of `p`; errors name what was looked for. */
export function resolveFluxFiles(p: string): FluxFiles {
  if (!fs.existsSync(p)) throw new CheckpointError(p, 'does not exist', 'Pass a FluxTransformer2DModel folder, a FLUX pipeline folder, or a BFL flux1-*.safetensors file.');
  if (fs.statSync(p).isDirectory()) {
    const configFile = path.join(p, 'config.json');
    if (!fs.existsSync(configFile) && fs.existsSync(path.join(p, 'transformer', 'config.json'))) return resolveFluxFiles(path.join(p, 'transformer'));
    if (!fs.existsSync(configFile)) throw new CheckpointError(p, 'holds no config.json (nor transformer/config.json)', 'Pass a diffusers FluxTransformer2DModel folder, or the BFL .safetensors file itself.');
    const single = path.join(p, WEIGHTS);
    if (fs.existsSync(single)) return { format: 'diffusers', weightFiles: [single], configFile };
    const index = path.join(p, WEIGHTS_INDEX);
    if (fs.existsSync(index)) return { format: 'diffusers', weightFiles: shardFiles(index), configFile };
    const bin = fs.existsSync(path.join(p, 'diffusion_pytorch_model.bin')) ? ' (a .bin was found: FLUX weights are read from safetensors only; convert it)' : '';
    throw new CheckpointError(p, `holds config.json but no ${WEIGHTS} or ${WEIGHTS_INDEX}${bin}`);
  }
  if (/\.index\.json$/i.test(p)) return { format: 'diffusers', weightFiles: shardFiles(p), configFile: besideConfig(p, true) };
  if (!/\.safetensors$/i.test(p)) throw new CheckpointError(p, 'is neither a folder nor a .safetensors file', 'FLUX loads from a FluxTransformer2DModel folder or a BFL flux1-*.safetensors file.');
  const configFile = besideConfig(p, false);
  return configFile ? { format: 'diffusers', weightFiles: [p], configFile } : { format: 'bfl', weightFiles: [p] };
}

/** A FluxTransformer2DModel config.json beside `file`, if any (required for diffusers-keyed weights). */
function besideConfig(file: string, required: boolean): string | undefined {
  const f = path.join(path.dirname(file), 'config.json');
  if (fs.existsSync(f) && isFluxConfigJson(readJsonObject(f))) return f;
  if (required) throw new CheckpointError(file, 'has no FluxTransformer2DModel config.json beside it');
  return undefined;
}

/** The shard files a diffusers index names ({"weight_map": {key: file}}), each once, in first-use order. */
function shardFiles(indexFile: string): string[] {
  const map = readJsonObject(indexFile).weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new CheckpointError(indexFile, 'has no "weight_map" of key → shard file', 'Is this a diffusers sharded-weights index?');
  }
  const names = [...new Set(Object.values(map as Record<string, string>))];
  const outside = names.find((n) => path.basename(n) !== n);
  if (outside) throw new CheckpointError(indexFile, `names shard "${outside}" outside its folder`);
  const files = names.map((n) => path.join(path.dirname(indexFile), n));
  const absent = files.filter((f) => !fs.existsSync(f));
  if (absent.length) throw new CheckpointError(indexFile, `names shard(s) that do not exist: ${absent.map((f) => path.basename(f)).join(', ')}`, 'Download every shard the index lists.');
  return files;
}

/** Every tensor of every shard by key (headers only: data is read on access). */
function openTensors(files: readonly string[]): Map<string, { file: string; tensor: StTensor }> {
  const all = new Map<string, { file: string; tensor: StTensor }>();
  for (const file of files) {
    for (const [key, tensor] of readSafetensorsLazy(file).tensors) {
      const earlier = all.get(key);
      if (earlier) throw new CheckpointError(file, `holds ${key}, which ${earlier.file} also holds`, 'Shards must not overlap.');
      all.set(key, { file, tensor });
    }
  }
  return all;
}

const MAX_LISTED = 60;
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Stored keys and shapes against the expected ones; every problem in one error. */
function checkStored(label: string, stored: ReadonlyMap<string, StTensor>, expected: ReadonlyMap<string, readonly number[]>, what: string, hint: string): void {
  const problems: string[] = [];
  for (const [k, shape] of expected) {
    const t = stored.get(k);
    if (!t) problems.push(`missing ${k} [${shape.join(', ')}]`);
    else if (!sameShape(t.shape, shape)) problems.push(`${k}: expected [${shape.join(', ')}], found [${t.shape.join(', ')}]`);
    else if (!FLOAT_DTYPES.has(t.dtype)) problems.push(`${k}: dtype ${t.dtype}, expected F32, BF16, F16 or F64`);
  }
  for (const k of stored.keys()) if (!expected.has(k)) problems.push(`unexpected key ${k}`);
  if (problems.length) {
    // A wrong file can mismatch every one of FLUX.1's 1160 keys: the first ones tell the story.
    const shown = problems.length > MAX_LISTED ? [...problems.slice(0, MAX_LISTED), `… and ${problems.length - MAX_LISTED} more`] : problems;
    throw new CheckpointError(label, `does not match ${what} (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${shown.join('\n  ')}`, hint);
  }
}

/** diffusers-keyed weights, each converted to float32 from its stored dtype when a graph asks for it. */
function diffusersWeights(label: string, tensors: Map<string, { file: string; tensor: StTensor }>, c: FluxConfig): LazyWeights {
  const expected = parameterShapes(c);
  checkStored(label, new Map([...tensors].map(([k, v]) => [k, v.tensor] as const)), expected, `a FluxTransformer2DModel of this config.json`, 'Check that config.json belongs to these weights (num_layers, num_single_layers, widths, guidance_embeds).');
  return new LazyWeights(new Map([...expected.keys()].map((k) => {
    const { file, tensor } = tensors.get(k)!;
    // `data` of a lazily opened file is read from disk on each access: take it once, then convert.
    const load = (): Float32Array => toFloat32({ dtype: tensor.dtype, shape: tensor.shape, data: tensor.data }, file, k);
    return [k, { numel: tensor.shape.reduce((a, b) => a * b, 1), load }] as const;
  })));
}

/**
 * One BFL tensor's stored bytes shared by the diffusers tensors cut from it (q, k, v of a fused qkv): read
 * once for all of them, then dropped when each has taken its rows, so no copy outlives the graph build.
 */
class SharedRead {
  private bytes: Uint8Array | undefined;
  private pending: Set<string>;

  constructor(
    private readonly tensor: StTensor,
    private readonly readers: readonly string[],
  ) {
    this.pending = new Set(readers);
  }

  take(reader: string): Uint8Array {
    const bytes = (this.bytes ??= this.tensor.data);
    this.pending.delete(reader);
    if (this.pending.size === 0) {
      this.bytes = undefined;
      this.pending = new Set(this.readers);
    }
    return bytes;
  }
}

/** diffusers-keyed weights cut (and, for final_layer, half-swapped) from a BFL single file's tensors. */
function bflWeights(file: string, stored: Map<string, StTensor>, c: FluxConfig): LazyWeights {
  const layout = bflLayout(c);
  checkStored(file, stored, layout.shapes, `a BFL FLUX checkpoint with the config its shapes imply (${describe(c)})`, 'Is this a complete flux1-dev / flux1-schnell transformer file?');
  const byDiffusers = new Map<string, RowBlock[]>();
  const readersOf = new Map<string, string[]>();
  for (const b of layout.blocks) {
    byDiffusers.set(b.diffusers, [...(byDiffusers.get(b.diffusers) ?? []), b]);
    const r = readersOf.get(b.bfl) ?? [];
    if (!r.includes(b.diffusers)) r.push(b.diffusers);
    readersOf.set(b.bfl, r);
  }
  const shared = new Map([...readersOf].map(([k, readers]) => [k, new SharedRead(stored.get(k)!, readers)] as const));
  const shapes = parameterShapes(c);
  const entries = new Map<string, LazyTensor>();
  for (const [key, shape] of shapes) {
    const blocks = byDiffusers.get(key)!;
    const per = rowSize(shape);
    entries.set(key, {
      numel: shape.reduce((a, b) => a * b, 1),
      load: () => {
        const out = new Float32Array(shape[0] * per);
        const raws = new Map<string, Uint8Array>(); // norm_out takes both halves of one BFL tensor: read it once
        for (const b of blocks) {
          const src = stored.get(b.bfl)!;
          // rows of one tensor are contiguous: cut bytes first, convert only this block's rows
          const bytesPerRow = per * ST_DTYPE_BYTES[src.dtype];
          const raw = raws.get(b.bfl) ?? shared.get(b.bfl)!.take(key);
          raws.set(b.bfl, raw);
          const rows: StTensor = { dtype: src.dtype, shape: [b.rows, ...shape.slice(1)], data: raw.subarray(b.bflRow * bytesPerRow, (b.bflRow + b.rows) * bytesPerRow) };
          out.set(toFloat32(rows, file, b.bfl), b.diffusersRow * per);
        }
        return out;
      },
    });
  }
  return new LazyWeights(entries);
}

function describe(c: FluxConfig): string {
  return `${c.numLayers} double + ${c.numSingleLayers} single blocks, ${c.numHeads} heads × ${c.headDim}, in ${c.inChannels}, text ${c.jointAttentionDim}, pooled ${c.pooledProjectionDim}, ${c.guidanceEmbeds ? 'with' : 'without'} guidance embedding`;
}

/** The transformer's tensors of a BFL file: all of them, or those under model.diffusion_model. in an all-in-one checkpoint. */
function bflTensors(file: string): Map<string, StTensor> {
  const all = readSafetensorsLazy(file).tensors;
  const embedded = [...all.keys()].some((k) => k.startsWith(BFL_EMBEDDED_PREFIX));
  const out = new Map<string, StTensor>();
  for (const [k, t] of all) {
    if (!embedded) out.set(k, t);
    else if (k.startsWith(BFL_EMBEDDED_PREFIX)) out.set(k.slice(BFL_EMBEDDED_PREFIX.length), t);
  }
  if (!out.has('img_in.weight')) {
    const diffusersKeys = out.has('x_embedder.weight');
    const sample = [...out.keys()].slice(0, 5).join(', ');
    throw new CheckpointError(file, `is not a BFL FLUX transformer (no img_in.weight; keys begin ${sample || '(none)'})`, diffusersKeys ? 'It holds diffusers keys: put its FluxTransformer2DModel config.json beside it.' : 'Pass flux1-dev.safetensors / flux1-schnell.safetensors or a diffusers FluxTransformer2DModel folder.');
  }
  return out;
}

/** Whether a .safetensors file is a BFL FLUX transformer (bare or under model.diffusion_model.); reads only its header. */
export function isBflFluxCheckpoint(file: string): boolean {
  if (!/\.safetensors$/i.test(file) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) return false;
  const keys = readSafetensorsLazy(file).tensors;
  return keys.has('img_in.weight') || keys.has(`${BFL_EMBEDDED_PREFIX}img_in.weight`);
}

/** The config a BFL file's shapes imply (BFL files record none); the RoPE axes come from `axesDimsRope` or FLUX.1's. */
export function inferBflConfig(file: string, t: ReadonlyMap<string, StTensor>, axesDimsRope?: readonly number[]): FluxConfig {
  const shape = (k: string): number[] => {
    const x = t.get(k);
    if (!x) throw new CheckpointError(file, `has no ${k}, which a BFL FLUX transformer holds`);
    return x.shape;
  };
  const count = (prefix: string): number => {
    const idx = [...t.keys()].filter((k) => k.startsWith(prefix)).map((k) => Number(k.slice(prefix.length).split('.')[0]));
    return idx.length ? Math.max(...idx) + 1 : 0;
  };
  const [D, inChannels] = shape('img_in.weight');
  const numLayers = count('double_blocks.');
  const numSingleLayers = count('single_blocks.');
  const headDim = shape(numLayers > 0 ? 'double_blocks.0.img_attn.norm.query_norm.scale' : 'single_blocks.0.norm.query_norm.scale')[0];
  if (D % headDim !== 0) throw new CheckpointError(file, `img_in width ${D} is not a multiple of the q-norm width ${headDim} (the head dim)`);
  const mlp = numLayers > 0 ? shape('double_blocks.0.img_mlp.0.weight')[0] : shape('single_blocks.0.linear1.weight')[0] - 3 * D;
  if (mlp !== 4 * D) throw new CheckpointError(file, `has an MLP of width ${mlp}; FLUX.1 (and this implementation) uses 4 × ${D} = ${4 * D}`);
  if (!axesDimsRope && headDim !== 128) {
    throw new CheckpointError(file, `has head dim ${headDim}, and a BFL file does not record its RoPE axes (FLUX.1's [16, 56, 56] are for head dim 128)`, 'Pass axesDimsRope (three even numbers summing to the head dim).');
  }
  const config: FluxConfig = {
    inChannels,
    outChannels: shape('final_layer.linear.weight')[0],
    patchSize: 1,
    numLayers,
    numSingleLayers,
    numHeads: D / headDim,
    headDim,
    jointAttentionDim: shape('txt_in.weight')[1],
    pooledProjectionDim: shape('vector_in.in_layer.weight')[1],
    guidanceEmbeds: t.has('guidance_in.in_layer.weight'),
    axesDimsRope: axesDimsRope ? [...axesDimsRope] : [16, 56, 56],
  };
  validateFluxConfig(config, file);
  return config;
}

/** Config and lazily loaded diffusers-keyed weights of any supported FLUX checkpoint. */
export function openFluxWeights(p: string, opts: { axesDimsRope?: readonly number[] } = {}): { config: FluxConfig; weights: LazyWeights; files: FluxFiles } {
  const files = resolveFluxFiles(p);
  if (files.format === 'diffusers') {
    const config = fluxConfigFromDiffusersJson(readJsonObject(files.configFile!), files.configFile!);
    if (opts.axesDimsRope && !sameShape(opts.axesDimsRope, config.axesDimsRope)) {
      throw new CheckpointError(files.configFile!, `says axes_dims_rope [${config.axesDimsRope.join(', ')}] but [${opts.axesDimsRope.join(', ')}] was passed`, 'Leave axesDimsRope out for diffusers folders.');
    }
    const label = files.weightFiles.length === 1 ? files.weightFiles[0] : `${path.dirname(files.weightFiles[0])} (${files.weightFiles.length} shards)`;
    return { config, weights: diffusersWeights(label, openTensors(files.weightFiles), config), files };
  }
  const file = files.weightFiles[0];
  const tensors = bflTensors(file);
  const config = inferBflConfig(file, tensors, opts.axesDimsRope);
  return { config, weights: bflWeights(file, tensors, config), files };
}

/**
 * The public entry point: a FLUX.1 transformer from a diffusers FluxTransformer2DModel folder (or a pipeline
 * folder holding transformer/), a sharded-weights index, or a BFL single file (flux1-dev / flux1-schnell).
 */
export async function loadFlux(p: string, opts: LoadFluxOptions = {}): Promise<Flux> {
  const { config, weights } = openFluxWeights(p, opts);
  return Flux.create(config, weights, opts);
}
