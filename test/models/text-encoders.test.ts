// Text encoders built with the engine: parity with transformers' goldens (CLIP text model, T5 and umT5 encoders,
// every layer's output and the pooled index / relative buckets as taps), the relative buckets against PyTorch's
// over ±600 positions, other configs of the same classes against a float64 reference, BF16 / sharded / aliased
// weight files, streamed vs resident weights, and the errors for folders that do not fit.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toBigInt64Array, toFloat32, toInt64Numbers, writeSafetensorsSync, type StWritableTensor } from '../../src/io/safetensors.js';
import { loadTextEncoder, clipPooledIndex, relativePositionBucket, relativePositionBuckets, wanCutAndPad } from '../../src/models/text/index.js';
import { clipParameterShapes } from '../../src/models/text/clip.js';
import { t5ParameterShapes } from '../../src/models/text/t5.js';
import { textEncoderConfigFromJson, type ClipTextConfig, type T5EncoderConfig } from '../../src/models/text/config.js';
import type { Tensor } from '../../src/models/tensor.js';
import { seededRandom } from '../support/prng.js';
import { clipReference, t5Reference } from './text-reference.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'text-encoders-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** max |a − b| / max |b|: the relative max error the fixtures' READMEs give their tolerance in. */
function relMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

function golden(name: string): Map<string, { tensor: import('../../src/io/safetensors.js').StTensor }> {
  const { tensors } = readSafetensorsSync(path.join(fixtures, name, 'golden.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, { tensor: t }]));
}

function int64Tensor(g: ReturnType<typeof golden>, key: string): Tensor {
  const t = g.get(key)!.tensor;
  return { data: toBigInt64Array(t), shape: t.shape };
}

const f32 = (g: ReturnType<typeof golden>, key: string): Float32Array => toFloat32(g.get(key)!.tensor);

const TOLERANCE = 1e-4;

describe('text encoders: parity with transformers 5.18 goldens', () => {
  it('CLIP text model (clip_text_tiny): last_hidden_state, pooler_output, every layer, the pooled index', async () => {
    const g = golden('clip_text_tiny');
    const enc = await loadTextEncoder(path.join(fixtures, 'clip_text_tiny/text_encoder'), { threads: 1 });
    assert.equal(enc.kind, 'clip');
    const ids = int64Tensor(g, 'input_ids');
    const layers: Float32Array[] = [];
    const o = await enc.forwardRaw({ input_ids: ids }, { onLayer: (_, h) => layers.push(Float32Array.from(h)) });
    assert.deepEqual(o.last_hidden_state.shape, [2, 77, 32]);
    assert.deepEqual(o.pooler_output!.shape, [2, 32]);
    const errs = {
      last: relMaxError(o.last_hidden_state.data as Float32Array, f32(g, 'last_hidden_state')),
      pooled: relMaxError(o.pooler_output!.data as Float32Array, f32(g, 'pooler_output')),
      layers: layers.map((h, i) => relMaxError(h, f32(g, `tap.encoder.layers.${i}`))),
    };
    assert.ok(errs.last < TOLERANCE && errs.pooled < TOLERANCE && errs.layers.every((e) => e < TOLERANCE), JSON.stringify(errs));
    // eos_token_id 2: the legacy rule, argmax(input_ids) — its first occurrence, padding being EOS too
    assert.deepEqual(clipPooledIndex(Array.from(ids.data as BigInt64Array, Number), 2, 77, 2), toInt64Numbers(g.get('tap.pooled_index')!.tensor));
    await enc.release();
  });

  it('T5 encoder (t5_encoder_tiny): last_hidden_state, every block, the bucket table, no mask as FLUX calls it', async () => {
    const g = golden('t5_encoder_tiny');
    const enc = await loadTextEncoder(path.join(fixtures, 't5_encoder_tiny/text_encoder'), { threads: 1 });
    assert.equal(enc.kind, 't5');
    const layers: Float32Array[] = [];
    const o = await enc.forwardRaw({ input_ids: int64Tensor(g, 'input_ids') }, { onLayer: (_, h) => layers.push(Float32Array.from(h)) });
    assert.equal(o.pooler_output, undefined);
    const errs = [relMaxError(o.last_hidden_state.data as Float32Array, f32(g, 'last_hidden_state')), ...layers.map((h, i) => relMaxError(h, f32(g, `tap.encoder.block.${i}`)))];
    assert.ok(errs.every((e) => e < TOLERANCE), JSON.stringify(errs));
    assert.deepEqual(Array.from(relativePositionBuckets(24, 32, 128), Number), toInt64Numbers(g.get('tap.relative_position_bucket')!.tensor));
    await enc.release();
  });

  it('umT5 encoder (umt5_encoder_tiny): with the attention mask, per-block biases, and WanPipeline\'s cut-and-pad', async () => {
    const g = golden('umt5_encoder_tiny');
    const enc = await loadTextEncoder(path.join(fixtures, 'umt5_encoder_tiny/text_encoder'), { threads: 1 });
    assert.equal(enc.kind, 'umt5');
    const mask = int64Tensor(g, 'attention_mask');
    const layers: Float32Array[] = [];
    const o = await enc.forwardRaw({ input_ids: int64Tensor(g, 'input_ids'), attention_mask: mask }, { onLayer: (_, h) => layers.push(Float32Array.from(h)) });
    const last = o.last_hidden_state.data as Float32Array;
    const errs = [relMaxError(last, f32(g, 'last_hidden_state')), ...layers.map((h, i) => relMaxError(h, f32(g, `tap.encoder.block.${i}`)))];
    assert.ok(errs.every((e) => e < TOLERANCE), JSON.stringify(errs));
    // seq_lens = mask.sum(1); rows cut there and zero-filled back to L
    const m = Array.from(mask.data as BigInt64Array, Number);
    const lens = [0, 1].map((b) => m.slice(b * 24, (b + 1) * 24).reduce((a, x) => a + x, 0));
    assert.deepEqual(lens, [8, 17]);
    const kept = lens.map((n, b) => ({ data: last.slice(b * 24 * 32, (b * 24 + n) * 32), shape: [n, 32] }));
    const embeds = wanCutAndPad(kept, 24, 32).data as Float32Array;
    assert.ok(relMaxError(embeds, f32(g, 'prompt_embeds')) < TOLERANCE);
    assert.ok(embeds.subarray(8 * 32, 24 * 32).every((v) => v === 0), 'rows past the first prompt\'s length are zero');
    // without the mask the padding would be attended: a different result
    const unmasked = await enc.forwardRaw({ input_ids: int64Tensor(g, 'input_ids') });
    assert.ok(relMaxError(unmasked.last_hidden_state.data as Float32Array, f32(g, 'last_hidden_state')) > 1e-2);
    await enc.release();
  });
});

describe('relative position buckets', () => {
  it('equal PyTorch\'s for r = −600 … 600 under six (num_buckets, max_distance) settings, float32 boundaries included', () => {
    const ref = JSON.parse(fs.readFileSync(path.join(fixtures, 't5_relative_buckets/buckets.json'), 'utf8')) as { first: number; buckets: Record<string, number[]> };
    for (const [setting, table] of Object.entries(ref.buckets)) {
      const [nb, md] = setting.split(',').map(Number);
      const ours = table.map((_, i) => relativePositionBucket(ref.first + i, nb, md));
      assert.deepEqual(ours, table, `buckets ${setting}`);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Folders written here: other configs (random weights), BF16, shards, aliases

function bf16Bits(a: Float32Array): Uint16Array {
  const bits = new Uint32Array(Float32Array.from(a).buffer);
  return Uint16Array.from(bits, (u) => (u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
}
const fromBf16 = (b: Uint16Array): Float32Array => new Float32Array(Uint32Array.from(b, (h) => h << 16).buffer);

/** float32 → float16 bits, truncating the mantissa (normal range; tiny values flush to zero): any finite half will do here. */
function f16Bits(a: Float32Array): Uint16Array {
  const bits = new Uint32Array(Float32Array.from(a).buffer);
  return Uint16Array.from(bits, (u) => {
    const sign = (u >>> 16) & 0x8000;
    const exp = ((u >>> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return sign;
    return sign | (Math.min(exp, 30) << 10) | ((u >>> 13) & 0x3ff);
  });
}

function writeFolder(dir: string, config: object, tensors: Map<string, Float32Array>, shapes: ReadonlyMap<string, number[]>, opts: { dtype?: 'F32' | 'BF16'; shards?: number; extra?: Record<string, StWritableTensor> } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const entries = [...tensors].map(([k, data]): [string, StWritableTensor] => [k, { dtype: opts.dtype ?? 'F32', shape: shapes.get(k)!, data: opts.dtype === 'BF16' ? bf16Bits(data) : data }]);
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeSafetensorsSync(path.join(dir, 'model.safetensors'), { ...Object.fromEntries(entries), ...opts.extra });
    return dir;
  }
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = entries.filter((_, i) => i % shards === s);
    part.forEach(([k]) => (weightMap[k] = name));
    writeSafetensorsSync(path.join(dir, name), Object.fromEntries(part));
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return dir;
}

/** Random weights for `shapes`: norms near 1, linear weights ~ U(±1/√fan_in), embeddings and bias tables ~ U(±1). */
function randomWeights(shapes: ReadonlyMap<string, number[]>, seed: number): Map<string, Float32Array> {
  const rnd = seededRandom(seed);
  return new Map([...shapes].map(([k, s]) => {
    const n = s.reduce((a, b) => a * b, 1);
    const norm = /(layer_norm|final_layer_norm)/.test(k);
    const bound = norm ? 0.3 : /embedding|shared|relative_attention_bias/.test(k) ? 1 : s.length === 2 ? s[1] ** -0.5 : 0.1;
    return [k, Float32Array.from({ length: n }, () => (norm && k.endsWith('weight') ? 1 : 0) + bound * (2 * rnd() - 1))] as const;
  }));
}

function randomIds(seed: number, B: number, L: number, vocab: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: B * L }, () => Math.floor(rnd() * vocab));
}

const idsTensor = (ids: number[], B: number, L: number): Tensor => ({ data: BigInt64Array.from(ids.map(BigInt)), shape: [B, L] });
const f64 = (w: Map<string, Float32Array>) => new Map([...w].map(([k, v]) => [k, Float64Array.from(v)] as const));

describe('other configs of the same classes, against a float64 reference', () => {
  it('CLIP: 3 layers, width 48 × 6 heads, MLP 70, exact GELU, eos_token_id 7 (first-EOS pooling), with a padding mask', async () => {
    const json = { model_type: 'clip_text_model', architectures: ['CLIPTextModel'], vocab_size: 50, hidden_size: 48, intermediate_size: 70, num_hidden_layers: 3, num_attention_heads: 6, max_position_embeddings: 20, hidden_act: 'gelu', layer_norm_eps: 1e-5, eos_token_id: 7, bos_token_id: 6, pad_token_id: 0 };
    const c = textEncoderConfigFromJson(json, 'config.json') as ClipTextConfig;
    const shapes = new Map([...clipParameterShapes(c)].map(([k, s]) => [`text_model.${k}`, s] as const));
    const w = randomWeights(shapes, 11);
    const dir = writeFolder(path.join(tmp, 'clip-gelu'), json, w, shapes);
    const B = 2;
    const L = 12;
    const ids = randomIds(3, B, L, 50).map((v) => (v === 7 ? 8 : v));
    ids[5] = 7; // row 0: EOS at 5, again at 9 (the first one pools)
    ids[9] = 7;
    ids[L + 11] = 7; // row 1: EOS last
    const mask = Array.from({ length: B * L }, (_, i) => (i < 6 || i >= L ? 1 : 0)); // row 0 pads after its EOS
    const enc = await loadTextEncoder(dir, { threads: 1 });
    const o = await enc.forwardRaw({ input_ids: idsTensor(ids, B, L), attention_mask: idsTensor(mask, B, L) });
    const ref = clipReference({ D: 48, H: 6, I: 70, layers: 3, eps: 1e-5, act: 'gelu', eos: 7 }, f64(w), ids, B, L, mask);
    assert.ok(relMaxError(o.last_hidden_state.data as Float32Array, ref.last) < 2e-5);
    assert.ok(relMaxError(o.pooler_output!.data as Float32Array, ref.pooled) < 2e-5);
    assert.deepEqual(clipPooledIndex(ids, B, L, 7), [5, 11]);
    await enc.release();
  });

  it('T5 v1.0 style: relu FF (not gated), heads × d_kv = 30 ≠ d_model 24, 16 buckets / distance 20 at 40 tokens, masked', async () => {
    const json = { model_type: 't5', architectures: ['T5EncoderModel'], vocab_size: 60, d_model: 24, d_kv: 5, d_ff: 40, num_layers: 3, num_heads: 6, relative_attention_num_buckets: 16, relative_attention_max_distance: 20, feed_forward_proj: 'relu', layer_norm_epsilon: 1e-6 };
    const c = textEncoderConfigFromJson(json, 'config.json') as T5EncoderConfig;
    assert.equal(c.gated, false);
    assert.equal(c.act, 'relu');
    const shapes = t5ParameterShapes(c);
    const w = randomWeights(shapes, 21);
    const dir = writeFolder(path.join(tmp, 't5-relu'), json, w, shapes);
    const [B, L] = [2, 40];
    const ids = randomIds(5, B, L, 60);
    const mask = Array.from({ length: B * L }, (_, i) => (i % L < (i < L ? 33 : 40) ? 1 : 0));
    const enc = await loadTextEncoder(dir, { threads: 1 });
    const o = await enc.forwardRaw({ input_ids: idsTensor(ids, B, L), attention_mask: idsTensor(mask, B, L) });
    const ref = t5Reference({ D: 24, H: 6, dkv: 5, ff: 40, layers: 3, eps: 1e-6, act: 'relu', gated: false, umt5: false, buckets: 16, maxDistance: 20 }, f64(w), ids, B, L, mask);
    assert.ok(relMaxError(o.last_hidden_state.data as Float32Array, ref) < 2e-5);
    await enc.release();
  });

  it('umT5: gated SiLU ("gated-silu"), 64 buckets / distance 256, 4 layers, from BF16 shards', async () => {
    const json = { model_type: 'umt5', architectures: ['UMT5EncoderModel'], vocab_size: 70, d_model: 32, d_kv: 8, d_ff: 48, num_layers: 4, num_heads: 4, relative_attention_num_buckets: 64, relative_attention_max_distance: 256, feed_forward_proj: 'gated-silu', layer_norm_epsilon: 1e-6 };
    const c = textEncoderConfigFromJson(json, 'config.json') as T5EncoderConfig;
    assert.deepEqual([c.gated, c.act], [true, 'silu']);
    const shapes = t5ParameterShapes(c);
    const w = randomWeights(shapes, 31);
    const dir = writeFolder(path.join(tmp, 'umt5-silu-bf16'), json, w, shapes, { dtype: 'BF16', shards: 3 });
    const [B, L] = [1, 30];
    const ids = randomIds(7, B, L, 70);
    const enc = await loadTextEncoder(dir, { threads: 1 });
    const o = await enc.forwardRaw({ input_ids: idsTensor(ids, B, L) });
    const rounded = new Map([...w].map(([k, v]) => [k, Float64Array.from(fromBf16(bf16Bits(v)))] as const));
    const ref = t5Reference({ D: 32, H: 4, dkv: 8, ff: 48, layers: 4, eps: 1e-6, act: 'silu', gated: true, umt5: true, buckets: 64, maxDistance: 256 }, rounded, ids, B, L);
    assert.ok(relMaxError(o.last_hidden_state.data as Float32Array, ref) < 2e-5);
    await enc.release();
  });

  it('mT5 (model_type mt5) runs as T5: one relative table in block 0, shared', async () => {
    const json = { model_type: 'mt5', vocab_size: 40, d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_heads: 4, feed_forward_proj: 'gated-gelu' };
    const c = textEncoderConfigFromJson(json, 'config.json') as T5EncoderConfig;
    assert.deepEqual([c.kind, c.act, c.gated, c.relativeBuckets, c.relativeMaxDistance], ['t5', 'gelu_new', true, 32, 128]);
    const shapes = t5ParameterShapes(c);
    assert.ok(shapes.has('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'));
    assert.ok(!shapes.has('encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight'));
    const w = randomWeights(shapes, 41);
    const enc = await loadTextEncoder(writeFolder(path.join(tmp, 'mt5'), json, w, shapes), { threads: 1 });
    const ids = randomIds(9, 2, 10, 40);
    const o = await enc.forwardRaw({ input_ids: idsTensor(ids, 2, 10) });
    const ref = t5Reference({ D: 16, H: 4, dkv: 4, ff: 24, layers: 2, eps: 1e-6, act: 'gelu_new', gated: true, umt5: false, buckets: 32, maxDistance: 128 }, f64(w), ids, 2, 10);
    assert.ok(relMaxError(o.last_hidden_state.data as Float32Array, ref) < 2e-5);
    await enc.release();
  });
});

describe('weight files: BF16, shards, aliases, and streamed weights give the same encoder', () => {
  const t5Dir = path.join(fixtures, 't5_encoder_tiny/text_encoder');
  const fixtureWeights = (): Map<string, Float32Array> => new Map([...readSafetensorsSync(path.join(t5Dir, 'model.safetensors')).tensors].map(([k, t]) => [k, toFloat32(t)] as const));
  const shapesOf = (w: Map<string, Float32Array>): Map<string, number[]> => new Map([...readSafetensorsSync(path.join(t5Dir, 'model.safetensors')).tensors].filter(([k]) => w.has(k)).map(([k, t]) => [k, t.shape] as const));
  const config = JSON.parse(fs.readFileSync(path.join(t5Dir, 'config.json'), 'utf8'));
  const g = golden('t5_encoder_tiny');

  async function run(dir: string, opts: { residentWeightBytes?: number } = {}): Promise<Float32Array> {
    const enc = await loadTextEncoder(dir, { threads: 1, ...opts });
    const o = await enc.forwardRaw({ input_ids: int64Tensor(g, 'input_ids') });
    await enc.release();
    return o.last_hidden_state.data as Float32Array;
  }

  it('sharded (model.safetensors.index.json, 3 shards) is bit-identical to the single file', async () => {
    const w = fixtureWeights();
    const dir = writeFolder(path.join(tmp, 't5-shards'), config, w, shapesOf(w), { shards: 3 });
    assert.deepEqual(await run(dir), await run(t5Dir));
  });

  it('the embedding stored as encoder.embed_tokens.weight only, or under both tied names, changes nothing', async () => {
    const w = fixtureWeights();
    const shapes = shapesOf(w);
    const alias = new Map([...w].map(([k, v]) => [k === 'shared.weight' ? 'encoder.embed_tokens.weight' : k, v] as const));
    const aliasShapes = new Map([...shapes].map(([k, s]) => [k === 'shared.weight' ? 'encoder.embed_tokens.weight' : k, s] as const));
    const want = await run(t5Dir);
    assert.deepEqual(await run(writeFolder(path.join(tmp, 't5-alias'), config, alias, aliasShapes)), want);
    const both = writeFolder(path.join(tmp, 't5-both'), config, w, shapes, { extra: { 'encoder.embed_tokens.weight': { dtype: 'F32', shape: shapes.get('shared.weight')!, data: w.get('shared.weight')! } } });
    assert.deepEqual(await run(both), want);
  });

  it('BF16 weights are widened exactly: equal to F32 weights holding the same bf16-rounded values', async () => {
    const w = fixtureWeights();
    const rounded = new Map([...w].map(([k, v]) => [k, fromBf16(bf16Bits(v))] as const));
    const a = await run(writeFolder(path.join(tmp, 't5-bf16'), config, w, shapesOf(w), { dtype: 'BF16' }));
    const b = await run(writeFolder(path.join(tmp, 't5-bf16-as-f32'), config, rounded, shapesOf(w)));
    assert.deepEqual(a, b);
    assert.ok(relMaxError(a, f32(g, 'last_hidden_state')) > 1e-4, 'bf16 rounding does move the output (the test would pass trivially otherwise)');
  });

  it('streamed weights from BF16 / F16 / F32 tensors (one reused buffer per weight) equal the resident ones', async () => {
    const w = fixtureWeights();
    const shapes = shapesOf(w);
    const dtypes = ['BF16', 'F16', 'F32'] as const;
    const dir = path.join(tmp, 't5-mixed');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    writeSafetensorsSync(path.join(dir, 'model.safetensors'), Object.fromEntries([...w].map(([k, v], i) => {
      const dtype = dtypes[i % 3];
      return [k, { dtype, shape: shapes.get(k)!, data: dtype === 'BF16' ? bf16Bits(v) : dtype === 'F16' ? f16Bits(v) : v }];
    })));
    const streamed = await run(dir, { residentWeightBytes: 0 });
    assert.deepEqual(streamed, await run(dir));
    assert.ok(relMaxError(streamed, f32(g, 'last_hidden_state')) < 1e-2, 'the rounded weights still give nearly the golden output');
  });

  it('streamed weights (read and widened per layer per call) give the resident result bit for bit', async () => {
    const enc = await loadTextEncoder(t5Dir, { threads: 1, residentWeightBytes: 0 });
    assert.equal(enc.resident, false);
    const first = await enc.forwardRaw({ input_ids: int64Tensor(g, 'input_ids') });
    const again = await enc.forwardRaw({ input_ids: int64Tensor(g, 'input_ids') });
    await enc.release();
    const resident = await loadTextEncoder(t5Dir, { threads: 1 });
    assert.equal(resident.resident, true);
    const want = (await resident.forwardRaw({ input_ids: int64Tensor(g, 'input_ids') })).last_hidden_state.data;
    await resident.release();
    assert.deepEqual(first.last_hidden_state.data, want);
    assert.deepEqual(again.last_hidden_state.data, want);
  });
});

describe('errors name the file and what to do', () => {
  const t5Dir = path.join(fixtures, 't5_encoder_tiny/text_encoder');
  const config = JSON.parse(fs.readFileSync(path.join(t5Dir, 'config.json'), 'utf8'));

  it('a missing folder, config.json or weights file', async () => {
    await assert.rejects(loadTextEncoder(path.join(tmp, 'nowhere')), /nowhere: does not exist/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await assert.rejects(loadTextEncoder(empty), /holds no config\.json/);
    fs.writeFileSync(path.join(empty, 'config.json'), JSON.stringify(config));
    await assert.rejects(loadTextEncoder(empty), /holds no model\.safetensors and no model\.safetensors\.index\.json/);
    fs.writeFileSync(path.join(empty, 'pytorch_model.bin'), 'x');
    await assert.rejects(loadTextEncoder(empty), /it has pytorch_model\.bin: text encoders are read from safetensors only.*safe_serialization/);
  });

  it('weights that do not fit the config: every problem listed', async () => {
    const dir = path.join(tmp, 'mismatch');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_layers: 3, d_ff: 65 }));
    fs.copyFileSync(path.join(t5Dir, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    await assert.rejects(loadTextEncoder(dir), (e: Error) => {
      assert.match(e.message, /does not match the T5 encoder \(3 layers, d_model 32, 4 heads × d_kv 8, d_ff 65 gated gelu_new, vocab 1000\)/);
      assert.match(e.message, /encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\.weight: expected \[65, 32\], found \[64, 32\]/);
      assert.match(e.message, /missing encoder\.block\.2\.layer\.0\.SelfAttention\.q\.weight \[32, 32\]/);
      return true;
    });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'umt5' }));
    await assert.rejects(loadTextEncoder(dir), /missing encoder\.block\.1\.layer\.0\.SelfAttention\.relative_attention_bias\.weight \[32, 4\]/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'bert' }));
    await assert.rejects(loadTextEncoder(dir), /model_type "bert".*not a text encoder this library runs/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, feed_forward_proj: 'gated-mish', dense_act_fn: undefined }));
    await assert.rejects(loadTextEncoder(dir), /"feed_forward_proj" is "mish", an activation this library does not provide/);
  });

  it('inputs: ids outside the vocabulary, a CLIP prompt past its positions, wrong shapes, unknown names', async () => {
    const t5 = await loadTextEncoder(t5Dir, { threads: 1 });
    await assert.rejects(t5.forwardRaw({ input_ids: idsTensor([1, 2, 1000], 1, 3) }), /token id 1000 \(row 0, position 2\), outside this encoder's vocabulary of 1000/);
    await assert.rejects(t5.forwardRaw({ input_ids: idsTensor([1, 2, 3], 1, 3), attention_mask: idsTensor([1, 1], 1, 2) }), /attention_mask must have input_ids' shape \[1, 3\], got \[1, 2\]/);
    await assert.rejects(t5.forwardRaw({ input_ids: { data: BigInt64Array.from([1n, 2n]), shape: [2] } }), /input_ids must be \[batch, tokens\]/);
    await assert.rejects(t5.forwardRaw({ input_ids: idsTensor([1], 1, 1), token_type_ids: idsTensor([0], 1, 1) } as never), /unknown input\(s\) token_type_ids/);
    await t5.release();
    const clip = await loadTextEncoder(path.join(fixtures, 'clip_text_tiny/text_encoder'), { threads: 1 });
    await assert.rejects(clip.forwardRaw({ input_ids: idsTensor(new Array(78).fill(5), 1, 78) }), /at most 77 tokens \(max_position_embeddings\), got 78/);
    await clip.release();
  });
});
