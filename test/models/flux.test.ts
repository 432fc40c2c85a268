// FLUX.1 parity with diffusers' FluxTransformer2DModel (golden output and intermediate taps), the denoiser
// contract's segments against the whole forward, FluxPipeline's packing, and clear errors on bad inputs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toFloat32 } from '../../src/io/safetensors.js';
import type { Conditioning } from '../../src/models/denoiser.js';
import type { Tensor } from '../../src/models/tensor.js';
import { DEFAULT_FLUX_GEOMETRY, Flux, geometryForImage, loadFlux, packLatents, unpackLatents } from '../../src/models/flux/index.js';
import { imageIds, jointIds, ropeTables, textIds } from '../../src/models/flux/rope.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/flux_diffusers_tiny_golden');
const GEOMETRY = { imageGrid: [4, 4] as const, textTokens: 7 };

function golden(): Record<string, Tensor & { data: Float32Array }> {
  const { tensors } = readSafetensorsSync(path.join(fixture, 'golden.safetensors'));
  return Object.fromEntries([...tensors].map(([k, t]) => [k, { data: toFloat32(t), shape: t.shape }]));
}

/** max |ours − ref| / max |ref|: the parity measure of the brief. */
function relErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(ours.length, ref.length, 'sizes differ');
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(ours[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return d / m;
}

const g = golden();
const RAW_NAMES = ['hidden_states', 'encoder_hidden_states', 'pooled_projections', 'timestep', 'img_ids', 'txt_ids', 'guidance'];
const raw = (over: Record<string, Tensor | undefined> = {}): Record<string, Tensor> =>
  Object.fromEntries(Object.entries({ ...Object.fromEntries(RAW_NAMES.map((k) => [k, g[k]])), ...over }).filter(([, v]) => v !== undefined)) as Record<string, Tensor>;
/** Model time of the contract: σ·1000 in float32, as diffusers computes timestep · 1000. */
const tModel = Array.from(g.timestep.data, (s) => Math.fround(Math.fround(s) * 1000));
const cond: Conditioning = {
  textEmbeddings: { data: g.encoder_hidden_states.data, shape: [7, 32] },
  pooledText: { data: g.pooled_projections.data, shape: [32] },
  guidance: Array.from(g.guidance.data),
};

/** [B, T, D] tokens → the text or image part [B, L, D]. */
function part(tokens: Float32Array, B: number, T: number, D: number, from: number, to: number): Float32Array {
  const out = new Float32Array(B * (to - from) * D);
  for (let b = 0; b < B; b++) out.set(tokens.subarray((b * T + from) * D, (b * T + to) * D), b * (to - from) * D);
  return out;
}

describe('FLUX forwardRaw reproduces diffusers FluxTransformer2DModel (golden, relative max error ≤ 1e-4)', () => {
  it('the golden call: out [2, 16, 4]', async () => {
    const m = await loadFlux(path.join(fixture, 'transformer'), { threads: 1 });
    const out = await m.forwardRaw(raw());
    assert.deepEqual(out.shape, [2, 16, 4]);
    const err = relErr(out.data as Float32Array, g.out.data);
    assert.ok(err <= 1e-4, `relative max error ${err}`);
    await m.release();
  });

  it('ids with a batch axis ([B, L, 3], deprecated in diffusers: the first is used) and one timestep for all samples', async () => {
    const m = await loadFlux(path.join(fixture, 'transformer'), { threads: 1 });
    const batched = (t: Tensor): Tensor => ({ data: Float32Array.from([...t.data, ...t.data] as number[]), shape: [2, ...t.shape] });
    const a = await m.forwardRaw(raw());
    const b = await m.forwardRaw(raw({ img_ids: batched(g.img_ids), txt_ids: batched(g.txt_ids) }));
    assert.equal(relErr(b.data as Float32Array, a.data as Float32Array), 0);
    // timestep [1] broadcasts: sample 0's time for both rows equals a call with both set to it
    const one = await m.forwardRaw(raw({ timestep: { data: g.timestep.data.slice(0, 1), shape: [1] } }));
    const both = await m.forwardRaw(raw({ timestep: { data: Float32Array.of(g.timestep.data[0], g.timestep.data[0]), shape: [2] } }));
    assert.equal(relErr(one.data as Float32Array, both.data as Float32Array), 0);
    await m.release();
  });
});

describe('FLUX segments on the denoiser contract', () => {
  it('the default ids of the geometry are FluxPipeline\'s (the golden\'s), and the RoPE tables equal diffusers\' (≤ 1e-6)', () => {
    assert.deepEqual(Array.from(textIds(7)), Array.from(g.txt_ids.data));
    assert.deepEqual(Array.from(imageIds(4, 4)), Array.from(g.img_ids.data));
    const r = ropeTables(jointIds(g.txt_ids.data, g.img_ids.data), 23, [4, 4, 8], 10000);
    assert.ok(relErr(r.cos, g['tap.rope.cos'].data) <= 1e-6, 'cos');
    assert.ok(relErr(r.sin, g['tap.rope.sin'].data) <= 1e-6, 'sin');
  });

  it('embed, each block and head reproduce the intermediate taps (≤ 1e-4 relative)', async () => {
    const m = await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY });
    assert.equal(m.family, 'flux');
    assert.equal(m.objective, 'flow');
    assert.equal(m.depth, 2);
    assert.equal(m.tokens, 23);
    assert.deepEqual([...m.latentShape], [16, 4]);
    assert.deepEqual(m.outputShape(2), [2, 16, 4]);
    const e = await m.embed(g.hidden_states.data, [2, 16, 4], tModel, cond);
    const [B, T, D] = [2, 23, 32];
    const check = (name: string, ours: Float32Array) => {
      const err = relErr(ours, g[name].data);
      assert.ok(err <= 1e-4, `${name}: relative max error ${err}`);
    };
    check('tap.temb', e.cond);
    check('tap.context_embedder', part(e.tokens, B, T, D, 0, 7));
    check('tap.x_embedder', part(e.tokens, B, T, D, 7, T));
    const h1 = await m.blocks(0, 1, e.tokens, e.cond, B);
    check('tap.transformer_blocks.0.encoder_hidden_states', part(h1, B, T, D, 0, 7));
    check('tap.transformer_blocks.0.hidden_states', part(h1, B, T, D, 7, T));
    const h2 = await m.blocks(1, 2, h1, e.cond, B);
    check('tap.single_transformer_blocks.0.encoder_hidden_states', part(h2, B, T, D, 0, 7));
    check('tap.single_transformer_blocks.0.hidden_states', part(h2, B, T, D, 7, T));
    check('out', await m.head(h2, e.cond, B));
    await m.release();
  });

  it('chained segments, blocksSplit, conditionedHead and forward equal forwardRaw, one graph per block or all in one', async () => {
    const whole = await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY });
    // 1 byte per graph: every block compiles alone and forward chains embed → blocks → head
    const chained = await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY, maxGraphWeightBytes: 1 });
    const ref = (await whole.forwardRaw(raw())).data as Float32Array;
    for (const m of [whole, chained]) {
      const e = await m.embed(g.hidden_states.data, [2, 16, 4], tModel, cond);
      const [h1, h2] = await m.blocksSplit(0, [1, 2], e.tokens, e.cond, 2);
      assert.ok(relErr(h1, await m.blocks(0, 1, e.tokens, e.cond, 2)) <= 1e-6, 'blocksSplit after block 0');
      assert.ok(relErr(h2, await m.blocks(0, 2, e.tokens, e.cond, 2)) <= 1e-6, 'blocksSplit after block 1');
      assert.ok(relErr(await m.head(h2, e.cond, 2), ref) <= 1e-6, 'embed → blocks → head');
      assert.ok(relErr(await m.conditionedHead(h2, tModel, cond, 2), ref) <= 1e-6, 'conditionedHead');
      assert.ok(relErr(await m.forward(g.hidden_states.data, [2, 16, 4], tModel, cond), ref) <= 1e-6, 'forward');
    }
    assert.ok(relErr((await chained.forwardRaw(raw())).data as Float32Array, ref) <= 1e-6, 'forwardRaw chained');
    await whole.release();
    await chained.release();
  });

  it('embed can return block 0\'s modulated input from the same call, leaving tokens and cond unchanged', async () => {
    const m = await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY });
    const plain = await m.embed(g.hidden_states.data, [2, 16, 4], tModel, cond);
    const withMod = await m.embed(g.hidden_states.data, [2, 16, 4], tModel, cond, { withModulatedInput0: true });
    assert.equal(relErr(withMod.tokens, plain.tokens), 0);
    assert.equal(relErr(withMod.cond, plain.cond), 0);
    assert.equal(withMod.modulatedInput0!.length, 2 * 23 * 32);
    await m.release();
  });

  it('unconditional() is the conditioning itself (guidance-distilled: no CFG branch)', async () => {
    const m = await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY });
    assert.equal(m.unconditional(cond), cond);
    await m.release();
  });

  it('another geometry shares the weights; evicted geometries are released and recompiled on return', async () => {
    const m = await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY, maxCachedGeometries: 1 });
    const a = (await m.forwardRaw(raw())).data as Float32Array;
    const small = m.withGeometry({ imageGrid: [2, 3], textTokens: 5 });
    assert.deepEqual([...small.latentShape], [6, 4]);
    assert.equal(small.tokens, 11);
    const x = g.hidden_states.data.subarray(0, 6 * 4);
    const out = await small.forward(x, [1, 6, 4], [500], { textEmbeddings: { data: g.encoder_hidden_states.data.subarray(0, 5 * 32), shape: [5, 32] }, pooledText: { data: g.pooled_projections.data.subarray(0, 32), shape: [32] }, guidance: [4] });
    assert.equal(out.length, 6 * 4);
    assert.ok(out.every(Number.isFinite));
    assert.deepEqual(m.compiledGeometries, ['5+6']);
    assert.equal(relErr((await m.forwardRaw(raw())).data as Float32Array, a), 0);
    assert.deepEqual(m.compiledGeometries, ['7+16']);
    await m.release();
  });
});

describe('FluxPipeline packing', () => {
  it('packLatents(latents) is the golden hidden_states, unpackLatents(out) its out_unpacked', () => {
    const packed = packLatents(g.latents.data, g.latents.shape);
    assert.deepEqual(packed.shape, [2, 16, 4]);
    assert.deepEqual(Array.from(packed.data), Array.from(g.hidden_states.data));
    assert.deepEqual(Array.from(unpackLatents(g.out.data, [2, 1, 8, 8])), Array.from(g.out_unpacked.data));
    assert.throws(() => packLatents(new Float32Array(2 * 7 * 8), [2, 1, 7, 8]), /H and W must be even/);
  });

  it('an image of H × W pixels is an (H/16) × (W/16) token grid; the default is FluxPipeline\'s 1024² with 512 text tokens', () => {
    assert.deepEqual(geometryForImage(1024, 768, 512), { imageGrid: [64, 48], textTokens: 512 });
    assert.deepEqual(geometryForImage(1024, 1024, 512), DEFAULT_FLUX_GEOMETRY);
    assert.throws(() => geometryForImage(1000, 768, 512), /height must be a positive multiple of 16 pixels/);
  });
});

describe('FLUX rejects bad inputs with messages naming the input, expected and actual', () => {
  let model: Flux | undefined;
  const m = async (): Promise<Flux> => (model ??= await loadFlux(path.join(fixture, 'transformer'), { threads: 1, geometry: GEOMETRY }));

  it('forwardRaw: missing guidance on a guidance-embedding model, unknown names, wrong shapes and ids', async () => {
    const f = await m();
    await assert.rejects(() => f.forwardRaw(raw({ guidance: undefined })), /missing guidance \(this model embeds the guidance scale: guidance_embeds is true/);
    await assert.rejects(() => f.forwardRaw(raw({ sample: g.out })), /unknown input\(s\) sample/);
    await assert.rejects(() => f.forwardRaw(raw({ hidden_states: { data: new Float32Array(2 * 16 * 8), shape: [2, 16, 8] } })), /hidden_states must be packed latents \[B, L_img, 4\], got \[2, 16, 8\]/);
    await assert.rejects(() => f.forwardRaw(raw({ img_ids: { data: new Float32Array(15 * 3), shape: [15, 3] } })), /img_ids must be \[16, 3\] \(or \[B, 16, 3\]\), got \[15, 3\]/);
    await assert.rejects(() => f.forwardRaw(raw({ pooled_projections: { data: new Float32Array(2 * 16), shape: [2, 16] } })), /pooled_projections must be \[2, 32\], got \[2, 16\]/);
    await assert.rejects(() => f.forwardRaw(raw({ timestep: { data: new Float32Array(3), shape: [3] } })), /timestep must hold 1 or B = 2 values, got shape \[3\]/);
  });

  it('segments: latents of another geometry, conditioning without text or guidance, class labels, bad block ranges', async () => {
    const f = await m();
    await assert.rejects(() => f.embed(new Float32Array(2 * 9 * 4), [2, 9, 4], tModel, cond), /latents must be packed \[B, 16, 4\].*got \[2, 9, 4\]/);
    await assert.rejects(() => f.embed(g.hidden_states.data, [2, 16, 4], tModel, { ...cond, textEmbeddings: undefined }), /needs textEmbeddings \(per row \[7, 32\]\)/);
    await assert.rejects(() => f.embed(g.hidden_states.data, [2, 16, 4], tModel, { ...cond, guidance: undefined }), /needs guidance, one finite value per row \(2\)/);
    await assert.rejects(() => f.forward(g.hidden_states.data, [2, 16, 4], tModel, { ...cond, classLabels: [1, 2] }), /text-conditioned.*not classLabels/);
    await assert.rejects(() => f.embed(g.hidden_states.data, [2, 16, 4], tModel, { ...cond, textEmbeddings: { data: g.encoder_hidden_states.data, shape: [14, 16] } }), /textEmbeddings rows must be \[7, 32\], got \[14, 16\]/);
    const e = await f.embed(g.hidden_states.data, [2, 16, 4], tModel, cond);
    await assert.rejects(() => f.blocks(1, 3, e.tokens, e.cond, 2), /block range \[1, 3\) .* inside \[0, 2\)/);
    await assert.rejects(() => f.blocks(0, 1, e.tokens.subarray(32), e.cond, 2), /tokens must be \[2, 23, 32\]/);
    await f.release();
  });
});
