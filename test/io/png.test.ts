// Specification of image grids, the bitmap font and atomic PNG writing: layout arithmetic,
// pixel placement, label ink, and a pngjs read-back of what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph, hasGlyph, textWidth } from '../../src/io/font.js';
import { ImageShapeError, encodePng, makeGrid, writePngAtomic } from '../../src/io/png.js';

test('font: every glyph is 5x7, and digits, letters and -_.:=%×() are covered', () => {
  const chars = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.:=%×() ';
  for (const ch of chars) {
    assert.ok(hasGlyph(ch), `missing glyph '${ch}'`);
    const g = glyph(ch);
    assert.equal(g.length, GLYPH_HEIGHT, `'${ch}' rows`);
    for (const row of g) assert.equal(row.length, GLYPH_WIDTH, `'${ch}' columns`);
    if (ch !== ' ') assert.ok(g.flat().some(Boolean), `'${ch}' has ink`);
  }
  assert.equal(hasGlyph('€'), false);
  assert.ok(glyph('€').flat().some(Boolean), 'unknown characters draw a visible box');
  assert.equal(textWidth('ab', 2), (2 * 6 - 1) * 2);
});

test('makeGrid: dimensions, and a known image lands at its cell offset with upscaling', () => {
  const n = 5;
  const [c, h, w] = [1, 4, 3];
  const images = new Float32Array(n * c * h * w).fill(0);
  // Image 4 (row 1, col 1 in a 2x3 grid) gets a gradient so each source pixel is distinguishable.
  for (let p = 0; p < h * w; p++) images[4 * h * w + p] = p / (h * w - 1);
  const scale = 2;
  const pad = 1;
  const g = makeGrid(images, n, c, h, w, { rows: 2, cols: 3, scale, pad });
  assert.equal(g.width, 3 * (w * scale + pad) + pad);
  assert.equal(g.height, 2 * (h * scale + pad) + pad);
  assert.equal(g.data.length, g.width * g.height * 4);
  const x0 = pad + 1 * (w * scale + pad);
  const y0 = pad + 1 * (h * scale + pad);
  for (let y = 0; y < h * scale; y++) {
    for (let x = 0; x < w * scale; x++) {
      const o = ((y0 + y) * g.width + x0 + x) * 4;
      const expected = Math.round((((y >> 1) * w + (x >> 1)) / (h * w - 1)) * 255);
      assert.deepEqual(Array.from(g.data.subarray(o, o + 4)), [expected, expected, expected, 255], `pixel (${x}, ${y}) of image 4`);
    }
  }
  // The unused 6th cell and the padding stay white.
  const empty = ((pad + 1 * (h * scale + pad)) * g.width + pad + 2 * (w * scale + pad)) * 4;
  assert.deepEqual(Array.from(g.data.subarray(empty, empty + 4)), [255, 255, 255, 255]);
  assert.deepEqual(Array.from(g.data.subarray(0, 4)), [255, 255, 255, 255]);
});

test('makeGrid: RGB channels map to RGB, values are clamped to [0, 1]', () => {
  const img = new Float32Array([0.2, 1.7, -3]); // [1, 3, 1, 1]: R=0.2, G=1.7→1, B=−3→0
  const g = makeGrid(img, 1, 3, 1, 1, { rows: 1, cols: 1, pad: 0 });
  assert.deepEqual(Array.from(g.data), [51, 255, 0, 255]);
});

test('makeGrid: row and column labels put ink in the margins only', () => {
  const [n, h, w] = [4, 28, 28];
  const images = new Float32Array(n * h * w).fill(1); // white digits area: ink can only come from labels
  const g = makeGrid(images, n, 1, h, w, { rows: 2, cols: 2, rowLabels: ['full', 'ours-0.5'], colLabels: ['seed 0', 'seed 1'], pad: 2 });
  const textScale = Math.max(1, Math.floor(h / (3 * GLYPH_HEIGHT)));
  const left = textWidth('ours-0.5', textScale) + 4;
  const top = GLYPH_HEIGHT * textScale + 2;
  assert.equal(g.width, left + 2 * (w + 2) + 2);
  assert.equal(g.height, top + 2 * (h + 2) + 2);
  const dark = (x0: number, y0: number, x1: number, y1: number) => {
    let k = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (g.data[(y * g.width + x) * 4] === 0) k++;
    return k;
  };
  assert.ok(dark(0, top, left, g.height) > 20, 'row labels drew ink in the left margin');
  assert.ok(dark(left, 0, g.width, top) > 20, 'column labels drew ink in the top margin');
  assert.equal(dark(left, top, g.width, g.height), 0, 'no ink over the images');
  assert.equal(dark(0, 0, left, top), 0, 'the corner stays empty');
});

test('makeGrid: shape errors are specific', () => {
  assert.throws(() => makeGrid(new Float32Array(10), 1, 1, 3, 3, { rows: 1, cols: 1 }), (e: unknown) => e instanceof ImageShapeError && /expected \[1, 1, 3, 3\] = 9 values, got 10/.test(e.message));
  assert.throws(() => makeGrid(new Float32Array(18), 2, 1, 3, 3, { rows: 1, cols: 1 }), /2 images do not fit a 1x1 grid/);
  assert.throws(() => makeGrid(new Float32Array(18), 1, 2, 3, 3, { rows: 1, cols: 1 }), /1 \(gray\) or 3 \(RGB\) channels, got 2/);
  assert.throws(() => makeGrid(new Float32Array(9), 1, 1, 3, 3, { rows: 1, cols: 1, rowLabels: ['a', 'b'] }), /2 row labels for 1 rows/);
});

test('writePngAtomic: RGBA and gray images round-trip through pngjs and leave no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'png-test-'));
  try {
    const g = makeGrid(Float32Array.from({ length: 2 * 25 }, (_, i) => (i % 25) / 24), 2, 1, 5, 5, { rows: 1, cols: 2, scale: 3 });
    const path = join(dir, 'grid.png');
    writePngAtomic(path, g.data, g.width, g.height);
    const back = PNG.sync.read(readFileSync(path));
    assert.deepEqual([back.width, back.height], [g.width, g.height]);
    assert.deepEqual(new Uint8Array(back.data), g.data);

    const gray = Uint8Array.from({ length: 6 }, (_, i) => i * 40);
    const grayPath = join(dir, 'gray.png');
    writePngAtomic(grayPath, gray, 3, 2);
    const gb = PNG.sync.read(readFileSync(grayPath));
    assert.deepEqual(Array.from(gb.data.subarray(4 * 5, 4 * 6)), [200, 200, 200, 255]);
    assert.deepEqual(readdirSync(dir).sort(), ['gray.png', 'grid.png']);
    assert.throws(() => encodePng(new Uint8Array(7), 3, 2), /needs 24 RGBA or 6 gray bytes, got 7/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
