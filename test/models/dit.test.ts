// DiT parity with the reference PyTorch implementation (golden output) through every checkpoint
// format and through both the full graph and the chained segments; diffusers convention checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toFloat32, toInt64Numbers } from '../../src/io/safetensors.js';
import { loadDiT, readDiTWeights } from '../../src/models/dit/load.js';
import { positionEmbedding2d } from '../../src/models/dit/dit-graph.js';
import { DiT } from '../../src/models/dit/dit.js';
import { configFromDiffusersJson, namedConfig } from '../../src/models/dit/dit-config.js';
import { randomDiTWeights } from '../../src/models/dit/random-weights.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const orig = path.join(here, '../fixtures/dit_original_tiny');
const diff = path.join(here, '../fixtures/dit_diffusers_tiny');

function golden() {
  const { tensors } = readSafetensorsSync(path.join(orig, 'golden.safetensors'));
  const f = (k: string) => toFloat32(tensors.get(k)!);
  return { x: f('x'), t: Array.from(f('t')), y: toInt64Numbers(tensors.get('y')!), out: f('out') };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function segmentsForward(m: DiT, x: Float32Array, shape: number[], t: number[], y: number[]): Promise<Float32Array> {
  const e = await m.embed(x, shape, t, y);
  let h = e.tokens;
  for (let i = 0; i < m.depth; i++) h = await m.block(i, h, e.cond, shape[0]);
  return m.head(h, e.cond, shape[0]);
}

describe('DiT forward reproduces the reference PyTorch golden output (max abs ≤ 1e-5)', () => {
  const g = golden();
  const shape = [2, 4, 8, 8];
  for (const file of ['model.safetensors', 'model.pt', 'model_legacy.pt']) {
    it(`${file}: full graph and chained segments`, async () => {
      const m = await loadDiT(path.join(orig, file), { threads: 1 });
      const full = await m.forward(g.x, shape, g.t, g.y);
      assert.ok(maxAbsDiff(full, g.out) <= 1e-5, `full: max abs error ${maxAbsDiff(full, g.out)}`);
      const seg = await segmentsForward(m, g.x, shape, g.t, g.y);
      assert.ok(maxAbsDiff(seg, g.out) <= 1e-5, `segments: max abs error ${maxAbsDiff(seg, g.out)}`);
      await m.release();
    });
  }

  it('the computed 2-D sin-cos position embedding equals the stored one', async () => {
    const { weights } = await readDiTWeights(path.join(orig, 'model.safetensors'));
    const stored = weights.get('pos_embed')!;
    assert.ok(maxAbsDiff(positionEmbedding2d(8, 4), stored) < 1e-6);
  });
});

describe('diffusers DiTTransformer2DModel folder', () => {
  it('loads to the same weights as the original checkpoint', async () => {
    const a = await readDiTWeights(path.join(orig, 'model.safetensors'));
    const b = await readDiTWeights(diff);
    assert.equal(b.format, 'diffusers');
    assert.equal(b.config.timestepConvention, 'diffusers');
    for (const [k, v] of a.weights) assert.ok(maxAbsDiff(v, b.weights.get(k)!) < 1e-6, `weight ${k} differs`);
  });

  it('a .bin state dict (torch.save of the same folder, read by the restricted unpickler) loads to the same weights', async () => {
    const a = await readDiTWeights(diff);
    const b = await readDiTWeights(path.join(here, '../fixtures/dit_diffusers_tiny_bin'));
    assert.equal(b.format, 'diffusers');
    assert.equal(a.weights.size, b.weights.size);
    for (const [k, v] of a.weights) assert.equal(maxAbsDiff(v, b.weights.get(k)!), 0, `weight ${k} differs`);
  });

  it("accepts the older Transformer2DModel class only as a DiT (ada_norm_zero, no cross-attention)", () => {
    const base = JSON.parse(fs.readFileSync(path.join(diff, 'transformer/config.json'), 'utf8'));
    const older = { ...base, _class_name: 'Transformer2DModel', cross_attention_dim: null, num_vector_embeds: null };
    assert.equal(configFromDiffusersJson(older, 'config.json').depth, 1);
    assert.throws(() => configFromDiffusersJson({ ...older, norm_type: 'layer_norm' }, 'config.json'), /a Transformer2DModel is a DiT only with norm_type "ada_norm_zero" \(got "layer_norm"\)/);
    assert.throws(() => configFromDiffusersJson({ ...older, cross_attention_dim: 768 }, 'config.json'), /cross_attention_dim = 768 is not supported/);
    assert.throws(() => configFromDiffusersJson({ ...older, activation_fn: 'geglu' }, 'config.json'), /activation_fn = "geglu" is not supported/);
  });

  it('follows diffusers conventions: equal at t = 0 (where the frequency shift cannot matter), different at t = 500', async () => {
    const g = golden();
    const shape = [2, 4, 8, 8];
    const a = await readDiTWeights(path.join(orig, 'model.safetensors'));
    const d = await loadDiT(diff, { threads: 1 });
    // the original model with diffusers' MLP-norm eps differs from the diffusers one only in the timestep embedding
    const o = new DiT({ ...a.config, mlpNormEps: d.config.mlpNormEps }, a.weights, { threads: 1 });
    const zero = [0, 0];
    assert.ok(maxAbsDiff(await d.forward(g.x, shape, zero, g.y), await o.forward(g.x, shape, zero, g.y)) < 1e-6);
    const at500 = maxAbsDiff(await d.forward(g.x, shape, [500, 500], g.y), await o.forward(g.x, shape, [500, 500], g.y));
    assert.ok(at500 > 1e-4, `outputs at t=500 should differ through downscale_freq_shift=1 (max diff ${at500})`);
  });
});

describe('bad checkpoints and inputs give clear errors', () => {
  it('a config that does not match lists every problem', async () => {
    const a = await readDiTWeights(path.join(orig, 'model.safetensors'));
    await assert.rejects(
      () => loadDiT(path.join(orig, 'model.safetensors'), { config: { ...a.config, hiddenSize: 16 } }),
      (e: Error) => /expected \[16, 4, 2, 2\], found \[8, 4, 2, 2\]/.test(e.message) && /model\.safetensors/.test(e.message),
    );
  });
  it('a missing path names the path', async () => {
    await assert.rejects(() => loadDiT('/nonexistent/model.safetensors'), /nonexistent.*does not exist/);
  });
  it('out-of-range labels and wrong shapes are refused', async () => {
    const m = await loadDiT(orig, { threads: 1 });
    const x = new Float32Array(4 * 64);
    await assert.rejects(() => m.forward(x, [1, 4, 8, 8], [1], [9]), /class label 9 out of range \[0, 8\]/);
    await assert.rejects(() => m.forward(x, [1, 4, 4, 16], [1], [1]), /x must be \[B, 4, 8, 8\]/);
  });
});

describe('segment extras', () => {
  it("embed's optional block-0 modulated input equals the standalone modulatedInput segment", async () => {
    const g = golden();
    const m = await loadDiT(orig, { threads: 1 });
    const plain = await m.embed(g.x, [2, 4, 8, 8], g.t, g.y);
    const withMod = await m.embed(g.x, [2, 4, 8, 8], g.t, g.y, { withModulatedInput0: true });
    assert.deepEqual(withMod.tokens, plain.tokens);
    const separate = await m.modulatedInput(0, plain.tokens, plain.cond, 2);
    assert.ok(maxAbsDiff(withMod.modulatedInput0!, separate) < 1e-6);
    await m.release();
  });

  it('blocksSplit returns the hidden states after the requested blocks only, equal to chaining blocks', async () => {
    const config = { ...namedConfig('mnist-dit-tiny'), depth: 4 };
    const m = new DiT(config, randomDiTWeights(config, 3), { threads: 1 });
    const x = Float32Array.from({ length: 2 * 28 * 28 }, (_, i) => Math.sin(i));
    const e = await m.embed(x, [2, 1, 28, 28], [500, 20], [3, 10]);
    const split = await m.blocksSplit(1, [3, 4], e.tokens, e.cond, 2);
    assert.equal(split.length, 2);
    let h = e.tokens;
    for (let i = 1; i < 4; i++) h = await m.block(i, h, e.cond, 2);
    assert.ok(maxAbsDiff(split[1], h) < 1e-6);
    const two = await m.blocks(1, 3, e.tokens, e.cond, 2);
    assert.ok(maxAbsDiff(split[0], two) < 1e-6);
    await m.release();
  });

  it('blocksEach returns every block output of one call, equal to chaining single blocks; then the golden head', async () => {
    const g = golden();
    const m = await loadDiT(orig, { threads: 1 });
    const e = await m.embed(g.x, [2, 4, 8, 8], g.t, g.y);
    const each = await m.blocksEach(0, m.depth, e.tokens, e.cond, 2);
    assert.equal(each.length, m.depth);
    let h = e.tokens;
    for (let i = 0; i < m.depth; i++) {
      h = await m.block(i, h, e.cond, 2);
      assert.ok(maxAbsDiff(each[i], h) < 1e-6, `block ${i}: ${maxAbsDiff(each[i], h)}`);
    }
    assert.ok(maxAbsDiff(await m.head(each[m.depth - 1], e.cond, 2), g.out) <= 1e-5);
    await assert.rejects(() => m.blocksEach(1, 1, e.tokens, e.cond, 2), /block range \[1, 1\)/);
    await assert.rejects(() => m.blocksSplit(0, [1, 1], e.tokens, e.cond, 2), /not an increasing split/);
    await m.release();
  });
});
