// Weights stored as one safetensors file or as the shards a `<name>.safetensors.index.json` lists, opened by
// their headers only: every tensor is a (file, byte range, dtype, shape) record, and its bytes are read — whole,
// or a few rows of its first axis — only when asked for. So a 10 GB BF16 encoder is opened without reading it,
// and an embedding table of 256k rows gives the rows a prompt uses without the rest.
// (src/models/flux/load.ts, wan/load.ts and vae/load.ts each carry an older copy of the shard-index reader.)
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from './errors.js';
import { readJsonObject } from './json.js';
import { ST_DTYPE_BYTES, type StDType, readSteps, toFloat32 } from './safetensors-format.js';

/** Where one tensor's bytes are: nothing is read until a caller asks. */
export interface StoredTensor {
  readonly file: string;
  /** the key as stored */
  readonly key: string;
  readonly dtype: StDType;
  readonly shape: readonly number[];
  /** absolute byte offset of the data in `file` */
  readonly position: number;
  readonly byteLength: number;
}

/** The weight files of a model: one file, or an index and the shards it names. */
export interface SafetensorsFiles {
  readonly weightFiles: readonly string[];
  /** the sharded-weights index, when there is one */
  readonly indexFile?: string;
  /** how messages name these weights: the file, or the index with its shard count */
  readonly label: string;
}

/**
 * `<dir>/<baseName>.safetensors`, or the shards `<dir>/<baseName>.safetensors.index.json` names; undefined when
 * neither exists (the caller says what it looked for).
 */
export function findSafetensors(dir: string, baseName: string): SafetensorsFiles | undefined {
  const single = path.join(dir, `${baseName}.safetensors`);
  if (fs.existsSync(single)) return { weightFiles: [single], label: single };
  const indexFile = path.join(dir, `${baseName}.safetensors.index.json`);
  if (fs.existsSync(indexFile)) {
    const weightFiles = shardFilesOf(indexFile);
    return { weightFiles, indexFile, label: `${indexFile} (${weightFiles.length} shard${weightFiles.length === 1 ? '' : 's'})` };
  }
  return undefined;
}

/** The shard files an index names ({"weight_map": {key: shard}}), each once, in first-use order, each checked to exist. */
export function shardFilesOf(indexFile: string): string[] {
  const map = readJsonObject(indexFile).weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new CheckpointError(indexFile, 'has no "weight_map" of key → shard file', 'Is this a sharded-weights index (model.safetensors.index.json)?');
  }
  const names = [...new Set(Object.values(map as Record<string, string>))];
  if (names.length === 0) throw new CheckpointError(indexFile, 'has an empty "weight_map"');
  const outside = names.find((n) => path.basename(n) !== n);
  if (outside) throw new CheckpointError(indexFile, `names shard "${outside}" outside its folder`);
  const files = names.map((n) => path.join(path.dirname(indexFile), n));
  const absent = files.filter((f) => !fs.existsSync(f));
  if (absent.length) throw new CheckpointError(indexFile, `names shard(s) that do not exist: ${absent.map((f) => path.basename(f)).join(', ')}`, 'Download every shard the index lists.');
  return files;
}

/** Every tensor of every file by key, from the headers alone; a key held by two files is refused. */
export function readSafetensorsHeaders(files: readonly string[]): Map<string, StoredTensor> {
  const all = new Map<string, StoredTensor>();
  for (const file of files) {
    for (const t of headerOf(file)) {
      const earlier = all.get(t.key);
      if (earlier) throw new CheckpointError(file, `holds ${t.key}, which ${earlier.file} also holds`, 'Shards must not overlap.');
      all.set(t.key, t);
    }
  }
  return all;
}

function headerOf(file: string): StoredTensor[] {
  const fd = fs.openSync(file, 'r');
  try {
    const steps = readSteps(fs.fstatSync(fd).size, file);
    const ranges: { position: number; length: number }[] = [];
    let step = steps.next();
    // The first two requests are the length prefix and the JSON header; the rest are tensor data, in header order.
    for (let k = 0; !step.done; k++) {
      if (k < 2) step = steps.next(readAt(fd, step.value.position, step.value.length, file));
      else {
        ranges.push(step.value);
        step = steps.next(new Uint8Array(0));
      }
    }
    return [...step.value.tensors].map(([key, t], i) => ({ file, key, dtype: t.dtype, shape: t.shape, position: ranges[i]!.position, byteLength: ranges[i]!.length }));
  } finally {
    fs.closeSync(fd);
  }
}

function readAt(fd: number, position: number, length: number, file: string): Uint8Array {
  const bytes = new Uint8Array(length);
  readInto(fd, bytes, position, file);
  return bytes;
}

/** The whole tensor, widened to float32 from its stored dtype (F32, BF16, F16, F64). */
export function readStoredFloat32(t: StoredTensor): Float32Array {
  const fd = fs.openSync(t.file, 'r');
  try {
    return toFloat32({ dtype: t.dtype, shape: [...t.shape], data: readAt(fd, t.position, t.byteLength, t.file) }, t.file, t.key);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The whole tensor widened to float32 into `out` (exactly its element count), reusing `scratch` for the stored
 * bytes when it is large enough; returns the scratch buffer to pass next time. A caller that streams layers of
 * one shape through the same arrays pays the first touch of fresh memory once instead of per tensor: on this
 * VM a fresh 168 MB array costs ~0.4 s of page faults, more than reading and converting its values.
 */
export function readStoredInto(t: StoredTensor, out: Float32Array, scratch?: Uint8Array): Uint8Array | undefined {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (out.length !== count) throw new CheckpointError(t.file, `${t.key} holds ${count} values, but the array to read it into has ${out.length}`);
  const fd = fs.openSync(t.file, 'r');
  try {
    if (t.dtype === 'F32') {
      readInto(fd, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), t.position, t.file);
      return scratch;
    }
    const buffer = scratch && scratch.byteLength >= t.byteLength ? scratch : new Uint8Array(t.byteLength);
    const bytes = buffer.subarray(0, t.byteLength);
    readInto(fd, bytes, t.position, t.file);
    if (t.dtype === 'BF16' && buffer.byteOffset % 2 === 0) {
      // bfloat16 is the top half of a float32
      const halves = new Uint16Array(buffer.buffer, buffer.byteOffset, count);
      const bits = new Uint32Array(out.buffer, out.byteOffset, count);
      for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
    } else {
      out.set(toFloat32({ dtype: t.dtype, shape: [...t.shape], data: bytes }, t.file, t.key));
    }
    return buffer;
  } finally {
    fs.closeSync(fd);
  }
}

function readInto(fd: number, bytes: Uint8Array, position: number, file: string): void {
  for (let done = 0; done < bytes.byteLength; ) {
    const n = fs.readSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30), position + done);
    if (n === 0) throw new CheckpointError(file, `file ended at byte ${position + done} while reading (was it truncated while being read?)`);
    done += n;
  }
}

/**
 * Rows of the first axis (e.g. an embedding table's rows for some token ids), widened to float32:
 * [rows.length, …shape.slice(1)]. Only those rows' bytes are read.
 */
export function readStoredRows(t: StoredTensor, rows: readonly number[]): Float32Array {
  const count = t.shape[0] ?? 0;
  const perRow = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = perRow * ST_DTYPE_BYTES[t.dtype];
  const out = new Float32Array(rows.length * perRow);
  const fd = fs.openSync(t.file, 'r');
  try {
    // Each distinct row is read and converted once (prompts repeat tokens, and padding repeats one id).
    const done = new Map<number, number>();
    rows.forEach((r, k) => {
      if (!Number.isInteger(r) || r < 0 || r >= count) throw new CheckpointError(t.file, `row ${r} of ${t.key} asked for, but it has ${count} rows`);
      const first = done.get(r);
      if (first !== undefined) {
        out.copyWithin(k * perRow, first * perRow, (first + 1) * perRow);
        return;
      }
      const bytes = readAt(fd, t.position + r * rowBytes, rowBytes, t.file);
      out.set(toFloat32({ dtype: t.dtype, shape: t.shape.slice(1) as number[], data: bytes }, t.file, t.key), k * perRow);
      done.set(r, k);
    });
    return out;
  } finally {
    fs.closeSync(fd);
  }
}
