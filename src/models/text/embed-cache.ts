// Prompt embeddings cached on disk, so a repeated prompt skips its text encoder (T5-XXL takes tens of seconds a
// batch here). An entry is one prompt row's encoder output, keyed by a SHA-256 of what determines it: the
// encoder's identity (its folder, config.json, and the name, size and mtime of every weight file — replacing the
// weights changes the key), what was computed (output and call convention), and the row's token ids and mask.
// Entries are safetensors files written atomically (temp file + rename), so a crash or a concurrent writer
// never leaves a torn entry; an entry that cannot be read is treated as absent and removed. Least recently used
// entries are removed beyond a byte budget.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensorsSync, toFloat32, writeSafetensorsSync } from '../../io/safetensors.js';

export interface EmbedCacheOptions {
  /** the cache folder (default defaultEmbedCacheDir()) */
  dir?: string;
  /** false: never read nor write (what the CLI's --no-embed-cache sets); default true */
  enabled?: boolean;
  /** bytes the folder may hold; least recently used entries go beyond it (default DEFAULT_EMBED_CACHE_BYTES) */
  maxBytes?: number;
}

/** A cached tensor: float32 data with its shape. */
export interface CachedTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** 4 GiB: ~500 T5-XXL rows of 512 × 4096 float32. */
export const DEFAULT_EMBED_CACHE_BYTES = 4 * 2 ** 30;

const ENTRY_SUFFIX = '.safetensors';
const FORMAT = 'tcpade-prompt-embeds-1';

/** $TCPADE_EMBED_CACHE, else $XDG_CACHE_HOME/tcpade/prompt-embeds, else ~/.cache/tcpade/prompt-embeds. */
export function defaultEmbedCacheDir(): string {
  if (process.env.TCPADE_EMBED_CACHE) return process.env.TCPADE_EMBED_CACHE;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tcpade', 'prompt-embeds');
}

/**
 * What identifies an encoder's weights on disk, as a string to hash: the folder's real path, config.json's
 * content, and the base name, size and modification time of each weight file (and the index, when sharded).
 */
export function encoderIdentity(folder: string, weightFiles: readonly string[]): string {
  const stat = (f: string) => {
    const s = fs.statSync(f);
    return { file: path.basename(f), bytes: s.size, mtimeMs: s.mtimeMs };
  };
  const config = path.join(folder, 'config.json');
  const configHash = fs.existsSync(config) ? createHash('sha256').update(fs.readFileSync(config)).digest('hex') : null;
  const index = fs.readdirSync(folder).filter((f) => f.endsWith('.safetensors.index.json')).map((f) => path.join(folder, f));
  return JSON.stringify({ folder: fs.realpathSync(folder), config: configHash, files: [...index, ...weightFiles].map(stat) });
}

export class EmbedCache {
  readonly dir: string;
  readonly enabled: boolean;
  readonly maxBytes: number;
  /** lookups answered from disk and lookups that were not, since construction */
  hits = 0;
  misses = 0;

  constructor(opts: EmbedCacheOptions = {}) {
    this.dir = opts.dir ?? defaultEmbedCacheDir();
    this.enabled = opts.enabled ?? true;
    this.maxBytes = opts.maxBytes ?? DEFAULT_EMBED_CACHE_BYTES;
  }

  /** The entry key of one prompt row: SHA-256 (hex) of the encoder identity, what was computed, and the row's ids and mask. */
  key(identity: string, what: string, ids: ArrayLike<number | bigint>, mask?: ArrayLike<number | bigint>): string {
    const h = createHash('sha256');
    h.update(`${FORMAT}\n${identity}\n${what}\n`);
    h.update(Array.from(ids, String).join(','));
    h.update(mask ? `\nmask ${Array.from(mask, String).join(',')}` : '\nno mask');
    return h.digest('hex');
  }

  private file(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`embed cache key must be a SHA-256 hex digest, got ${JSON.stringify(key)}`);
    return path.join(this.dir, `${key}${ENTRY_SUFFIX}`);
  }

  /** The tensors stored under `key`, or undefined (disabled, absent, or unreadable — the latter is removed). */
  get(key: string): Record<string, CachedTensor> | undefined {
    if (!this.enabled) return undefined;
    const file = this.file(key);
    if (!fs.existsSync(file)) {
      this.misses++;
      return undefined;
    }
    try {
      const { tensors, metadata } = readSafetensorsSync(file);
      if (metadata.format !== FORMAT) throw new Error(`not a ${FORMAT} entry`);
      const out: Record<string, CachedTensor> = {};
      for (const [name, t] of tensors) out[name] = { data: toFloat32(t, file, name), shape: t.shape };
      const now = new Date();
      fs.utimesSync(file, now, now); // recently used: kept longest
      this.hits++;
      return out;
    } catch {
      fs.rmSync(file, { force: true });
      this.misses++;
      return undefined;
    }
  }

  /** Stores tensors under `key` (atomically), then trims the folder to maxBytes. */
  put(key: string, tensors: Readonly<Record<string, CachedTensor>>, what: string): void {
    if (!this.enabled) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const entries = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { dtype: 'F32' as const, shape: [...t.shape], data: t.data }]));
    writeSafetensorsSync(this.file(key), entries, { format: FORMAT, what });
    this.trim();
  }

  /** Removes least recently used entries until the folder holds at most maxBytes. */
  private trim(): void {
    const entries = fs.readdirSync(this.dir).filter((f) => f.endsWith(ENTRY_SUFFIX) && /^[0-9a-f]{64}\./.test(f)).flatMap((f) => {
      try {
        const s = fs.statSync(path.join(this.dir, f));
        return [{ file: path.join(this.dir, f), bytes: s.size, used: s.mtimeMs }];
      } catch {
        return []; // removed meanwhile by another process
      }
    });
    let total = entries.reduce((a, e) => a + e.bytes, 0);
    for (const e of entries.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      fs.rmSync(e.file, { force: true });
      total -= e.bytes;
    }
  }
}
