// A text encoder folder's weights under canonical names (CLIP's without the `text_model.` prefix, T5's embedding
// as `shared.weight`), checked key by key against the config from the safetensors headers alone, and read
// lazily: whole tensors widened to float32 when a layer needs them, embedding rows one token at a time.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../../io/errors.js';
import { type SafetensorsFiles, type StoredTensor, findSafetensors, readSafetensorsHeaders, readStoredFloat32, readStoredInto, readStoredRows } from '../../io/sharded-safetensors.js';
import { LazyWeights } from '../weights.js';
import { clipParameterShapes } from './clip.js';
import type { TextEncoderConfig } from './config.js';
import { T5_EMBED_ALIAS, T5_SHARED, t5ParameterShapes } from './t5.js';

export const WEIGHTS_BASENAME = 'model';

/** The stored tensors of an encoder under canonical names, with readers. */
export interface TextWeights {
  /** canonical name → where its bytes are */
  readonly stored: ReadonlyMap<string, StoredTensor>;
  /** whole tensors widened to float32 on request (nothing kept) */
  readonly lazy: LazyWeights;
  readonly files: SafetensorsFiles;
  /** rows of a tensor's first axis (embedding lookups), widened to float32 */
  rows(name: string, rows: readonly number[]): Float32Array;
  /** a whole tensor widened to float32 into `out` (its exact size), through one reused byte buffer */
  readInto(name: string, out: Float32Array): void;
}

const FLOAT_DTYPES = new Set(['F32', 'BF16', 'F16', 'F64']);
const MAX_LISTED = 40;

/** Keys a checkpoint may hold that the encoder does not use (buffers, heads, the decoder of a full T5). */
function ignorable(c: TextEncoderConfig, key: string): boolean {
  if (c.kind === 'clip') return /(^|\.)embeddings\.position_ids$/.test(key) || /^(text_projection|visual_projection|vision_model\.|logit_scale)/.test(key);
  return /^(decoder\.|lm_head\.)/.test(key);
}

/** The stored keys that may hold canonical name `name`, in order of preference. */
function candidates(c: TextEncoderConfig, name: string): string[] {
  if (c.kind === 'clip') return [`text_model.${name}`, name];
  if (name === T5_SHARED) return [T5_SHARED, T5_EMBED_ALIAS];
  return [name];
}

/** The weight files of an encoder folder: model.safetensors or its index; errors say what was looked for. */
export function findTextEncoderWeights(folder: string): SafetensorsFiles {
  const found = findSafetensors(folder, WEIGHTS_BASENAME);
  if (found) return found;
  const bin = ['pytorch_model.bin', 'pytorch_model.bin.index.json'].find((f) => fs.existsSync(path.join(folder, f)));
  throw new CheckpointError(
    folder,
    `holds no ${WEIGHTS_BASENAME}.safetensors and no ${WEIGHTS_BASENAME}.safetensors.index.json${bin ? ` (it has ${bin}: text encoders are read from safetensors only)` : ''}`,
    bin ? 'Convert the weights to safetensors (transformers: model.save_pretrained(folder, safe_serialization=True)).' : 'Download the text encoder\'s weights into this folder.',
  );
}

/** Opens and checks the weights of `config` in `files`; every missing, misshapen or unexpected key in one error. */
export function openTextWeights(config: TextEncoderConfig, files: SafetensorsFiles, configFile: string): TextWeights {
  const all = readSafetensorsHeaders(files.weightFiles);
  const expected = config.kind === 'clip' ? clipParameterShapes(config) : t5ParameterShapes(config);
  const stored = new Map<string, StoredTensor>();
  const used = new Set<string>();
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const found = candidates(config, name).filter((k) => all.has(k));
    // A tied alias stored beside the real name (T5: encoder.embed_tokens.weight and shared.weight) is the same tensor.
    found.forEach((k) => used.add(k));
    const t = found.length ? all.get(found[0])! : undefined;
    if (!t) problems.push(`missing ${candidates(config, name).join(' (or ')}${candidates(config, name).length > 1 ? ')' : ''} [${shape.join(', ')}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) problems.push(`${t.key}: expected [${shape.join(', ')}], found [${t.shape.join(', ')}]`);
    else if (!FLOAT_DTYPES.has(t.dtype)) problems.push(`${t.key}: dtype ${t.dtype}, expected F32, BF16, F16 or F64`);
    else stored.set(name, t);
  }
  for (const k of all.keys()) if (!used.has(k) && !ignorable(config, k)) problems.push(`unexpected key ${k}`);
  if (problems.length) {
    const shown = problems.length > MAX_LISTED ? [...problems.slice(0, MAX_LISTED), `… and ${problems.length - MAX_LISTED} more`] : problems;
    throw new CheckpointError(
      files.label,
      `does not match the ${describe(config)} that ${configFile} describes (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${shown.join('\n  ')}`,
      'Check that config.json belongs to these weights.',
    );
  }
  const lazy = new LazyWeights(new Map([...stored].map(([name, t]) => [name, { numel: t.shape.reduce((a, b) => a * b, 1), load: () => readStoredFloat32(t) }] as const)));
  let scratch: Uint8Array | undefined;
  const readInto = (name: string, out: Float32Array): void => {
    const t = stored.get(name);
    if (!t) throw new CheckpointError(files.label, `holds no ${name}`);
    scratch = readStoredInto(t, out, scratch);
  };
  return { stored, lazy, files, rows: (name, rows) => readStoredRows(stored.get(name)!, rows), readInto };
}

export function describe(c: TextEncoderConfig): string {
  if (c.kind === 'clip') return `CLIP text model (${c.numLayers} layers, width ${c.hiddenSize}, ${c.numHeads} heads, MLP ${c.intermediateSize}, vocab ${c.vocabSize})`;
  return `${c.kind === 'umt5' ? 'umT5' : 'T5'} encoder (${c.numLayers} layers, d_model ${c.dModel}, ${c.numHeads} heads × d_kv ${c.dKv}, d_ff ${c.dFf} ${c.gated ? 'gated ' : ''}${c.act}, vocab ${c.vocabSize})`;
}
