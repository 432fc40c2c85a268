// Reads and writes safetensors files on disk (Node): whole, lazily tensor by tensor, or in memory; the
// format itself (parsing, conversions) is safetensors-format.ts, re-exported here.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import { CheckpointError } from './errors.js';
import {
  type ByteRange, METADATA_KEY, ST_DTYPE_BYTES, type SafetensorsFile, type StDType, assertLittleEndianHost, elementCountOf,
  isNonNegativeSafeInteger, isStDType, readSteps,
} from './safetensors-format.js';

export {
  MAX_HEADER_BYTES, ST_DTYPE_BYTES, parseSafetensors, toBigInt64Array, toFloat32, toInt64Numbers,
  type SafetensorsFile, type StDType, type StTensor,
} from './safetensors-format.js';

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Reads a safetensors file: the header first, then each tensor's bytes with its own positioned read,
 * so files larger than one Node Buffer (e.g. 23 GB FLUX) load and memory is only the tensors.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const handle = await open(path, 'r');
  try {
    const steps = readSteps((await handle.stat()).size, path);
    let step = steps.next();
    while (!step.done) step = steps.next(await readFileRange(handle, step.value.position, step.value.length, path));
    return step.value;
  } finally {
    await handle.close();
  }
}

/** Synchronous twin of {@link readSafetensors}. */
export function readSafetensorsSync(path: string): SafetensorsFile {
  const fd = openSync(path, 'r');
  try {
    const steps = readSteps(fstatSync(fd).size, path);
    let step = steps.next();
    while (!step.done) step = steps.next(readRangeSync(fd, step.value, path));
    return step.value;
  } finally {
    closeSync(fd);
  }
}

/**
 * The header of a safetensors file with tensors whose `data` is read from the file each time it is
 * accessed (synchronously, one tensor's bytes): a model far larger than memory can be opened, and only
 * the tensors a caller converts are ever read. The file must not change while it is in use.
 */
export function readSafetensorsLazy(path: string): SafetensorsFile {
  const fd = openSync(path, 'r');
  const ranges: ByteRange[] = [];
  let file: SafetensorsFile;
  try {
    const steps = readSteps(fstatSync(fd).size, path);
    let step = steps.next();
    // The first two ranges are the length prefix and the JSON header; the rest are tensor data.
    for (let k = 0; !step.done; k++) {
      if (k < 2) step = steps.next(readRangeSync(fd, step.value, path));
      else {
        ranges.push(step.value);
        step = steps.next(new Uint8Array(0));
      }
    }
    file = step.value;
  } finally {
    closeSync(fd);
  }
  let k = 0;
  for (const tensor of file.tensors.values()) {
    const range = ranges[k++]!;
    Object.defineProperty(tensor, 'data', {
      enumerable: true,
      get: (): Uint8Array => {
        const f = openSync(path, 'r');
        try {
          return readRangeSync(f, range, path);
        } finally {
          closeSync(f);
        }
      },
    });
  }
  return file;
}

/**
 * Reads exactly `length` bytes at `position` into a fresh array (also used by torch-pickle.ts).
 * Callers have already checked the range against the file size.
 */
export async function readFileRange(handle: FileHandle, position: number, length: number, file: string): Promise<Uint8Array> {
  const bytes = allocateBytes(length, file);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(bytes, done, Math.min(length - done, MAX_BYTES_PER_READ), position + done);
    if (bytesRead === 0) throw fileShrank(file, position + done);
    done += bytesRead;
  }
  return bytes;
}

function readRangeSync(fd: number, range: ByteRange, file: string): Uint8Array {
  const bytes = allocateBytes(range.length, file);
  for (let done = 0; done < range.length; ) {
    const bytesRead = readSync(fd, bytes, done, Math.min(range.length - done, MAX_BYTES_PER_READ), range.position + done);
    if (bytesRead === 0) throw fileShrank(file, range.position + done);
    done += bytesRead;
  }
  return bytes;
}

/** One `read` call is capped below 2 GiB, the most a single fs read accepts. */
const MAX_BYTES_PER_READ = 1 << 30;
/** The largest single typed array Node can allocate (4 GiB on Node 20). */
export const MAX_ARRAY_BYTES = 2 ** 32;

function allocateBytes(length: number, file: string): Uint8Array {
  if (length > MAX_ARRAY_BYTES) {
    throw new CheckpointError(file, `a single piece of ${length} bytes is larger than Node can hold in one array (${MAX_ARRAY_BYTES})`);
  }
  // Plain Uint8Array (not Buffer) so callers and deepEqual see one type whatever the reader.
  const buffer = Buffer.allocUnsafe(length);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function fileShrank(file: string, position: number): CheckpointError {
  return new CheckpointError(file, `file ended at byte ${position} while reading (was it truncated while being read?)`);
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Typed arrays a tensor can be written from. */
export type StWritableData =
  | Float64Array | Float32Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/**
 * A tensor to write. `data` is either the dtype's natural array (Float32Array for F32, Uint16Array
 * holding raw bits for F16/BF16, BigInt64Array for I64, …) or a Uint8Array of raw little-endian bytes.
 */
export interface StWritableTensor {
  dtype: StDType;
  shape: number[];
  data: StWritableData;
}

type TypedArrayClass = { new (length: number): StWritableData };

const NATURAL_ARRAY: Readonly<Record<StDType, TypedArrayClass>> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array, U64: BigUint64Array,
  I32: Int32Array, U32: Uint32Array, I16: Int16Array, U16: Uint16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
};

/** Writes a safetensors file atomically (the old file survives any failure). */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, StWritableTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, safetensorsChunks(tensors, metadata, path));
}

/** Synchronous twin of {@link writeSafetensors}. */
export function writeSafetensorsSync(path: string, tensors: Record<string, StWritableTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomicSync(path, safetensorsChunks(tensors, metadata, path));
}

/** The bytes of a safetensors file, in memory. */
export function encodeSafetensors(tensors: Record<string, StWritableTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const bytes = Buffer.concat(safetensorsChunks(tensors, metadata, '<memory>'));
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Validates everything, then returns the file as chunks (header, then views of each tensor's data).
 * Layout follows the reference writer: larger elements first, then by name, so that with the header
 * padded (with spaces) to a multiple of 8 every tensor starts at a multiple of its element size.
 */
function safetensorsChunks(tensors: Record<string, StWritableTensor>, metadata: Record<string, string>, file: string): Uint8Array[] {
  assertLittleEndianHost();
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new CheckpointError(file, `metadata "${key}" is ${typeof value}, expected a string`);
  }
  const names = Object.keys(tensors).sort((a, b) => {
    const bySize = ST_DTYPE_BYTES[tensors[b]!.dtype] - ST_DTYPE_BYTES[tensors[a]!.dtype];
    return bySize !== 0 ? bySize : a < b ? -1 : a > b ? 1 : 0;
  });

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  const dataChunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data } = tensors[name]!;
    const where = `tensor "${name}"`;
    if (name === METADATA_KEY) throw new CheckpointError(file, `"${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (!isStDType(dtype)) throw new CheckpointError(file, `${where} has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
      throw new CheckpointError(file, `${where} has shape ${JSON.stringify(shape)}, expected non-negative integers`);
    }
    const natural = NATURAL_ARRAY[dtype];
    if (!(data instanceof natural) && !(data instanceof Uint8Array)) {
      throw new CheckpointError(file, `${where} is ${dtype} but its data is a ${data.constructor.name}; pass a ${natural.name} or raw bytes in a Uint8Array`);
    }
    const expectedBytes = elementCountOf(shape, file, where) * ST_DTYPE_BYTES[dtype];
    if (data.byteLength !== expectedBytes) {
      throw new CheckpointError(file, `${where} has ${data.byteLength} data bytes but ${dtype} shape [${shape.join(', ')}] needs ${expectedBytes}`);
    }
    header[name] = { dtype, shape, data_offsets: [offset, offset + expectedBytes] };
    dataChunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    offset += expectedBytes;
  }

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const paddedBytes = Math.ceil(json.byteLength / 8) * 8;
  const head = Buffer.alloc(8 + paddedBytes, 0x20);
  head.writeBigUInt64LE(BigInt(paddedBytes), 0);
  json.copy(head, 8);
  return [head, ...dataChunks];
}

