// The safetensors format without file access: u64 little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets}}, optional "__metadata__"), then the raw little-endian data. Parses
// a file held in memory, drives the readers of safetensors.ts (which read files from disk, in Node) and
// converts stored tensors to typed arrays. No Node built-ins: it runs in a browser too.

import { CheckpointError } from './errors.js';

/** Element types we read and write (the safetensors names). FP8 types are not supported. */
export type StDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Bytes per element of each dtype. */
export const ST_DTYPE_BYTES: Readonly<Record<StDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/**
 * One tensor as stored: `data` holds exactly product(shape)·bytes(dtype) raw little-endian bytes.
 * `data` may be a view into a larger buffer (possibly shared with other tensors) and need not be
 * aligned: treat it as read-only and use {@link toFloat32} & co. to get typed arrays.
 */
export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  /** In the order of the header's JSON keys. */
  tensors: Map<string, StTensor>;
  /** The `__metadata__` string map ({} when absent). */
  metadata: Record<string, string>;
}

/** Same limit as the reference implementation: a larger header means a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100_000_000;

export const METADATA_KEY = '__metadata__';
const CORRUPT_HINT = 'The file is truncated, corrupt or not a safetensors file; re-download or re-export it.';

// ---------------------------------------------------------------------------------------------
// Reading

/** Parses a whole safetensors file held in memory; tensor data are views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, fileLabel: string): SafetensorsFile {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const steps = readSteps(view.byteLength, fileLabel);
  let step = steps.next();
  while (!step.done) step = steps.next(view.subarray(step.value.position, step.value.position + step.value.length));
  return step.value;
}

export interface ByteRange {
  position: number;
  length: number;
}

/**
 * The reading procedure, shared by the in-memory, async and sync readers: it yields the byte ranges
 * it needs (always within the file, validated first) and is resumed with their contents.
 */
export function* readSteps(fileBytes: number, file: string): Generator<ByteRange, SafetensorsFile, Uint8Array> {
  if (fileBytes < 8) {
    throw new CheckpointError(file, `file is ${fileBytes} bytes, shorter than the 8-byte header length`, CORRUPT_HINT);
  }
  const prefix = yield { position: 0, length: 8 };
  const headerBytes = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerBytes > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(file, `header length ${headerBytes} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`, CORRUPT_HINT);
  }
  if (headerBytes > BigInt(fileBytes - 8)) {
    throw new CheckpointError(
      file,
      `header length ${headerBytes} bytes exceeds the ${fileBytes - 8} bytes that follow the length prefix`,
      CORRUPT_HINT,
    );
  }
  const dataStart = 8 + Number(headerBytes);
  const header = parseHeader(yield { position: 8, length: dataStart - 8 }, fileBytes - dataStart, file);
  const tensors = new Map<string, StTensor>();
  for (const entry of header.entries) {
    const data = yield { position: dataStart + entry.begin, length: entry.end - entry.begin };
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { tensors, metadata: header.metadata };
}

interface HeaderEntry {
  name: string;
  dtype: StDType;
  shape: number[];
  /** Byte offsets relative to the start of the data buffer. */
  begin: number;
  end: number;
}

/** Decodes and validates the JSON header against a data buffer of `dataBytes` bytes. */
function parseHeader(headerBytes: Uint8Array, dataBytes: number, file: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new CheckpointError(file, 'header is not valid UTF-8', CORRUPT_HINT);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(file, `header is not valid JSON (${(error as Error).message})`, CORRUPT_HINT);
  }
  if (!isPlainObject(json)) {
    throw new CheckpointError(file, `header JSON is ${describeJson(json)}, expected an object of tensors`, CORRUPT_HINT);
  }

  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, file);
    else entries.push(parseEntry(name, value, dataBytes, file));
  }

  // Zero-byte tensors occupy no bytes, so they cannot overlap anything.
  const occupying = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < occupying.length; i++) {
    const previous = occupying[i - 1]!;
    const current = occupying[i]!;
    if (current.begin < previous.end) {
      throw new CheckpointError(
        file,
        `tensors "${previous.name}" [${previous.begin}, ${previous.end}) and "${current.name}" [${current.begin}, ${current.end}) overlap`,
        CORRUPT_HINT,
      );
    }
  }
  return { entries, metadata };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new CheckpointError(file, `"${METADATA_KEY}" is ${describeJson(value)}, expected an object of strings`);
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw new CheckpointError(file, `"${METADATA_KEY}" entry "${key}" is ${describeJson(item)}, expected a string`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key cannot change the prototype.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function parseEntry(name: string, value: unknown, dataBytes: number, file: string): HeaderEntry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(value)) throw new CheckpointError(file, `${where} is ${describeJson(value)}, expected an object`);
  const { dtype, shape, data_offsets: offsets } = value;

  if (typeof dtype !== 'string' || !isStDType(dtype)) {
    throw new CheckpointError(
      file,
      `${where} has unsupported dtype ${JSON.stringify(dtype) ?? 'undefined'} (supported: ${Object.keys(ST_DTYPE_BYTES).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    throw new CheckpointError(file, `${where} has shape ${JSON.stringify(shape) ?? 'undefined'}, expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger)) {
    throw new CheckpointError(file, `${where} has data_offsets ${JSON.stringify(offsets) ?? 'undefined'}, expected [begin, end] integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new CheckpointError(file, `${where} has data_offsets [${begin}, ${end}] with begin > end`, CORRUPT_HINT);
  if (end > dataBytes) {
    throw new CheckpointError(file, `${where} ends at byte ${end}, beyond the ${dataBytes}-byte data buffer`, CORRUPT_HINT);
  }
  const expectedBytes = elementCountOf(shape as number[], file, where) * ST_DTYPE_BYTES[dtype];
  if (end - begin !== expectedBytes) {
    throw new CheckpointError(
      file,
      `${where} has ${end - begin} data bytes but ${dtype} shape [${shape.join(', ')}] needs ${expectedBytes}`,
      CORRUPT_HINT,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

// ---------------------------------------------------------------------------------------------
// Conversions

/** Converts a floating-point tensor (F32/F16/BF16/F64) to a fresh, aligned Float32Array. */
export function toFloat32(tensor: StTensor, file = '<tensor>', key?: string): Float32Array {
  const bytes = tensor.data; // once: a lazily read tensor reads its bytes on every access
  const count = checkedElementCount(tensor, bytes, file, key);
  switch (tensor.dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(alignedCopy(bytes)));
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the 16 bits into place.
      const halves = uint16Values(bytes);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = halves[i]! << 16;
      return out;
    }
    case 'F16': {
      const table = halfToFloatBits();
      const halves = uint16Values(bytes);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = table[halves[i]!]!;
      return out;
    }
    default:
      throw new CheckpointError(file, `${describeTensor(key)} has dtype ${tensor.dtype}, expected a floating-point dtype (F32, F16, BF16, F64)`);
  }
}

/** Converts an integer or BOOL tensor to plain numbers; fails if a value is not a safe integer. */
export function toInt64Numbers(tensor: StTensor, file = '<tensor>', key?: string): number[] {
  return Array.from(integerValues(tensor, file, key), (value) => {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new CheckpointError(file, `${describeTensor(key)} holds ${value}, which is not exactly representable as a JS number`);
    }
    return Number(value);
  });
}

/** Converts an integer or BOOL tensor to a fresh BigInt64Array; fails on U64 values ≥ 2^63. */
export function toBigInt64Array(tensor: StTensor, file = '<tensor>', key?: string): BigInt64Array {
  if (tensor.dtype === 'I64') {
    const bytes = tensor.data;
    checkedElementCount(tensor, bytes, file, key);
    return new BigInt64Array(alignedCopy(bytes));
  }
  return BigInt64Array.from(integerValues(tensor, file, key), (value) => {
    if (value > 0x7fff_ffff_ffff_ffffn) throw new CheckpointError(file, `${describeTensor(key)} holds ${value}, which does not fit in int64`);
    return value;
  });
}

// Little-endian readers for each integer dtype; offsets are in bytes.
const INTEGER_READERS: Partial<Record<StDType, (view: DataView, byteOffset: number) => bigint>> = {
  I64: (v, o) => v.getBigInt64(o, true),
  U64: (v, o) => v.getBigUint64(o, true),
  I32: (v, o) => BigInt(v.getInt32(o, true)),
  U32: (v, o) => BigInt(v.getUint32(o, true)),
  I16: (v, o) => BigInt(v.getInt16(o, true)),
  U16: (v, o) => BigInt(v.getUint16(o, true)),
  I8: (v, o) => BigInt(v.getInt8(o)),
  U8: (v, o) => BigInt(v.getUint8(o)),
  BOOL: (v, o) => (v.getUint8(o) === 0 ? 0n : 1n),
};

function* integerValues(tensor: StTensor, file: string, key: string | undefined): Generator<bigint> {
  const read = INTEGER_READERS[tensor.dtype];
  if (!read) throw new CheckpointError(file, `${describeTensor(key)} has dtype ${tensor.dtype}, expected an integer dtype`);
  const bytes = tensor.data;
  const count = checkedElementCount(tensor, bytes, file, key);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const step = ST_DTYPE_BYTES[tensor.dtype];
  for (let i = 0; i < count; i++) yield read(view, i * step);
}

function checkedElementCount(tensor: StTensor, bytes: Uint8Array, file: string, key: string | undefined): number {
  assertLittleEndianHost();
  const count = elementCountOf(tensor.shape, file, describeTensor(key));
  const expectedBytes = count * ST_DTYPE_BYTES[tensor.dtype];
  if (bytes.byteLength !== expectedBytes) {
    throw new CheckpointError(
      file,
      `${describeTensor(key)} has ${bytes.byteLength} data bytes but ${tensor.dtype} shape [${tensor.shape.join(', ')}] needs ${expectedBytes}`,
    );
  }
  return count;
}

let halfTable: Uint32Array | undefined;

/** float16 bit pattern → float32 bit pattern, for all 65,536 patterns (built once, 256 KiB). */
function halfToFloatBits(): Uint32Array {
  if (halfTable) return halfTable;
  halfTable = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let half = 0; half < 65536; half++) {
    const sign = (half & 0x8000) << 16;
    const exponent = (half >> 10) & 0x1f;
    const mantissa = half & 0x3ff;
    if (exponent === 0x1f) {
      halfTable[half] = sign | 0x7f80_0000 | (mantissa << 13); // inf / NaN (payload kept)
    } else if (exponent !== 0) {
      halfTable[half] = sign | ((exponent + 112) << 23) | (mantissa << 13); // rebias 15 → 127
    } else {
      scratch[0] = mantissa * 2 ** -24; // zero / subnormal: exact in float32
      halfTable[half] = sign | scratchBits[0]!;
    }
  }
  return halfTable;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export function elementCountOf(shape: readonly number[], file: string, where: string): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  if (!Number.isSafeInteger(count)) throw new CheckpointError(file, `${where} has shape [${shape.join(', ')}] with too many elements`);
  return count;
}

export function isStDType(value: string): value is StDType {
  return Object.prototype.hasOwnProperty.call(ST_DTYPE_BYTES, value);
}

export function isNonNegativeSafeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function describeTensor(key: string | undefined): string {
  return key === undefined ? 'tensor' : `tensor "${key}"`;
}

/** The bytes as 16-bit values: a view when already 2-byte aligned (the usual case), else an aligned copy. */
function uint16Values(bytes: Uint8Array): Uint16Array {
  const buffer = bytes.byteOffset % 2 === 0 ? bytes.buffer : alignedCopy(bytes);
  const offset = bytes.byteOffset % 2 === 0 ? bytes.byteOffset : 0;
  return new Uint16Array(buffer, offset, bytes.byteLength / 2);
}

/** A copy of `bytes` in a fresh ArrayBuffer, so typed views on it are aligned. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Typed-array views are in host byte order; the files are little-endian. */
export function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('tcpade checkpoint I/O assumes a little-endian host');
}
