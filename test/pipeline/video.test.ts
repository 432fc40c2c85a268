// Video outputs: the animation written by writeVideo is decoded back (sharp, reading every page) and checked
// for frame count, size, frame delays, loop count and pixel values within each codec's tolerance; the
// frame PNGs are decoded (pngjs) and must equal the frames exactly as 8-bit values; the [B, C, F, H, W] →
// [B, F, C, H, W] post-processing and every refusal are checked too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { VideoOutputError, decodedVideoToFrames, encodeVideo, frameDelaysMs, writeVideo } from '../../src/pipeline/video.js';

let scratch: string;
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'video-test-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const [F, H, W] = [5, 24, 40];

/** A smooth moving pattern: frame k is a colour gradient shifted by k pixels (natural-video-like content). */
function smoothFrames(): Float32Array {
  const x = new Float32Array(F * 3 * H * W);
  for (let f = 0; f < F; f++)
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) x[((f * 3 + c) * H + i) * W + j] = 0.5 + 0.4 * Math.sin((j + 2 * f) / (6 + c) + i / (9 - c));
  return x;
}

/** Few colours (at most 8 per frame): a palette codec can keep every pixel exact. */
function blockyFrames(): Float32Array {
  const x = new Float32Array(F * 3 * H * W);
  for (let f = 0; f < F; f++)
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) x[((f * 3 + c) * H + i) * W + j] = ((Math.floor((j + 4 * f) / 8) + Math.floor(i / 8) + c) % 2) * (c === 1 ? 0.6 : 1);
  return x;
}

/** The 8-bit value the writers store for x. */
const byte = (x: number): number => Math.round(Math.min(1, Math.max(0, x)) * 255);

interface Decoded {
  pages: number;
  width: number;
  pageHeight: number;
  delay?: number[];
  loop?: number;
  rgb: Uint8Array;
}

async function decodeAnimation(file: string): Promise<Decoded> {
  const meta = await sharp(file, { animated: true }).metadata();
  const { data, info } = await sharp(file, { animated: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { pages: meta.pages ?? 1, width: info.width, pageHeight: meta.pageHeight ?? info.height, delay: meta.delay, loop: meta.loop, rgb: new Uint8Array(data) };
}

/** Max and mean |decoded − stored 8-bit value| over every pixel and channel. */
function errors(frames: Float32Array, d: Decoded): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let f = 0; f < F; f++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let c = 0; c < 3; c++) {
          const e = Math.abs(d.rgb[((f * H + i) * W + j) * 3 + c] - byte(frames[((f * 3 + c) * H + i) * W + j]));
          max = Math.max(max, e);
          sum += e;
        }
  return { max, mean: sum / (F * H * W * 3) };
}

describe('writeVideo writes an animation that decodes back to the frames', () => {
  it('lossless WebP: 5 frames of 40×24, 16 fps, every pixel exact; frame PNGs exact', async () => {
    const frames = smoothFrames();
    const dir = path.join(scratch, 'lossless');
    const w = await writeVideo(dir, frames, [F, 3, H, W], { format: 'webp', lossless: true });
    assert.equal(w.videoFile, path.join(dir, 'video.webp'));
    assert.deepEqual([w.frames, w.width, w.height, w.fps, w.format], [F, W, H, 16, 'webp']);
    const d = await decodeAnimation(w.videoFile);
    assert.deepEqual([d.pages, d.width, d.pageHeight], [F, W, H]);
    assert.deepEqual(d.delay, frameDelaysMs(F, 16, 'webp'));
    assert.deepEqual(d.delay, [63, 62, 63, 62, 63]); // 1000 / 16 = 62.5 ms, alternating so 5 frames last 312–313 ms
    assert.equal(d.loop, 0);
    assert.deepEqual(errors(frames, d), { max: 0, mean: 0 });

    assert.deepEqual(fs.readdirSync(path.join(dir, 'frames')), ['000.png', '001.png', '002.png', '003.png', '004.png']);
    assert.deepEqual(w.frameFiles, ['000', '001', '002', '003', '004'].map((n) => path.join(dir, 'frames', `${n}.png`)));
    for (let f = 0; f < F; f++) {
      const png = PNG.sync.read(fs.readFileSync(w.frameFiles[f]));
      assert.deepEqual([png.width, png.height], [W, H]);
      for (let i = 0; i < H * W; i++)
        for (let c = 0; c < 3; c++) assert.equal(png.data[4 * i + c], byte(frames[(f * 3 + c) * H * W + i]), `frame ${f} pixel ${i} channel ${c}`);
    }
  });

  it('lossy WebP (quality 90): within the codec tolerance on smooth content (mean |error| ≤ 3/255, max ≤ 24/255)', async () => {
    const frames = smoothFrames();
    const w = await writeVideo(path.join(scratch, 'lossy'), frames, [F, 3, H, W], { writeFrames: false, fps: 8, loop: 3 });
    assert.deepEqual(w.frameFiles, []);
    assert.equal(fs.existsSync(path.join(scratch, 'lossy', 'frames')), false);
    const d = await decodeAnimation(w.videoFile);
    assert.deepEqual([d.pages, d.width, d.pageHeight, d.loop], [F, W, H, 3]);
    assert.deepEqual(d.delay, [125, 125, 125, 125, 125]);
    const e = errors(frames, d);
    // Lossy WebP codes 4:2:0 YUV, so colour gradients lose a little chroma detail (measured: mean 2.05, max 16).
    assert.ok(e.mean <= 3 && e.max <= 24, `lossy WebP error mean ${e.mean.toFixed(2)}, max ${e.max} (of 255)`);
    assert.ok(e.max > 0, 'lossy WebP decoded bit-exact: the lossy path was not taken');
  });

  it('GIF: frame count, size and centisecond delays; a frame of ≤ 8 colours exact; smooth frames within the palette tolerance', async () => {
    const blocky = blockyFrames();
    const g1 = await writeVideo(path.join(scratch, 'gif-blocky'), blocky, [F, 3, H, W], { format: 'gif', writeFrames: false });
    assert.equal(g1.videoFile, path.join(scratch, 'gif-blocky', 'video.gif'));
    const d1 = await decodeAnimation(g1.videoFile);
    assert.deepEqual([d1.pages, d1.width, d1.pageHeight], [F, W, H]);
    assert.deepEqual(d1.delay, frameDelaysMs(F, 16, 'gif'));
    assert.deepEqual(d1.delay, [60, 70, 60, 60, 60]); // GIF stores 1/100 s: frame k ends at round(6.25·(k + 1)) cs
    assert.deepEqual(errors(blocky, d1), { max: 0, mean: 0 });

    const smooth = smoothFrames();
    const d2 = await decodeAnimation((await writeVideo(path.join(scratch, 'gif-smooth'), smooth, [F, 3, H, W], { format: 'gif', writeFrames: false })).videoFile);
    assert.equal(d2.pages, F);
    const e = errors(smooth, d2);
    assert.ok(e.mean <= 6 && e.max <= 48, `GIF error mean ${e.mean.toFixed(2)}, max ${e.max} (of 255)`);
  });

  it('a second write replaces video and frames/ whole (fewer frames leave no stale PNG) and leaves no temporary files', async () => {
    const dir = path.join(scratch, 'rewrite');
    await writeVideo(dir, smoothFrames(), [F, 3, H, W], { format: 'webp', lossless: true });
    const two = blockyFrames().subarray(0, 2 * 3 * H * W);
    await writeVideo(dir, two, [2, 3, H, W], { format: 'webp', lossless: true });
    assert.deepEqual(fs.readdirSync(path.join(dir, 'frames')), ['000.png', '001.png']);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['frames', 'video.webp']);
    const d = await decodeAnimation(path.join(dir, 'video.webp'));
    assert.equal(d.pages, 2);
  });
});

describe('decodedVideoToFrames: [B, C, F, H, W] in [−1, 1] → [B, F, C, H, W] in [0, 1]', () => {
  it('moves the frame axis before the channels and maps x → x/2 + 0.5, clamped', () => {
    // B 1, C 2, F 3, H 1, W 2: value = 0.1·(10c + 2f + w) − 1 (and one value beyond each end of the range).
    const [b, c, f, h, w] = [1, 2, 3, 1, 2];
    const video = new Float32Array(b * c * f * h * w);
    for (let ci = 0; ci < c; ci++) for (let fi = 0; fi < f; fi++) for (let wi = 0; wi < w; wi++) video[(ci * f + fi) * w + wi] = 0.1 * (10 * ci + 2 * fi + wi) - 1;
    video[0] = -3;
    video[video.length - 1] = 2;
    const out = decodedVideoToFrames(video, [b, c, f, h, w]);
    assert.deepEqual(out.shape, [1, 3, 2, 1, 2]);
    for (let fi = 0; fi < f; fi++)
      for (let ci = 0; ci < c; ci++)
        for (let wi = 0; wi < w; wi++) {
          const x = video[(ci * f + fi) * w + wi];
          assert.equal(out.frames[(fi * c + ci) * w + wi], Math.fround(Math.min(1, Math.max(0, Math.fround(x / 2 + 0.5)))));
        }
    assert.equal(out.frames[0], 0);
    assert.equal(out.frames[out.frames.length - 1], 1);
  });
});

describe('bad input is refused with a message saying what was expected', () => {
  const frames = smoothFrames();
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['4-D shape needed', () => encodeVideo(frames, [F, 3, H * W]), /must be \[F, 3, H, W\], got shape \[5, 3, 960\]/],
    ['RGB only', () => encodeVideo(frames, [F * 3, 1, H, W]), /must be RGB \[F, 3, H, W\], got 1 channels/],
    ['length vs shape', () => encodeVideo(frames, [F + 1, 3, H, W]), /hold 14400 values but \[6, 3, 24, 40\] needs 17280/],
    ['fps', () => encodeVideo(frames, [F, 3, H, W], { fps: 0 }), /fps must be a number in \(0, 100\], got 0/],
    ['format', () => encodeVideo(frames, [F, 3, H, W], { format: 'mp4' as 'gif' }), /format must be "webp" or "gif", got "mp4"/],
    ['quality for GIF', () => encodeVideo(frames, [F, 3, H, W], { format: 'gif', quality: 50 }), /apply to WebP only/],
    ['quality range', () => encodeVideo(frames, [F, 3, H, W], { quality: 101 }), /quality must be an integer 1–100, got 101/],
    ['Float64Array', () => encodeVideo(Float64Array.from(frames) as unknown as Float32Array, [F, 3, H, W]), /must be a Float32Array, got Float64Array/],
  ];
  for (const [name, run, pattern] of cases) {
    it(name, async () => {
      await assert.rejects(run, (e: unknown) => e instanceof VideoOutputError && pattern.test(e.message));
    });
  }
  it('decodedVideoToFrames refuses a 4-D array', () => {
    assert.throws(() => decodedVideoToFrames(new Float32Array(12), [1, 3, 2, 2]), /expected a video \[B, C, F, H, W\], got shape \[1, 3, 2, 2\]/);
  });
});
