// PNG output: atomic PNG writes (pngjs) and labelled image grids of [N, C, H, W] samples in [0, 1].
// Grids are what model cards, training logs and benchmark reports show side by side.
import zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { writeFileAtomicSync } from './atomic.js';
import { GLYPH_HEIGHT, drawText, textWidth, type RgbaImage } from './font.js';

/** Thrown for buffers that do not match the declared image shape. */
export class ImageShapeError extends Error {
  override name = 'ImageShapeError';
}

/** Encodes an RGBA (width·height·4 bytes) or grayscale (width·height bytes) image as PNG bytes. */
export function encodePng(pixels: Uint8Array, width: number, height: number): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageShapeError(`PNG size must be positive integers, got ${width}x${height}`);
  }
  const area = width * height;
  let rgba: Uint8Array;
  if (pixels.length === area * 4) rgba = pixels;
  else if (pixels.length === area) {
    rgba = new Uint8Array(area * 4);
    for (let i = 0; i < area; i++) {
      const v = pixels[i];
      rgba[4 * i] = v;
      rgba[4 * i + 1] = v;
      rgba[4 * i + 2] = v;
      rgba[4 * i + 3] = 255;
    }
  } else {
    throw new ImageShapeError(`PNG ${width}x${height} needs ${area * 4} RGBA or ${area} gray bytes, got ${pixels.length}`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}

/**
 * The PNG with international text chunks (iTXt, UTF-8, uncompressed) added after its header, one per entry —
 * where image viewers and tools show a PNG's metadata (e.g. the prompt and the settings that made it).
 */
export function withPngText(png: Buffer, entries: Readonly<Record<string, string>>): Buffer {
  const signature = 8;
  const ihdrEnd = signature + 8 + png.readUInt32BE(signature) + 4; // length, type, data, CRC
  if (png.toString('latin1', signature + 4, signature + 8) !== 'IHDR') throw new ImageShapeError('withPngText: not a PNG (no IHDR chunk first)');
  const chunks = Object.entries(entries).map(([keyword, text]) => {
    if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new ImageShapeError(`withPngText: a PNG text keyword is 1–79 printable Latin-1 characters, got "${keyword}"`);
    // keyword \0, compression flag 0, method 0, empty language tag \0, empty translated keyword \0, UTF-8 text
    const body = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]);
    const type = Buffer.from('iTXt', 'latin1');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([type, body])) >>> 0);
    return Buffer.concat([head, type, body, crc]);
  });
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** Writes a PNG atomically (temp file in the same folder, then rename). */
export function writePngAtomic(path: string, rgbaOrGray: Uint8Array, width: number, height: number): void {
  writeFileAtomicSync(path, encodePng(rgbaOrGray, width, height));
}

export interface GridOptions {
  readonly rows: number;
  readonly cols: number;
  /** One label per row, drawn in a left margin. */
  readonly rowLabels?: readonly string[];
  /** One label per column, drawn in a top margin. */
  readonly colLabels?: readonly string[];
  /** Integer nearest-neighbour upscaling of every image (default 1). */
  readonly scale?: number;
  /** Pixels of background between cells and around the grid (default 2). */
  readonly pad?: number;
  /** Integer size of label text (default: about a third of a cell's height, at least 1). */
  readonly textScale?: number;
}

const BACKGROUND = 255;
const INK: readonly [number, number, number, number] = [0, 0, 0, 255];

/**
 * Lays out images [n, c, h, w] (c = 1 gray or 3 RGB, values in [0, 1], clamped) row-major in a
 * rows×cols grid on a white background; image i goes to row ⌊i/cols⌋, column i mod cols.
 */
export function makeGrid(images: Float32Array, n: number, c: number, h: number, w: number, opts: GridOptions): RgbaImage {
  const { rows, cols, rowLabels, colLabels } = opts;
  const scale = opts.scale ?? 1;
  const pad = opts.pad ?? 2;
  if (c !== 1 && c !== 3) throw new ImageShapeError(`makeGrid: images must have 1 (gray) or 3 (RGB) channels, got ${c}`);
  if (images.length !== n * c * h * w) throw new ImageShapeError(`makeGrid: expected [${n}, ${c}, ${h}, ${w}] = ${n * c * h * w} values, got ${images.length}`);
  if (!(rows >= 1 && cols >= 1 && Number.isInteger(rows) && Number.isInteger(cols))) throw new ImageShapeError(`makeGrid: rows and cols must be positive integers, got ${rows}x${cols}`);
  if (n > rows * cols) throw new ImageShapeError(`makeGrid: ${n} images do not fit a ${rows}x${cols} grid`);
  if (!Number.isInteger(scale) || scale < 1 || !Number.isInteger(pad) || pad < 0) throw new ImageShapeError(`makeGrid: scale must be an integer ≥ 1 and pad an integer ≥ 0, got scale=${scale}, pad=${pad}`);
  if (rowLabels && rowLabels.length !== rows) throw new ImageShapeError(`makeGrid: ${rowLabels.length} row labels for ${rows} rows`);
  if (colLabels && colLabels.length !== cols) throw new ImageShapeError(`makeGrid: ${colLabels.length} column labels for ${cols} columns`);

  const cellW = w * scale;
  const cellH = h * scale;
  const textScale = opts.textScale ?? Math.max(1, Math.floor(cellH / (3 * GLYPH_HEIGHT)));
  const leftMargin = rowLabels ? Math.max(...rowLabels.map((l) => textWidth(l, textScale))) + 2 * pad : 0;
  const topMargin = colLabels ? GLYPH_HEIGHT * textScale + pad : 0;
  const width = leftMargin + cols * (cellW + pad) + pad;
  const height = topMargin + rows * (cellH + pad) + pad;
  const img: RgbaImage = { data: new Uint8Array(width * height * 4).fill(BACKGROUND), width, height };

  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const x0 = leftMargin + pad + (i % cols) * (cellW + pad);
    const y0 = topMargin + pad + Math.floor(i / cols) * (cellH + pad);
    const base = i * c * plane;
    for (let y = 0; y < cellH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cellW; x++) {
        const sp = base + sy * w + Math.floor(x / scale);
        const o = ((y0 + y) * width + x0 + x) * 4;
        for (let ch = 0; ch < 3; ch++) img.data[o + ch] = toByte(images[sp + (c === 3 ? ch * plane : 0)]);
        img.data[o + 3] = 255;
      }
    }
  }
  rowLabels?.forEach((label, r) => {
    const y = topMargin + pad + r * (cellH + pad) + Math.floor((cellH - GLYPH_HEIGHT * textScale) / 2);
    drawText(img, leftMargin - pad - textWidth(label, textScale), y, label, INK, textScale);
  });
  colLabels?.forEach((label, col) => {
    // Centred over the cell; a label wider than the cell starts at the cell's left edge instead of spilling into the row-label margin.
    const x = leftMargin + pad + col * (cellW + pad) + Math.max(0, Math.floor((cellW - textWidth(label, textScale)) / 2));
    drawText(img, x, pad, label, INK, textScale);
  });
  return img;
}

function toByte(v: number): number {
  // NaN shows as black rather than silently as a plausible value.
  return Number.isNaN(v) ? 0 : Math.round(Math.min(1, Math.max(0, v)) * 255);
}
