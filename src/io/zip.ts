// A minimal zip reader for torch checkpoints: the central directory (zip64 included) and entries
// stored or deflated (via node:zlib), read by range so large archives are never held whole.

import { inflateRawSync } from 'node:zlib';
import { CheckpointError } from './errors.js';
import { CORRUPT_HINT } from './pickle.js';
import { MAX_ARRAY_BYTES } from './safetensors.js';

/** Random access to the checkpoint bytes, from a file or from memory. Ranges are pre-validated. */
export interface ByteSource {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

/** A zip file starts with a local header, so this is also the file's magic number. */
export const ZIP_LOCAL_MAGIC = 0x04034b50;

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedBytes: number;
  uncompressedBytes: number;
  localHeaderOffset: number;
}

const ZIP_END_MAGIC = 0x06054b50;
const ZIP64_LOCATOR_MAGIC = 0x07064b50;
const ZIP64_END_MAGIC = 0x06064b50;
const ZIP_CENTRAL_MAGIC = 0x02014b50;
const ZIP_END_BYTES = 22;
const ZIP_MAX_COMMENT_BYTES = 0xffff;
/** A checkpoint's directory is a few KB per thousand tensors; anything near this is corrupt. */
const ZIP_MAX_DIRECTORY_BYTES = 256 << 20;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

/** Reads the zip central directory (zip64 included): entry name → where and how it is stored. */
export async function readZipDirectory(source: ByteSource, file: string): Promise<Map<string, ZipEntry>> {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, `zip archive: ${problem}`, CORRUPT_HINT);
  };
  const tailBytes = Math.min(source.size, ZIP_END_BYTES + ZIP_MAX_COMMENT_BYTES);
  const tailStart = source.size - tailBytes;
  const tail = await source.read(tailStart, tailBytes);
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let endAt = -1;
  for (let i = tailBytes - ZIP_END_BYTES; i >= 0 && endAt < 0; i--) {
    if (tailView.getUint32(i, true) === ZIP_END_MAGIC) endAt = i;
  }
  if (endAt < 0) fail('end-of-central-directory record not found (truncated download?)');

  let entryCount = tailView.getUint16(endAt + 10, true);
  let directoryBytes = tailView.getUint32(endAt + 12, true);
  let directoryOffset = tailView.getUint32(endAt + 16, true);
  if (entryCount === 0xffff || directoryBytes === 0xffffffff || directoryOffset === 0xffffffff) {
    // Zip64: a locator just before the end record points at the zip64 end record with 64-bit fields.
    const locatorAt = tailStart + endAt - 20;
    if (locatorAt < 0) fail('zip64 locator missing');
    const locator = dataView(await source.read(locatorAt, 20));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR_MAGIC) fail('zip64 locator missing');
    const end64At = safeNumber(locator.getBigUint64(8, true));
    if (end64At + 56 > source.size) fail('zip64 end record lies outside the file');
    const end64 = dataView(await source.read(end64At, 56));
    if (end64.getUint32(0, true) !== ZIP64_END_MAGIC) fail('zip64 end record missing');
    entryCount = safeNumber(end64.getBigUint64(32, true));
    directoryBytes = safeNumber(end64.getBigUint64(40, true));
    directoryOffset = safeNumber(end64.getBigUint64(48, true));
  }
  if (directoryOffset + directoryBytes > source.size || directoryBytes > ZIP_MAX_DIRECTORY_BYTES) {
    fail(`central directory [${directoryOffset}, +${directoryBytes}) lies outside the ${source.size}-byte file`);
  }

  const directory = await source.read(directoryOffset, directoryBytes);
  const view = dataView(directory);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < entryCount; i++) {
    if (at + 46 > directoryBytes || view.getUint32(at, true) !== ZIP_CENTRAL_MAGIC) fail(`central directory entry ${i} is damaged`);
    const nameBytes = view.getUint16(at + 28, true);
    const extraBytes = view.getUint16(at + 30, true);
    const commentBytes = view.getUint16(at + 32, true);
    const next = at + 46 + nameBytes + extraBytes + commentBytes;
    if (next > directoryBytes) fail(`central directory entry ${i} is damaged`);
    const entry: ZipEntry = {
      name: decoder.decode(directory.subarray(at + 46, at + 46 + nameBytes)),
      flags: view.getUint16(at + 8, true),
      method: view.getUint16(at + 10, true),
      compressedBytes: view.getUint32(at + 20, true),
      uncompressedBytes: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
    };
    applyZip64Extra(entry, directory.subarray(at + 46 + nameBytes, at + 46 + nameBytes + extraBytes));
    entries.set(entry.name, entry);
    at = next;
  }
  return entries;
}

/** Zip64 "extended information" extra field: 64-bit values for the 32-bit fields that hold 0xffffffff. */
function applyZip64Extra(entry: ZipEntry, extra: Uint8Array): void {
  const view = dataView(extra);
  for (let at = 0; at + 4 <= extra.byteLength; ) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    if (id === 0x0001) {
      let field = at + 4;
      const end = Math.min(at + 4 + length, extra.byteLength);
      const next64 = (current: number): number => {
        if (current !== 0xffffffff || field + 8 > end) return current;
        field += 8;
        return safeNumber(view.getBigUint64(field - 8, true));
      };
      entry.uncompressedBytes = next64(entry.uncompressedBytes);
      entry.compressedBytes = next64(entry.compressedBytes);
      entry.localHeaderOffset = next64(entry.localHeaderOffset);
      return;
    }
    at += 4 + length;
  }
}

/** Reads one entry's bytes (inflated when deflated), checking every offset and size against the file. */
export async function readZipEntry(source: ByteSource, entry: ZipEntry, file: string): Promise<Uint8Array> {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, `zip entry "${entry.name}": ${problem}`, CORRUPT_HINT);
  };
  if (entry.flags & 0x1) fail('is encrypted');
  if (entry.localHeaderOffset + 30 > source.size) fail('local header lies outside the file');
  const local = dataView(await source.read(entry.localHeaderOffset, 30));
  if (local.getUint32(0, true) !== ZIP_LOCAL_MAGIC) fail('local header is damaged');
  const dataStart = entry.localHeaderOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  if (dataStart + entry.compressedBytes > source.size) fail('data lies outside the file (truncated download?)');
  if (entry.uncompressedBytes > MAX_ARRAY_BYTES) fail(`${entry.uncompressedBytes} bytes is more than Node can hold in one array`);

  const stored = await source.read(dataStart, entry.compressedBytes);
  if (entry.method === METHOD_STORED) {
    if (entry.compressedBytes !== entry.uncompressedBytes) fail('stored entry has different compressed and uncompressed sizes');
    return stored;
  }
  if (entry.method !== METHOD_DEFLATE) fail(`compression method ${entry.method} is not supported (only stored and deflate)`);
  let inflated: Buffer;
  try {
    // The output cap makes a zip bomb fail fast instead of exhausting memory.
    inflated = inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.uncompressedBytes) });
  } catch (error) {
    return fail(`cannot be inflated (${(error as Error).message})`);
  }
  if (inflated.byteLength !== entry.uncompressedBytes) fail(`inflates to ${inflated.byteLength} bytes, expected ${entry.uncompressedBytes}`);
  return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Zip offsets beyond 2^53 cannot address a real file; treating them as huge makes range checks fail. */
function safeNumber(value: bigint): number {
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}
