// Image grids of the same seeds per method: each finished row leaves a one-row PNG strip of its first
// samples (so a resumed run can still draw every row); a group's grid stacks the strips with labels.
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { writeFileAtomicSync } from '../../io/atomic.js';
import type { RgbaImage } from '../../io/font.js';
import { makeGrid } from '../../io/png.js';

/** 8-bit grayscale PNG (the grids have no colour; a third the size of RGBA), written atomically. */
function writeGrayPng(file: string, img: RgbaImage): void {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  writeFileAtomicSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 6 }));
}

/** File-name-safe form of a row key or model name. */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._=-]+/g, '_');
}

export function stripPath(dir: string, key: string): string {
  return path.join(dir, 'strips', `${safeName(key)}.png`);
}

/** images [n, 1, h, w] in [0, 1]: the first `cols` go into one unlabelled row, 8-bit gray. */
export function writeStrip(file: string, images: Float32Array, n: number, h: number, w: number, cols: number): void {
  const k = Math.min(cols, n);
  const img = makeGrid(images.subarray(0, k * h * w), k, 1, h, w, { rows: 1, cols: k, pad: 0 });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeGrayPng(file, img);
}

/** Reads a strip back as n square images [n, 1, h, h] in [0, 1] (8-bit precision); h = the strip's height. */
export function readStrip(file: string): { images: Float32Array; n: number; h: number } {
  const png = PNG.sync.read(fs.readFileSync(file));
  const h = png.height;
  if (png.width % h !== 0) throw new Error(`${file}: a strip of square images expected, got ${png.width}×${h}`);
  const n = png.width / h;
  const images = new Float32Array(n * h * h);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) images[i * h * h + y * h + x] = png.data[(y * png.width + i * h + x) * 4] / 255;
    }
  }
  return { images, n, h };
}

export interface GridRow {
  readonly label: string;
  readonly strip: string;
}

/**
 * One PNG: a row per method (label on the left), a column per seed; rows whose strip is missing are
 * left out. Strips must share one image size. Returns the number of rows drawn.
 */
export function writeMethodGrid(file: string, rows: readonly GridRow[], colLabel?: (column: number) => string): number {
  const present = rows.filter((r) => fs.existsSync(r.strip));
  if (present.length === 0) return 0;
  const strips = present.map((r) => ({ ...readStrip(r.strip), file: r.strip }));
  const h = strips[0].h;
  const odd = strips.find((s) => s.h !== h);
  if (odd) throw new Error(`${odd.file}: images are ${odd.h} px high, ${strips[0].file} ${h} px; one grid needs one size`);
  const cols = Math.max(...strips.map((s) => s.n));
  const images = new Float32Array(present.length * cols * h * h).fill(1);
  strips.forEach((s, r) => images.set(s.images, r * cols * h * h));
  const img = makeGrid(images, present.length * cols, 1, h, h, {
    rows: present.length,
    cols,
    rowLabels: present.map((r) => r.label),
    colLabels: colLabel ? Array.from({ length: cols }, (_, k) => colLabel(k)) : undefined,
    scale: 2,
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeGrayPng(file, img);
  return present.length;
}
