// Wan2.1 parity with diffusers' WanTransformer3DModel (golden output and intermediate taps), the segments
// chained equal to the whole network, the negative-prompt branch, and clear errors on bad inputs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toFloat32 } from '../../src/io/safetensors.js';
import { ModelInputError, type Conditioning } from '../../src/models/denoiser.js';
import { Wan, condLayout, loadWan } from '../../src/models/wan/index.js';
import { ropeTables } from '../../src/models/wan/rope.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/wan_diffusers_tiny_golden');

/** The fixture's call: B = 2, latent [4, 3, 8, 8], 7 text tokens of width 16 (README.md). */
const B = 2;
const LATENT = [4, 3, 8, 8];
const TEXT = [7, 16];

function golden() {
  const { tensors } = readSafetensorsSync(path.join(fixture, 'golden.safetensors'));
  return (k: string): Float32Array => {
    const t = tensors.get(k);
    if (!t) throw new Error(`golden.safetensors has no ${k}`);
    return toFloat32(t);
  };
}

/** max|ours − ref| / max|ref|: the parity measure of the brief (1e-4 allowed). */
function relMaxError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(ours.length, ref.length, 'length');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

function load(opts: Parameters<typeof loadWan>[1] = {}): Promise<Wan> {
  return loadWan(path.join(fixture, 'transformer'), { threads: 1, latentShape: LATENT, textTokens: TEXT[0], ...opts });
}

function conditioning(g: (k: string) => Float32Array): Conditioning {
  return { textEmbeddings: { data: g('encoder_hidden_states'), shape: TEXT } };
}

describe('Wan forwardRaw reproduces diffusers WanTransformer3DModel (golden.safetensors)', () => {
  const g = golden();

  it('out within 1e-4 relative max error (loaded as loadDenoiser will: threads only)', async (t) => {
    const m = await loadWan(path.join(fixture, 'transformer'), { threads: 1 });
    // the segment API's default size: WanPipeline's [21, 60, 104], cols cut to the RoPE table (32 × patch 2)
    assert.deepEqual([...m.latentShape], [4, 21, 60, 64]);
    assert.equal(m.condSize, 7 * 24 + 512 * 24);
    const r = await m.forwardRaw({
      hidden_states: { data: g('hidden_states'), shape: [B, ...LATENT] },
      timestep: { data: g('timestep'), shape: [B] },
      encoder_hidden_states: { data: g('encoder_hidden_states'), shape: [B, ...TEXT] },
    });
    assert.deepEqual(r.shape, [B, ...LATENT]);
    const err = relMaxError(r.data as Float32Array, g('out'));
    t.diagnostic(`relative max error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-4, `relative max error ${err}`);
    await m.release();
  });

  it('one int64 timestep broadcasts to every row; forwardRaw at the segment size equals forward', async () => {
    const m = await load();
    // one int64 timestep for both rows = the same value repeated
    const t0 = g('timestep')[0];
    const one = await m.forwardRaw({
      hidden_states: { data: g('hidden_states'), shape: [B, ...LATENT] },
      timestep: { data: BigInt64Array.from([BigInt(t0)]), shape: [] },
      encoder_hidden_states: { data: g('encoder_hidden_states'), shape: [B, ...TEXT] },
    });
    const direct = await m.forward(g('hidden_states'), [B, ...LATENT], [t0, t0], conditioning(g));
    assert.deepEqual(one.data, direct);
    await m.release();
  });

  it('the intermediate taps: RoPE tables, patch embedding, temb, timestep_proj, text context, each block', async () => {
    const m = await load();
    // RoPE: ours hold one value per channel pair; diffusers' repeat each (cos at even, sin at odd channels alike)
    const rope = ropeTables(m.config, { frames: 3, rows: 4, cols: 4 });
    assert.equal(relMaxError(rope.cos, g('tap.rope.cos').filter((_, i) => i % 2 === 0)), 0);
    assert.equal(relMaxError(rope.sin, g('tap.rope.sin').filter((_, i) => i % 2 === 1)), 0);

    const e = await m.embed(g('hidden_states'), [B, ...LATENT], Array.from(g('timestep')), conditioning(g));
    // patch embedding tap is the Conv3d output [B, D, f, h, w]; tokens are its (f, h, w) positions × D
    const D = m.hiddenSize;
    const conv = g('tap.patch_embedding');
    const tokens = new Float32Array(conv.length);
    for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let t = 0; t < m.tokens; t++) tokens[(b * m.tokens + t) * D + d] = conv[(b * D + d) * m.tokens + t];
    assert.ok(relMaxError(e.tokens, tokens) < 1e-6, 'patch embedding');
    // the cond row is temb ‖ timestep_proj ‖ projected text (CondLayout)
    const layout = condLayout(m.config, m.geometry);
    const part = ([at, width]: readonly [number, number]) => {
      const out = new Float32Array(B * width);
      for (let b = 0; b < B; b++) out.set(e.cond.subarray(b * layout.size + at, b * layout.size + at + width), b * width);
      return out;
    };
    assert.ok(relMaxError(part(layout.temb), g('tap.condition_embedder.temb')) < 1e-5, 'temb');
    assert.ok(relMaxError(part(layout.timestepProj), g('tap.condition_embedder.timestep_proj')) < 1e-5, 'timestep_proj');
    assert.ok(relMaxError(part(layout.text), g('tap.condition_embedder.encoder_hidden_states')) < 1e-6, 'text context');
    const b0 = await m.blocks(0, 1, e.tokens, e.cond, B);
    assert.ok(relMaxError(b0, g('tap.blocks.0')) < 1e-5, 'block 0');
    assert.ok(relMaxError(await m.blocks(1, 2, b0, e.cond, B), g('tap.blocks.1')) < 1e-5, 'block 1');
    await m.release();
  });
});

describe('Wan segments (the caching contract)', () => {
  const g = golden();
  const x = g('hidden_states');
  const t = Array.from(g('timestep'));
  const shape = [B, ...LATENT];

  it('embed → each block → head equals forwardRaw; blocksSplit, conditionedHead and chunked graphs agree', async () => {
    const m = await load();
    const whole = await m.forward(x, shape, t, conditioning(g));
    const e = await m.embed(x, shape, t, conditioning(g), { withModulatedInput0: true });
    let h = e.tokens;
    const each: Float32Array[] = [];
    for (let i = 0; i < m.depth; i++) each.push((h = await m.blocks(i, i + 1, h, e.cond, B)));
    const chained = await m.head(h, e.cond, B);
    assert.ok(relMaxError(chained, whole) < 1e-6, `chained segments vs whole: ${relMaxError(chained, whole)}`);
    assert.ok(relMaxError(chained, g('out')) <= 1e-4);

    const split = await m.blocksSplit(0, [1, 2], e.tokens, e.cond, B);
    split.forEach((s, k) => assert.ok(relMaxError(s, each[k]) < 1e-6, `blocksSplit output ${k}`));
    assert.ok(relMaxError(await m.conditionedHead(h, t, conditioning(g), B), chained) < 1e-6, 'conditionedHead');

    // block 0's modulated input (TeaCache's signal): LayerNorm(tokens)·(1 + scale) + shift with
    // (shift, scale) = block 0's scale_shift_table rows 0, 1 + timestep_proj chunks 0, 1, on the host
    const D = m.hiddenSize;
    const table = m.weights.get('blocks.0.scale_shift_table')!;
    const layout = condLayout(m.config, m.geometry);
    const expected = new Float32Array(e.tokens.length);
    for (let b = 0; b < B; b++) {
      const proj = e.cond.subarray(b * layout.size + layout.timestepProj[0]);
      for (let tok = 0; tok < m.tokens; tok++) {
        const row = e.tokens.subarray((b * m.tokens + tok) * D, (b * m.tokens + tok + 1) * D);
        const mean = row.reduce((a, v) => a + v, 0) / D;
        const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
        for (let d = 0; d < D; d++) {
          const shift = table[d] + proj[d];
          const scale = table[D + d] + proj[D + d];
          expected[(b * m.tokens + tok) * D + d] = ((row[d] - mean) / Math.sqrt(variance + 1e-6)) * (1 + scale) + shift;
        }
      }
    }
    assert.ok(relMaxError(e.modulatedInput0!, expected) < 1e-5, `modulatedInput0: ${relMaxError(e.modulatedInput0!, expected)}`);

    // one block per graph (weights over the limit) gives the same numbers as the single full graph
    const chunked = await load({ maxGraphWeightBytes: 1 });
    const viaChunks = await chunked.forward(x, shape, t, conditioning(g));
    assert.ok(relMaxError(viaChunks, whole) < 1e-6, `chunked vs full: ${relMaxError(viaChunks, whole)}`);
    await chunked.release();
    await m.release();
  });

  it('rows are independent: each row of a batch equals that row computed alone', async () => {
    const m = await load();
    const both = await m.forward(x, shape, t, conditioning(g));
    const n = LATENT.reduce((a, b) => a * b, 1);
    const textRow = TEXT[0] * TEXT[1];
    for (let r = 0; r < B; r++) {
      const alone = await m.forward(x.slice(r * n, (r + 1) * n), [1, ...LATENT], [t[r]], { textEmbeddings: { data: g('encoder_hidden_states').slice(r * textRow, (r + 1) * textRow), shape: TEXT } });
      assert.ok(relMaxError(alone, both.subarray(r * n, (r + 1) * n)) < 1e-6, `row ${r}`);
    }
    await m.release();
  });

  it('reports the contract fields: flow objective, [C, F, H, W] latent, cond = 7·D + L·D', async () => {
    const m = await load();
    assert.equal(m.family, 'wan');
    assert.equal(m.objective, 'flow');
    assert.deepEqual([...m.latentShape], LATENT);
    assert.deepEqual(m.outputShape(3), [3, ...LATENT]);
    assert.equal(m.tokens, 3 * 4 * 4);
    assert.equal(m.hiddenSize, 24);
    assert.equal(m.condSize, 7 * 24 + 7 * 24);
    assert.equal(m.depth, 2);
    assert.equal(m.outputChannels, 4);
    assert.equal(m.learnedVariance, false);
    await m.release();
  });
});

describe('Wan unconditional branch: the negative-prompt embedding must be supplied', () => {
  const g = golden();
  const negative = new Float32Array(TEXT[0] * TEXT[1]).map((_, i) => Math.sin(i));

  it('refuses without one, naming how to give it', async () => {
    const m = await load();
    assert.throws(() => m.unconditional(conditioning(g)), (e: Error) => e instanceof ModelInputError && /negative prompt/.test(e.message) && /setNegativeTextEmbedding/.test(e.message));
    await m.release();
  });

  it('gives every row the negative embedding (load option or setter), and checks its shape', async () => {
    const m = await load({ negativeTextEmbedding: { data: negative, shape: TEXT } });
    const u = m.unconditional(conditioning(g));
    assert.deepEqual(u.textEmbeddings!.shape, TEXT);
    assert.deepEqual(u.textEmbeddings!.data, Float32Array.from([...negative, ...negative]));
    const other = negative.map((v) => -v);
    m.setNegativeTextEmbedding({ data: other, shape: TEXT });
    assert.deepEqual(m.unconditional(conditioning(g)).textEmbeddings!.data.subarray(0, other.length), other);
    assert.throws(() => m.setNegativeTextEmbedding({ data: negative.subarray(16), shape: [6, 16] }), /must be one row of \[7, 16\]/);
    await m.release();
  });
});

describe('Wan refuses bad inputs with clear errors', () => {
  const g = golden();
  const x = g('hidden_states');
  const t = Array.from(g('timestep'));

  it('segment API: latent shape, text shape, row counts, timesteps', async () => {
    const m = await load();
    await assert.rejects(() => m.forward(x, [B, 4, 3, 4, 16], t, conditioning(g)), /x must be \[B, 4, 3, 8, 8\], got \[2, 4, 3, 4, 16\]/);
    await assert.rejects(() => m.forward(x, [B, ...LATENT], t, { textEmbeddings: { data: g('encoder_hidden_states'), shape: [14, 8] } }), /textEmbeddings rows must be \[7, 16\]/);
    await assert.rejects(() => m.forward(x, [B, ...LATENT], t, { classLabels: [1, 2] }), /text-conditioned: the conditioning needs textEmbeddings/);
    await assert.rejects(() => m.forward(x, [B, ...LATENT], [t[0]], conditioning(g)), /one timestep per row \(B = 2\), got 1/);
    await assert.rejects(() => m.forward(x, [B, ...LATENT], [t[0], NaN], conditioning(g)), /timestep NaN is not finite/);
    await assert.rejects(() => m.blocks(1, 3, new Float32Array(1), new Float32Array(1), 1), /block range \[1, 3\) is not inside \[0, 2\)/);
    await assert.rejects(() => m.head(new Float32Array(10), new Float32Array(m.condSize), 1), /tokens must be \[1, 48, 24\] and cond \[1, 336\]/);
    await m.release();
  });

  it('forwardRaw: names, dtypes, shapes, sizes the patch cannot tile, the RoPE table length', async () => {
    const m = await load();
    const ok = {
      hidden_states: { data: x, shape: [B, ...LATENT] },
      timestep: { data: g('timestep'), shape: [B] },
      encoder_hidden_states: { data: g('encoder_hidden_states'), shape: [B, ...TEXT] },
    };
    await assert.rejects(() => m.forwardRaw({ ...ok, class_labels: { data: BigInt64Array.from([1n, 2n]), shape: [2] } }), /unknown input\(s\) class_labels/);
    await assert.rejects(() => m.forwardRaw({ ...ok, encoder_hidden_states_image: { data: new Float32Array(2), shape: [2, 1] } }), /image-to-video/);
    await assert.rejects(() => m.forwardRaw({ hidden_states: ok.hidden_states, timestep: ok.timestep }), /needs hidden_states, timestep and encoder_hidden_states/);
    await assert.rejects(() => m.forwardRaw({ ...ok, encoder_hidden_states: { data: g('encoder_hidden_states'), shape: [B, 14, 8] } }), /encoder_hidden_states must be float32 \[2, tokens, 16\]/);
    await assert.rejects(() => m.forwardRaw({ ...ok, timestep: { data: new Float32Array(B * 48), shape: [B, 48] } }), /per-token timesteps are Wan2\.2 TI2V's/);
    await assert.rejects(() => m.forwardRaw({ ...ok, hidden_states: { data: new Float32Array(B * 4 * 3 * 7 * 8), shape: [B, 4, 3, 7, 8] } }), /latent height 7 must be a positive multiple of the patch size 2/);
    // rope_max_seq_len 32: 33 frames after patching have no RoPE position
    await assert.rejects(() => m.forwardRaw({ ...ok, hidden_states: { data: new Float32Array(B * 4 * 33 * 2 * 2), shape: [B, 4, 33, 2, 2] } }), /33 frames after patching exceed the model's RoPE table \(rope_max_seq_len 32\)/);
    await m.release();
  });

  it('a latentShape the model cannot take is refused when the model is made', async () => {
    await assert.rejects(() => load({ latentShape: [16, 3, 8, 8] }), /latentShape must be \[4, frames, height, width\]/);
    await assert.rejects(() => load({ latentShape: [4, 3, 9, 8] }), /latent height 9 must be a positive multiple of the patch size 2/);
  });
});
