// Loads PyTorch `.pt` checkpoints (zip format and pre-1.6 legacy format) without executing code: finds
// the pickle and storage records, attaches storage bytes to the unpickled tensors, extracts the state dict.

import { open } from 'node:fs/promises';
import { CheckpointError } from './errors.js';
import {
  CORRUPT_HINT,
  PICKLE_PROTO_OPCODE,
  PickleGlobal,
  StorageRecord,
  TorchStorage,
  TorchTensor,
  describeValue,
  unpickle,
  unpickleAt,
  type PickleValue,
} from './pickle.js';
import { MAX_ARRAY_BYTES, ST_DTYPE_BYTES, readFileRange, type StTensor } from './safetensors.js';
import { ZIP_LOCAL_MAGIC, readZipDirectory, readZipEntry, type ByteSource } from './zip.js';

// The unpickler's API is part of this module's public surface; it moved to pickle.ts unchanged.
export {
  PickleGlobal,
  PickleObject,
  StorageRecord,
  TorchStorage,
  TorchTensor,
  unpickle,
  unpickleAt,
  type PickleKey,
  type PickleValue,
  type UnpickleOptions,
} from './pickle.js';

// ---------------------------------------------------------------------------------------------
// Checkpoint files

/** Where the state dict usually lives inside a wrapping training checkpoint, most preferred first. */
export const DEFAULT_STATE_DICT_KEYS: readonly string[] = ['ema', 'model', 'state_dict'];

/** Loads a `.pt` file and returns its state dict (see {@link extractStateDict}). */
export async function loadTorchCheckpoint(path: string, preferKeys: readonly string[] = DEFAULT_STATE_DICT_KEYS): Promise<Map<string, StTensor>> {
  return extractStateDict(await loadTorchObject(path), path, preferKeys);
}

/** Loads the whole pickled object of a `.pt` file (zip or legacy format), tensors included. */
export async function loadTorchObject(path: string): Promise<PickleValue> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    return await readTorchObject({ size, read: (position, length) => readFileRange(handle, position, length, path) }, path);
  } finally {
    await handle.close();
  }
}

/** Same as {@link loadTorchObject} for a file held in memory. */
export async function parseTorchObject(bytes: Uint8Array, fileLabel: string): Promise<PickleValue> {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readTorchObject({ size: view.byteLength, read: async (position, length) => view.subarray(position, position + length) }, fileLabel);
}

/**
 * Finds the state dict (a dict of name → tensor) in a loaded object: the object itself, or the
 * entry under the first of `preferKeys` present (recursively, e.g. {"model": {"state_dict": …}}).
 * Returns plain StTensor records so callers can treat torch and safetensors tensors alike.
 */
export function extractStateDict(root: PickleValue, fileLabel: string, preferKeys: readonly string[] = DEFAULT_STATE_DICT_KEYS): Map<string, StTensor> {
  let current = root;
  const path: string[] = [];
  for (;;) {
    if (isStateDict(current)) {
      const tensors = new Map<string, StTensor>();
      for (const [name, tensor] of current) tensors.set(name, { dtype: tensor.dtype, shape: [...tensor.shape], data: tensor.data });
      return tensors;
    }
    // The depth bound stops a dict that contains itself.
    if (!(current instanceof Map) || path.length > preferKeys.length) break;
    const dict = current;
    const next = preferKeys.find((key) => dict.get(key) instanceof Map);
    if (next === undefined) break;
    path.push(next);
    current = dict.get(next)!;
  }
  const where = path.length > 0 ? `under ${path.map((k) => `["${k}"]`).join('')}` : 'at the top level';
  const keys = current instanceof Map ? `; its keys are ${[...current.keys()].slice(0, 20).map((k) => JSON.stringify(String(k))).join(', ')}` : '';
  throw new CheckpointError(
    fileLabel,
    `no state dict (a dict of name → tensor) found ${where}: found ${describeValue(current)}${keys}`,
    `Say which entry holds the weights (looked for ${preferKeys.map((k) => `"${k}"`).join(', ')}).`,
  );
}

function isStateDict(value: PickleValue): value is Map<string, TorchTensor> {
  return value instanceof Map && value.size > 0 && [...value].every(([key, item]) => typeof key === 'string' && item instanceof TorchTensor);
}

async function readTorchObject(source: ByteSource, file: string): Promise<PickleValue> {
  if (source.size < 4) throw new CheckpointError(file, `file is only ${source.size} bytes`, CORRUPT_HINT);
  const head = await source.read(0, 4);
  const magic = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
  if (magic === ZIP_LOCAL_MAGIC) return readZipCheckpoint(source, file);
  if (head[0] === PICKLE_PROTO_OPCODE) return readLegacyCheckpoint(source, file);
  throw new CheckpointError(file, 'not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)', 'Expected a file written by torch.save.');
}

/** Builds the persistent loader shared by both formats; `records` collects every key it sees. */
function storageLoader(file: string, records: Map<string, StorageRecord>, storages: TorchStorage[]): (pid: PickleValue) => PickleValue {
  return (pid) => {
    // Zip: ('storage', type, key, location, numel). Legacy adds view metadata: (view_key, offset, size) or None.
    if (!Array.isArray(pid) || pid.length < 5) throw new CheckpointError(file, `unexpected persistent id ${describeValue(pid)}`, CORRUPT_HINT);
    const [kind, type, key, , elementCount, view] = pid;
    const kindName = kind instanceof Uint8Array ? new TextDecoder().decode(kind) : kind;
    if (kindName === 'module') {
      throw new CheckpointError(file, 'file holds a pickled nn.Module, not a state dict', 'Re-save it with torch.save(model.state_dict(), path).');
    }
    if (kindName !== 'storage' || !(type instanceof PickleGlobal) || type.kind !== 'storage-type' || typeof key !== 'string') {
      throw new CheckpointError(file, `unexpected persistent id (${describeValue(kind)}, ${describeValue(type)}, ${describeValue(key)})`, CORRUPT_HINT);
    }
    if (typeof elementCount !== 'number' || !Number.isSafeInteger(elementCount) || elementCount < 0) {
      throw new CheckpointError(file, `storage "${key}" has element count ${describeValue(elementCount)}`, CORRUPT_HINT);
    }
    let record = records.get(key);
    if (!record) records.set(key, (record = new StorageRecord(key)));
    const root = new TorchStorage(record, type.dtype!, elementCount);
    storages.push(root);
    if (view === undefined || view === null) return root;

    const [, viewOffset, viewSize] = Array.isArray(view) ? view : [];
    const isCount = (v: PickleValue | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!isCount(viewOffset) || !isCount(viewSize) || viewOffset + viewSize > elementCount) {
      throw new CheckpointError(file, `storage "${key}" has an invalid view ${describeValue(view)}`, CORRUPT_HINT);
    }
    const viewStorage = new TorchStorage(record, type.dtype!, viewSize, viewOffset);
    storages.push(viewStorage);
    return viewStorage;
  };
}

/** Checks every storage fits in its record's bytes, so tensor data can be gathered without checks. */
function checkStorageSizes(file: string, records: Map<string, StorageRecord>, storages: TorchStorage[]): void {
  for (const record of records.values()) {
    if (!record.bytes) throw new CheckpointError(file, `storage "${record.key}" is referenced but its data is missing`, CORRUPT_HINT);
  }
  for (const storage of storages) {
    const available = storage.record.bytes!.byteLength;
    if (storage.byteEnd > available) {
      throw new CheckpointError(
        file,
        `storage "${storage.record.key}" needs ${storage.byteEnd} bytes of ${storage.dtype} data but has ${available}`,
        CORRUPT_HINT,
      );
    }
  }
}

// --- zip format (torch ≥ 1.6): <archive>/data.pkl plus one record <archive>/data/<key> per storage ---

async function readZipCheckpoint(source: ByteSource, file: string): Promise<PickleValue> {
  const entries = await readZipDirectory(source, file);
  const pickleNames = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleNames.length !== 1) {
    throw new CheckpointError(file, `zip archive has ${pickleNames.length} "<name>/data.pkl" entries, expected 1`, 'Expected a file written by torch.save.');
  }
  const prefix = pickleNames[0]!.slice(0, -'data.pkl'.length);
  const byteOrder = entries.get(`${prefix}byteorder`);
  if (byteOrder) {
    const order = new TextDecoder().decode(await readZipEntry(source, byteOrder, file)).trim();
    if (order !== 'little') throw new CheckpointError(file, `storages are stored in "${order}" byte order; only little-endian is supported`);
  }

  const records = new Map<string, StorageRecord>();
  const storages: TorchStorage[] = [];
  const root = unpickle(await readZipEntry(source, entries.get(pickleNames[0]!)!, file), {
    fileLabel: file,
    persistentLoad: storageLoader(file, records, storages),
  });
  for (const record of records.values()) {
    const entry = entries.get(`${prefix}data/${record.key}`);
    if (!entry) throw new CheckpointError(file, `storage record "${prefix}data/${record.key}" is missing from the archive`, CORRUPT_HINT);
    record.bytes = await readZipEntry(source, entry, file);
  }
  checkStorageSizes(file, records, storages);
  return root;
}

// --- legacy format (torch < 1.6): pickles for magic, protocol, sys_info, the object and the storage
// --- keys, then each storage in key order as an 8-byte element count and its raw bytes.

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

async function readLegacyCheckpoint(source: ByteSource, file: string): Promise<PickleValue> {
  if (source.size > MAX_ARRAY_BYTES) {
    throw new CheckpointError(file, `legacy-format checkpoint of ${source.size} bytes is too large to load`, 'Re-save it with a current torch.save.');
  }
  const bytes = await source.read(0, source.size);
  const fileLabel = file;
  const magic = unpickleAt(bytes, 0, { fileLabel });
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(file, 'legacy checkpoint has the wrong magic number', CORRUPT_HINT);
  const protocol = unpickleAt(bytes, magic.end, { fileLabel });
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new CheckpointError(file, `legacy checkpoint has protocol version ${describeValue(protocol.value)}, expected ${LEGACY_PROTOCOL}`);
  }
  const sysInfo = unpickleAt(bytes, protocol.end, { fileLabel });
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new CheckpointError(file, 'legacy checkpoint was written on a big-endian machine; only little-endian is supported');
  }

  const records = new Map<string, StorageRecord>();
  const storages: TorchStorage[] = [];
  const main = unpickleAt(bytes, sysInfo.end, { fileLabel, persistentLoad: storageLoader(file, records, storages) });
  const keys = unpickleAt(bytes, main.end, { fileLabel });
  if (!Array.isArray(keys.value)) throw new CheckpointError(file, `storage key list is ${describeValue(keys.value)}`, CORRUPT_HINT);

  // A record's size is fixed by its root storage (the one without view metadata).
  const rootStorages = new Map(storages.filter((s) => s.elementOffset === 0).map((s) => [s.record.key, s]));
  let at = keys.end;
  for (const key of keys.value) {
    const root = typeof key === 'string' ? rootStorages.get(key) : undefined;
    if (!root) throw new CheckpointError(file, `storage key ${describeValue(key)} is listed but no tensor uses it`, CORRUPT_HINT);
    if (at + 8 > bytes.byteLength) throw new CheckpointError(file, `data of storage "${root.record.key}" is missing (truncated file?)`, CORRUPT_HINT);
    const elementCount = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigInt64(0, true);
    if (elementCount !== BigInt(root.elementCount)) {
      throw new CheckpointError(file, `storage "${root.record.key}" has ${elementCount} elements on disk, expected ${root.elementCount}`, CORRUPT_HINT);
    }
    const end = at + 8 + root.elementCount * ST_DTYPE_BYTES[root.dtype];
    if (end > bytes.byteLength) throw new CheckpointError(file, `data of storage "${root.record.key}" is cut short (truncated file?)`, CORRUPT_HINT);
    root.record.bytes = bytes.subarray(at + 8, end);
    at = end;
  }
  checkStorageSizes(file, records, storages);
  return main.value;
}
