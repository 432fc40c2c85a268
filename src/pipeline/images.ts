// Turning model samples into pictures: data space [−1, 1] → [0, 1], and a labelled class grid PNG.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { encodePng, makeGrid, withPngText } from '../io/png.js';

export { toUnitRange } from './unit-range.js';

/**
 * PNG bytes of samples [N, C, H, W] in [0, 1] as a grid with one labelled row per class (samples must be
 * ordered class by class, `perClass` each). Upscaled so 28×28 digits are visible.
 */
export function encodeClassGrid(images: Float32Array, shape: readonly number[], classes: readonly number[], perClass: number, rowLabel: (cls: number) => string = (k) => `class ${k}`): Buffer {
  const [n, c, h, w] = shape;
  if (n !== classes.length * perClass) throw new Error(`encodeClassGrid: ${n} images for ${classes.length} classes × ${perClass}`);
  const scale = h <= 32 ? 3 : 1;
  const grid = makeGrid(images, n, c, h, w, { rows: classes.length, cols: perClass, rowLabels: classes.map(rowLabel), scale });
  return encodePng(grid.data, grid.width, grid.height);
}

/** Writes encodeClassGrid's PNG atomically, with `text` (e.g. the prompts and settings) as PNG text chunks. */
export function writeClassGrid(file: string, images: Float32Array, shape: readonly number[], classes: readonly number[], perClass: number, rowLabel?: (cls: number) => string, text?: Readonly<Record<string, string>>): void {
  const png = encodeClassGrid(images, shape, classes, perClass, rowLabel);
  writeFileAtomicSync(file, text ? withPngText(png, text) : png);
}

/** One PNG per sample [C, H, W] of images [N, C, H, W] in [0, 1], with names 000.png, 001.png, … */
export function encodeSamplePngs(images: Float32Array, shape: readonly number[]): { name: string; png: Buffer }[] {
  const [n, c, h, w] = shape;
  const per = c * h * w;
  const digits = Math.max(3, String(n - 1).length);
  return Array.from({ length: n }, (_, i) => {
    const img = makeGrid(images.subarray(i * per, (i + 1) * per), 1, c, h, w, { rows: 1, cols: 1, pad: 0 });
    return { name: `${String(i).padStart(digits, '0')}.png`, png: encodePng(img.data, img.width, img.height) };
  });
}

/**
 * Writes each sample of images [N, C, H, W] in [0, 1] as dir/000.png, dir/001.png, … (each atomically), with
 * `text(k)` as sample k's PNG text chunks when given.
 */
export function writeSamplePngs(dir: string, images: Float32Array, shape: readonly number[], text?: (k: number) => Readonly<Record<string, string>>): void {
  fs.mkdirSync(dir, { recursive: true });
  encodeSamplePngs(images, shape).forEach(({ name, png }, k) => writeFileAtomicSync(path.join(dir, name), text ? withPngText(png, text(k)) : png));
}
