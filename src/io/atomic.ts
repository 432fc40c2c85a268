// Crash-safe file writes: data goes to a temporary file in the target's directory, is fsynced, then
// renamed over the target, so readers see either the old file or the complete new one, never a mix.

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * What can be written: bytes, UTF-8 text, or a sequence of byte chunks. Chunks let large files
 * (multi-GB checkpoints) be written without first concatenating them; if the iterable throws
 * midway, the target is left untouched.
 */
export type AtomicWriteData = Uint8Array | string | Iterable<Uint8Array>;

/** One `write` call is capped below 2 GiB, the most a single fs write accepts. */
const MAX_BYTES_PER_WRITE = 1 << 30;

/** Writes `data` to `path` atomically (temp file in the same directory + fsync + rename). */
export async function writeFileAtomic(path: string, data: AtomicWriteData): Promise<void> {
  const tempPath = temporaryPathFor(path);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tempPath, 'wx');
    for (const chunk of chunksOf(data)) {
      for (let offset = 0; offset < chunk.byteLength; ) {
        const length = Math.min(chunk.byteLength - offset, MAX_BYTES_PER_WRITE);
        const { bytesWritten } = await handle.write(chunk, offset, length);
        offset += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tempPath, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectoryAsync(dirname(path));
}

/** Synchronous twin of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: AtomicWriteData): void {
  const tempPath = temporaryPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(tempPath, 'wx');
    for (const chunk of chunksOf(data)) {
      for (let offset = 0; offset < chunk.byteLength; ) {
        const length = Math.min(chunk.byteLength - offset, MAX_BYTES_PER_WRITE);
        offset += writeSync(fd, chunk, offset, length);
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tempPath, path);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // The write already failed; that error is the one worth reporting.
      }
    }
    rmSync(tempPath, { force: true });
    throw error;
  }
  syncDirectorySync(dirname(path));
}

/** `<path>.tmp-<pid>-<random>`: same directory (so rename is atomic), unique per process and call. */
export function temporaryPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function chunksOf(data: AtomicWriteData): Iterable<Uint8Array> {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  return data;
}

// Persisting the rename needs an fsync of the directory on POSIX. Some platforms (Windows) cannot
// open directories; the data itself is already durable there, so failure here is not an error.
async function syncDirectoryAsync(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // See above: best effort.
  }
}

function syncDirectorySync(directory: string): void {
  try {
    const fd = openSync(directory, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // See syncDirectoryAsync: best effort.
  }
}
