// Tiled decoding: the tile plan and blend weights (exact properties), the cut-decode-blend mechanics
// (exact with a decoder that only looks at one latent pixel), and the real tiny VAE tiled vs untiled —
// close, not equal, because each tile computes its own GroupNorm statistics — without a visible seam.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/diffusion/rng.js';
import { AutoencoderKL, VAEInputError, loadVAE, readVAE } from '../../src/models/vae/index.js';
import { EDGE_MARGIN_FRACTION, MIN_TILE_LATENT, blendWeights, checkTileOptions, decodeTiled, planTiles, tileStarts } from '../../src/models/vae/tiling.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/vae_diffusers_tiny');

describe('tile plan', () => {
  it('tileStarts: fewest equal tiles covering the axis, neighbours sharing ≥ overlap, spread evenly', () => {
    assert.deepEqual(tileStarts(24, 12, 4), [0, 6, 12]);
    assert.deepEqual(tileStarts(64, 40, 16), [0, 24]);
    assert.deepEqual(tileStarts(12, 12, 4), [0]);
    for (let tile = MIN_TILE_LATENT; tile <= 40; tile += 3)
      for (let overlap = 1; 2 * overlap <= tile; overlap++)
        for (let length = tile; length <= 130; length += 7) {
          const s = tileStarts(length, tile, overlap);
          const what = `length ${length}, tile ${tile}, overlap ${overlap}: [${s.join(', ')}]`;
          assert.equal(s[0], 0, what);
          assert.equal(s[s.length - 1] + tile, length, what);
          for (let k = 1; k < s.length; k++) assert.ok(s[k] > s[k - 1] && s[k] - s[k - 1] <= tile - overlap, what);
          // One tile fewer could not cover the axis with that overlap.
          if (s.length > 1) assert.ok((s.length - 2) * (tile - overlap) + tile < length, `${what} uses too many tiles`);
        }
  });

  it("blendWeights: each pixel's weights sum to 1; the outer quarter of an overlap gets 0, non-overlapped pixels 1", () => {
    for (const [length, tile, overlap] of [[48, 24, 8], [130, 40, 5], [75, 20, 10], [61, 16, 8]]) {
      const starts = tileStarts(length, tile, overlap);
      const w = blendWeights(starts, tile, length);
      const total = new Float64Array(length);
      w.forEach((wk, k) => wk.forEach((v, p) => {
        assert.ok(v >= 0 && v <= 1, `weight ${v}`);
        total[starts[k] + p] += v;
      }));
      total.forEach((t, p) => assert.ok(Math.abs(t - 1) < 1e-6, `pixel ${p} of ${length}: weights sum to ${t}`));
      for (let k = 1; k < starts.length; k++) {
        const shared = starts[k - 1] + tile - starts[k];
        const margin = Math.floor(EDGE_MARGIN_FRACTION * shared);
        for (let p = 0; p < margin; p++) assert.equal(w[k][p], 0, `tile ${k} pixel ${p} lies in its edge margin`);
      }
      if (starts.length >= 2) assert.equal(w[0][0], 1); // the image border is no seam
    }
  });

  it('bad tile options are refused, saying which value and what is allowed', () => {
    assert.throws(() => checkTileOptions({ latentSize: 4, overlap: 1 }), /tile\.latentSize must be an integer ≥ 8 latent pixels, got 4/);
    assert.throws(() => checkTileOptions({ latentSize: 16, overlap: 16 }), /tile\.overlap 16 is more than half of tile\.latentSize 16.*overlap ≤ 8/);
    assert.throws(() => checkTileOptions({ latentSize: 16, overlap: 0 }), /tile\.overlap must be an integer ≥ 1/);
    assert.throws(() => checkTileOptions({ latentSize: 12.5, overlap: 2 }), VAEInputError);
    assert.doesNotThrow(() => checkTileOptions({ latentSize: 16, overlap: 8 }));
  });
});

describe('tiled decoding mechanics', () => {
  it('with a decoder that looks at one latent pixel per output pixel, tiled equals untiled (batch 2, 37×23, uneven tiles)', async () => {
    // A real per-pixel decoder: out[o] = Σ_c M[o][c]·z[c] + o at every pixel of the f×f block (nearest upsample).
    const [b, c, h, w, f, outC] = [2, 3, 37, 23, 4, 2];
    const decodePixelwise = async (z: Float32Array, shape: readonly [number, number, number, number]): Promise<Float32Array> => {
      const [bb, cc, hh, ww] = shape;
      const out = new Float32Array(bb * outC * hh * f * ww * f);
      for (let n = 0; n < bb; n++)
        for (let o = 0; o < outC; o++)
          for (let y = 0; y < hh * f; y++)
            for (let x = 0; x < ww * f; x++) {
              let v = o;
              for (let k = 0; k < cc; k++) v += (o + 1) * (k - 1) * z[((n * cc + k) * hh + Math.floor(y / f)) * ww + Math.floor(x / f)];
              out[((n * outC + o) * hh * f + y) * ww * f + x] = v;
            }
      return out;
    };
    const z = new Rng(5).randn(b * c * h * w);
    const whole = await decodePixelwise(z, [b, c, h, w]);
    for (const tile of [{ latentSize: 12, overlap: 3 }, { latentSize: 30, overlap: 15 }, { latentSize: 8, overlap: 1 }]) {
      const tiled = await decodeTiled(z, [b, c, h, w], planTiles(h, w, tile), f, outC, decodePixelwise);
      assert.deepEqual(tiled.shape, [b, outC, h * f, w * f]);
      let worst = 0;
      whole.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - tiled.data[i]))));
      assert.ok(worst < 1e-5, `tile ${JSON.stringify(tile)}: max |tiled − whole| = ${worst}`);
    }
  });
});

/** Σ over channels and rows of the squared difference between columns x and x+1 (axis 'x'), or rows (axis 'y'). */
function gradientEnergy(img: Float32Array, channels: number, size: number, axis: 'x' | 'y'): Float64Array {
  const e = new Float64Array(size - 1);
  for (let c = 0; c < channels; c++)
    for (let i = 0; i < size; i++)
      for (let j = 0; j < size - 1; j++) {
        const at = (u: number, v: number): number => img[(c * size + (axis === 'x' ? u : v)) * size + (axis === 'x' ? v : u)];
        e[j] += (at(i, j + 1) - at(i, j)) ** 2;
      }
  return e;
}

describe('tiled decoding of the tiny VAE', () => {
  // Latent 64×64 in tiles of 40 overlapping by 16: two tiles per axis (starts 0 and 24), overlap at
  // latent [24, 40) = image pixels [48, 80). The decoder's receptive field is about 12 latent pixels.
  const [latent, tile, overlap] = [64, 40, 16];
  const image = 2 * latent;
  const options = { latentSize: tile, overlap };
  let vae: AutoencoderKL;
  before(async () => {
    vae = await loadVAE(fixture, { threads: 1 });
  });
  after(() => vae.release());

  it('stays within 10% of the untiled decode (max error relative to max |untiled|), random latent', async () => {
    // Not equal, by design (as in diffusers): every tile computes its own GroupNorm statistics and its
    // attention sees only its own pixels. With this random-weight VAE that moves every pixel, not just
    // the seams: measured max error 6.1% of max |untiled| overall, 4.8% away from seams and borders,
    // relative RMS error 6.3%. A trained VAE on a natural image differs far less; 10% is what we promise here.
    const z = { data: new Rng(3).randn(4 * latent * latent), shape: [1, 4, latent, latent] };
    const whole = (await vae.decode(z, { tile: false })).data as Float32Array;
    const tiled = (await vae.decode(z, { tile: options })).data as Float32Array;
    let [err, scale, se, ss] = [0, 0, 0, 0];
    whole.forEach((v, i) => {
      err = Math.max(err, Math.abs(tiled[i] - v));
      scale = Math.max(scale, Math.abs(v));
      se += (tiled[i] - v) ** 2;
      ss += v ** 2;
    });
    assert.ok(err / scale <= 0.1, `max error ${(err / scale).toFixed(3)} of max |untiled|`);
    assert.ok(Math.sqrt(se / ss) <= 0.1, `relative RMS error ${Math.sqrt(se / ss).toFixed(3)}`);
  });

  it("leaves no seam: across the overlap, tiling adds under 1/10 of the gradient energy a hard cut adds", async () => {
    // A latent varying at the scale of the whole image (one period across it) makes the two tiles of an
    // axis differ most — each normalises a different part of the wave — so a cut between them shows.
    // Measure, per column (row), the gradient energy relative to the untiled image's; over the overlap the
    // worst ratio is: hard cut at the middle of the overlap 53× (x) / 382× (y); blended tiles 2.6× / 19×.
    // So blending leaves a smooth transition band where the tiles disagree (inherent to per-tile
    // GroupNorm, and as in diffusers), not a seam. We assert: blended ≤ 0.1 × hard cut, hard cut > 20×.
    const smooth = Float32Array.from({ length: 4 * latent * latent }, (_, i) => {
      const [c, y, x] = [Math.floor(i / (latent * latent)), Math.floor(i / latent) % latent, i % latent];
      return Math.sin((2 * Math.PI * x) / latent + c) + Math.cos((2 * Math.PI * 0.7 * y) / latent + 2 * c);
    });
    const z = { data: smooth, shape: [1, 4, latent, latent] };
    const whole = (await vae.decode(z, { tile: false })).data as Float32Array;
    const tiled = (await vae.decode(z, { tile: options })).data as Float32Array;

    // The control: the two tiles of each axis cut (not blended) at the middle of the overlap.
    const tiles: Float32Array[][] = [];
    for (const y0 of [0, latent - tile]) {
      const row: Float32Array[] = [];
      for (const x0 of [0, latent - tile]) {
        const part = new Float32Array(4 * tile * tile);
        for (let c = 0; c < 4; c++) for (let i = 0; i < tile; i++) for (let j = 0; j < tile; j++) part[(c * tile + i) * tile + j] = smooth[(c * latent + y0 + i) * latent + x0 + j];
        row.push((await vae.decode({ data: part, shape: [1, 4, tile, tile] }, { tile: false })).data as Float32Array);
      }
      tiles.push(row);
    }
    const cut = latent; // image pixel 64, the middle of the overlap [48, 80)
    const hard = new Float32Array(whole.length);
    const t2 = 2 * tile;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < image; y++)
        for (let x = 0; x < image; x++) {
          const [r, k] = [y < cut ? 0 : 1, x < cut ? 0 : 1];
          const [ty, tx] = [y - r * 2 * (latent - tile), x - k * 2 * (latent - tile)];
          hard[(c * image + y) * image + x] = tiles[r][k][(c * t2 + ty) * t2 + tx];
        }

    const [first, last] = [2 * (latent - tile) - 1, 2 * tile]; // differences touching the overlap
    for (const axis of ['x', 'y'] as const) {
      const ref = gradientEnergy(whole, 3, image, axis);
      const worst = (img: Float32Array): number => {
        const e = gradientEnergy(img, 3, image, axis);
        let m = 0;
        for (let j = first; j < last; j++) m = Math.max(m, e[j] / ref[j]);
        return m;
      };
      const [blended, stitched] = [worst(tiled), worst(hard)];
      assert.ok(stitched > 20, `${axis}: the hard cut should show (${stitched.toFixed(1)}×), or this check sees nothing`);
      assert.ok(blended <= 0.1 * stitched, `${axis}: blended tiles raise the gradient energy across the overlap ${blended.toFixed(2)}×, the hard cut ${stitched.toFixed(1)}×`);
    }
  });

  it('tiles automatically above tiling.autoAboveLatent, with the configured tile', async () => {
    const { config, weights } = await readVAE(fixture);
    const auto = new AutoencoderKL(config, weights, { threads: 1, tiling: { tile: options, autoAboveLatent: 48 } });
    try {
      const big = { data: new Rng(9).randn(4 * latent * latent), shape: [1, 4, latent, latent] };
      assert.deepEqual((await auto.decode(big)).data, (await vae.decode(big, { tile: options })).data);
      const small = { data: new Rng(9).randn(4 * 48 * 48), shape: [1, 4, 48, 48] };
      assert.deepEqual((await auto.decode(small)).data, (await vae.decode(small, { tile: false })).data);
    } finally {
      await auto.release();
    }
  });

  it('decode refuses bad tile options with VAEInputError', async () => {
    const z = { data: new Float32Array(4 * 16 * 16), shape: [1, 4, 16, 16] };
    await assert.rejects(() => vae.decode(z, { tile: { latentSize: 8, overlap: 8 } }), (e: unknown) => e instanceof VAEInputError && /more than half/.test(e.message));
    await assert.rejects(() => vae.decode(z, { tile: { latentSize: 2, overlap: 1 } }), VAEInputError);
    const { config, weights } = await readVAE(fixture);
    assert.throws(() => new AutoencoderKL(config, weights, { tiling: { autoAboveLatent: 0 } }), /autoAboveLatent must be a positive integer/);
    assert.throws(() => new AutoencoderKL(config, weights, { tiling: { tile: { latentSize: 64, overlap: 40 } } }), /tile\.overlap 40 is more than half/);
  });
});
