// The contract's text-conditioning members on FLUX and Wan (tiny fixtures): atSize follows each pipeline's
// size rules (and refuses others with the nearest valid values), vaeLatent gives the VAE's layout, and the
// pipeline's negativeConditioning replaces the model's own unconditional branch exactly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFlux, packLatents } from '../../src/models/flux/index.js';
import { loadWan } from '../../src/models/wan/index.js';
import { Rng } from '../../src/diffusion/rng.js';
import { generate } from '../../src/pipeline/generate.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

function randomRows(seed: number, rows: number, shape: number[]): { data: Float32Array; shape: number[] } {
  const rng = new Rng(seed);
  return { data: Float32Array.from({ length: rows * shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape };
}

describe('FLUX text conditioning and sizing', () => {
  it('reports its widths, sizes to 32 × 48 px, and vaeLatent inverts the packing', async () => {
    const flux = await loadFlux(path.join(fixtures, 'flux_diffusers_tiny_golden/transformer'), { threads: 1 });
    assert.deepEqual(flux.textConditioning, { textWidth: 32, pooledWidth: 32, guidance: true, negativePrompt: false, defaults: { heightPx: 1024, widthPx: 1024, cfgScale: 1 } });
    const m = flux.atSize({ heightPx: 32, widthPx: 48, textTokens: 5 });
    assert.deepEqual(m.latentShape, [6, 4]);
    assert.equal(m.tokens, 11);
    const x = randomRows(1, 2, [1, 4, 6]).data;
    const packed = packLatents(x, [2, 1, 4, 6]);
    const back = m.vaeLatent(packed.data, 2);
    assert.deepEqual(back.shape, [2, 1, 4, 6]);
    assert.deepEqual(back.data, x);
    assert.throws(() => flux.atSize({ heightPx: 30, widthPx: 48, textTokens: 5 }), /height must be a positive multiple of 16 pixels .*got 30; nearest valid: 16 or 32/);
    assert.throws(() => flux.atSize({ heightPx: 32, widthPx: 48, frames: 5, textTokens: 5 }), /FLUX makes images, not video/);
    await flux.release();
  });
});

describe('Wan text conditioning and sizing', () => {
  it('sizes by frames 4k + 1 and ÷ 8 sides, keeps a fitting negative embedding, and refuses with nearest values', async () => {
    const negative = randomRows(9, 1, [7, 16]);
    const wan = await loadWan(path.join(fixtures, 'wan_diffusers_tiny_golden/transformer'), { threads: 1, textTokens: 7, negativeTextEmbedding: negative });
    assert.deepEqual(wan.textConditioning, { textWidth: 16, guidance: false, negativePrompt: true, defaults: { heightPx: 480, widthPx: 832, frames: 81, cfgScale: 5 } });
    const m = wan.atSize({ heightPx: 32, widthPx: 48, frames: 9, textTokens: 7 });
    assert.deepEqual(m.latentShape, [4, 3, 4, 6]);
    assert.deepEqual(m.unconditional({ textEmbeddings: randomRows(1, 2, [7, 16]) }).textEmbeddings!.data.subarray(0, 112), negative.data);
    // a negative of another length does not carry over
    assert.throws(() => wan.atSize({ heightPx: 32, widthPx: 48, frames: 9, textTokens: 6 }).unconditional({ textEmbeddings: randomRows(1, 1, [6, 16]) }), /negative prompt/);
    assert.throws(() => wan.atSize({ heightPx: 32, widthPx: 48, frames: 7, textTokens: 7 }), /frames must be 4k \+ 1 .*got 7; nearest valid: 5 or 9/);
    assert.throws(() => wan.atSize({ heightPx: 36, widthPx: 48, frames: 5, textTokens: 7 }), /height must be a positive multiple of 16 pixels .*got 36; nearest valid: 32 or 48/);
    assert.throws(() => wan.atSize({ heightPx: 32, widthPx: 48, textTokens: 7 }), /makes video: give the number of frames/);
    const out = randomRows(2, 1, [4, 3, 4, 6]).data;
    assert.deepEqual(m.vaeLatent(out, 1).shape, [1, 4, 3, 4, 6]);
    await wan.release();
  });

  it("generate's negativeConditioning equals the model's own negative bit for bit, and a different one changes the samples", async () => {
    const negative = randomRows(9, 1, [7, 16]);
    const wan = await loadWan(path.join(fixtures, 'wan_diffusers_tiny_golden/transformer'), { threads: 1, latentShape: [4, 2, 4, 4], textTokens: 7, negativeTextEmbedding: negative });
    const base = { conditioning: { textEmbeddings: randomRows(5, 2, [7, 16]) }, seed: 2, steps: 4, sampler: 'flow-euler' as const, cfgScale: 5 };
    const own = await generate(wan, base);
    const broadcast = await generate(wan, { ...base, negativeConditioning: { textEmbeddings: negative } });
    assert.deepEqual(broadcast.samples, own.samples);
    const perSample = await generate(wan, { ...base, negativeConditioning: { textEmbeddings: { data: new Float32Array([...negative.data, ...negative.data]), shape: [7, 16] } } });
    assert.deepEqual(perSample.samples, own.samples);
    const other = await generate(wan, { ...base, negativeConditioning: { textEmbeddings: randomRows(11, 1, [7, 16]) } });
    assert.ok(other.samples.every(Number.isFinite));
    assert.notDeepEqual(other.samples, own.samples);
    await assert.rejects(generate(wan, { ...base, conditioning: { textEmbeddings: randomRows(5, 3, [7, 16]) }, negativeConditioning: base.conditioning }), /the negative conditioning has 2 rows; give one per sample \(3\) or one for all/);
    await wan.release();
  });
});
