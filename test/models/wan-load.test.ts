// Wan checkpoint loading: the original Wan layout (made here from the diffusers fixture by the inverse
// key map, F32 and BF16), sharded and prefixed files, config inference, laziness, and the errors for
// checkpoints that do not fit.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toFloat32, writeSafetensorsSync, type StWritableTensor } from '../../src/io/safetensors.js';
import { Wan, WAN21_T2V_1_3B, configToDiffusersJson, isWanConfigJson, loadWan, openWanWeights, originalKeyOf } from '../../src/models/wan/index.js';
import { configFromShapes } from '../../src/models/wan/config.js';
import { parameterShapes } from '../../src/models/wan/graph.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/wan_diffusers_tiny_golden');
const diffusersDir = path.join(fixture, 'transformer');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wan-load-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LATENT = [4, 3, 8, 8];
const TEXT = [7, 16];
const SIZE = { threads: 1, latentShape: LATENT, textTokens: TEXT[0] };

/** The fixture's weights by diffusers key (F32). */
function diffusersWeights(): Map<string, { shape: number[]; data: Float32Array }> {
  const { tensors } = readSafetensorsSync(path.join(diffusersDir, 'diffusion_pytorch_model.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t) }] as const));
}

/** float32 → bfloat16 bits, round to nearest even (as torch's .to(torch.bfloat16)). */
function bf16Bits(a: Float32Array): Uint16Array {
  const bits = new Uint32Array(Float32Array.from(a).buffer);
  return Uint16Array.from(bits, (u) => (u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
}

function fromBf16Bits(b: Uint16Array): Float32Array {
  return new Float32Array(Uint32Array.from(b, (h) => h << 16).buffer);
}

/** The original WanModel constructor arguments of the fixture (what its config.json would hold). */
const ORIGINAL_CONFIG = { _class_name: 'WanModel', model_type: 't2v', dim: 24, num_heads: 2, in_dim: 4, out_dim: 4, ffn_dim: 32, freq_dim: 256, text_dim: 16, num_layers: 2, eps: 1e-6, text_len: 512 };

/** Writes the fixture's weights under the original Wan keys (inverse of the loader's map) into dir. */
function writeOriginal(dir: string, opts: { dtype: 'F32' | 'BF16'; prefix?: string; config?: object | null; edit?: (t: Record<string, StWritableTensor>) => void }): string {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: Record<string, StWritableTensor> = {};
  for (const [k, t] of diffusersWeights()) {
    const orig = originalKeyOf(k);
    assert.ok(orig, `no original name for ${k}`);
    tensors[(opts.prefix ?? '') + orig] = { dtype: opts.dtype, shape: t.shape, data: opts.dtype === 'BF16' ? bf16Bits(t.data) : t.data };
  }
  opts.edit?.(tensors);
  const file = path.join(dir, 'diffusion_pytorch_model.safetensors');
  writeSafetensorsSync(file, tensors);
  if (opts.config !== null) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(opts.config ?? ORIGINAL_CONFIG));
  return file;
}

function golden() {
  const { tensors } = readSafetensorsSync(path.join(fixture, 'golden.safetensors'));
  const f = (k: string) => toFloat32(tensors.get(k)!);
  return { x: f('hidden_states'), t: Array.from(f('timestep')), text: f('encoder_hidden_states') };
}

async function run(m: Wan): Promise<Float32Array> {
  const g = golden();
  const out = await m.forward(g.x, [2, ...LATENT], g.t, { textEmbeddings: { data: g.text, shape: TEXT } });
  await m.release();
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe('original Wan layout', () => {
  it('F32 with the original config.json: the same weights and output as the diffusers folder', async () => {
    const dir = path.join(tmp, 'original-f32');
    writeOriginal(dir, { dtype: 'F32' });
    const opened = openWanWeights(dir);
    assert.equal(opened.layout, 'original');
    const diffusers = openWanWeights(diffusersDir);
    assert.deepEqual({ ...opened.config, ropeMaxSeqLen: 0 }, { ...diffusers.config, ropeMaxSeqLen: 0 }, 'same config but the RoPE table length (original: 1024)');
    const reference = diffusers.weights.materialize();
    for (const [k, v] of opened.weights.materialize()) assert.deepEqual(v, reference.get(k), `weight ${k}`);
    assert.equal(maxAbsDiff(await run(await loadWan(dir, SIZE)), await run(await loadWan(diffusersDir, SIZE))), 0);
  });

  it('BF16, ComfyUI prefix model.diffusion_model.: equals the diffusers model with its weights rounded to BF16', async () => {
    const dir = path.join(tmp, 'original-bf16');
    const file = writeOriginal(dir, { dtype: 'BF16', prefix: 'model.diffusion_model.' });
    const rounded = new Map([...diffusersWeights()].map(([k, t]) => [k, fromBf16Bits(bf16Bits(t.data))] as const));
    const viaFile = await run(await loadWan(file, SIZE));
    const viaMap = await run(new Wan(openWanWeights(diffusersDir).config, rounded, SIZE));
    assert.ok(maxAbsDiff(viaFile, viaMap) <= 1e-6, `BF16 file vs rounded weights: ${maxAbsDiff(viaFile, viaMap)}`);
    // and BF16 rounding really happened: the output moved away from the F32 one
    assert.ok(maxAbsDiff(viaFile, await run(await loadWan(diffusersDir, SIZE))) > 1e-4);
  });

  it('a missing key is named in both namings; an image-to-video checkpoint is refused as such', () => {
    const dir = path.join(tmp, 'original-missing');
    writeOriginal(dir, { dtype: 'F32', edit: (t) => delete t['blocks.1.norm3.bias'] });
    assert.throws(() => openWanWeights(dir), /missing blocks\.1\.norm3\.bias \(diffusers blocks\.1\.norm2\.bias\) \[24\]/);
    const i2v = path.join(tmp, 'original-i2v');
    writeOriginal(i2v, { dtype: 'F32', edit: (t) => (t['blocks.0.cross_attn.k_img.weight'] = { dtype: 'F32', shape: [24, 24], data: new Float32Array(576) }) });
    assert.throws(() => openWanWeights(i2v), /is an image-to-video Wan transformer \(it has blocks\.0\.cross_attn\.k_img\.weight\).*Only text-to-video/s);
  });

  it('without config.json the config comes from the shapes (heads = D / 128, as every released Wan)', () => {
    const shapes = parameterShapes(WAN21_T2V_1_3B);
    assert.deepEqual(configFromShapes(shapes, 'wan.safetensors'), WAN21_T2V_1_3B);
    const dir = path.join(tmp, 'original-no-config');
    writeOriginal(dir, { dtype: 'F32', config: null });
    assert.throws(() => openWanWeights(dir), /width 24 is not a multiple of 128, so the head count cannot be inferred.*config\.json/s);
  });

  it('an original config.json with another model type or local attention is refused', () => {
    const dir = path.join(tmp, 'original-i2v-config');
    writeOriginal(dir, { dtype: 'F32', config: { ...ORIGINAL_CONFIG, model_type: 'i2v' } });
    assert.throws(() => openWanWeights(dir), /model_type is "i2v".*image-to-video/s);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...ORIGINAL_CONFIG, window_size: [16, 16] }));
    assert.throws(() => openWanWeights(dir), /window_size \[16,16\] asks for local attention/);
  });
});

describe('diffusers layout', () => {
  it('sharded (index.json + two shards) loads to the same output', async () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir, { recursive: true });
    const weights = [...diffusersWeights()];
    const half = Math.ceil(weights.length / 2);
    const shards = [weights.slice(0, half), weights.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const name = `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensorsSync(path.join(dir, name), Object.fromEntries(part.map(([k, t]) => [k, { dtype: 'F32', shape: t.shape, data: t.data }] as const)));
      for (const [k] of part) weightMap[k] = name;
    });
    fs.writeFileSync(path.join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    fs.copyFileSync(path.join(diffusersDir, 'config.json'), path.join(dir, 'config.json'));
    assert.equal(openWanWeights(dir).files.weightFiles.length, 2);
    assert.equal(maxAbsDiff(await run(await loadWan(dir, SIZE)), await run(await loadWan(diffusersDir, SIZE))), 0);
  });

  it('a pipeline folder is read through its transformer/', () => {
    assert.equal(openWanWeights(fixture).files.weightFiles[0], path.join(diffusersDir, 'diffusion_pytorch_model.safetensors'));
  });

  it('missing, unexpected and mis-shaped keys are all reported at once, naming the file', () => {
    const dir = path.join(tmp, 'bad-keys');
    fs.mkdirSync(dir, { recursive: true });
    const tensors: Record<string, StWritableTensor> = {};
    for (const [k, t] of diffusersWeights()) tensors[k] = { dtype: 'F32', shape: t.shape, data: t.data };
    delete tensors['blocks.1.attn2.to_k.bias'];
    tensors['blocks.1.attn2.extra.weight'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
    tensors['proj_out.bias'] = { dtype: 'F32', shape: [15], data: new Float32Array(15) };
    writeSafetensorsSync(path.join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
    fs.copyFileSync(path.join(diffusersDir, 'config.json'), path.join(dir, 'config.json'));
    assert.throws(
      () => openWanWeights(dir),
      (e: Error) =>
        /bad-keys\/diffusion_pytorch_model\.safetensors: does not match a diffusers Wan T2V transformer with 2 layers, width 24 \(3 problems\)/.test(e.message) &&
        /missing blocks\.1\.attn2\.to_k\.bias \[24\]/.test(e.message) &&
        /proj_out\.bias: expected \[16\], found \[15\]/.test(e.message) &&
        /unexpected key blocks\.1\.attn2\.extra\.weight/.test(e.message) &&
        /Check that .*config\.json describes these weights/.test(e.message),
    );
  });

  it('a config that does not fit the weights (3 layers for 2) lists the missing block', async () => {
    const config = { ...openWanWeights(diffusersDir).config, numLayers: 3 };
    await assert.rejects(() => loadWan(diffusersDir, { ...SIZE, config }), /with 3 layers.*missing blocks\.2\.attn1\.to_q\.weight \[24, 24\]/s);
  });

  it('image-to-video configs are refused, naming the field', () => {
    const dir = path.join(tmp, 'i2v-config');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(diffusersDir, 'diffusion_pytorch_model.safetensors'), path.join(dir, 'diffusion_pytorch_model.safetensors'));
    for (const [field, value] of [['image_dim', 1280], ['added_kv_proj_dim', 24]] as const) {
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...configToDiffusersJson(openWanWeights(diffusersDir).config), [field]: value }));
      assert.throws(() => openWanWeights(dir), new RegExp(`config\\.json: ${field} = ${value} makes this an image-to-video transformer.*Only text-to-video`, 's'));
    }
  });
});

describe('files, laziness, family detection', () => {
  it('weights are read when a graph needs them, not when the model is opened', async () => {
    const dir = path.join(tmp, 'lazy');
    const file = writeOriginal(dir, { dtype: 'F32' });
    const m = await loadWan(dir, SIZE); // headers only
    fs.truncateSync(file, fs.statSync(file).size - 4000); // the tensor data the first graph will read is gone
    const g = golden();
    await assert.rejects(() => m.forward(g.x, [2, ...LATENT], g.t, { textEmbeddings: { data: g.text, shape: TEXT } }), /diffusion_pytorch_model\.safetensors: file ended at byte/);
  });

  it('paths without Wan weights get errors that say what was expected', () => {
    assert.throws(() => openWanWeights('/nonexistent/wan'), /nonexistent\/wan: does not exist/);
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    assert.throws(() => openWanWeights(empty), /holds no Wan transformer weights.*diffusion_pytorch_model\.safetensors/s);
    const bin = path.join(empty, 'model.bin');
    fs.writeFileSync(bin, '');
    assert.throws(() => openWanWeights(bin), /model\.bin: is not a safetensors file or index/);
  });

  it('isWanConfigJson: diffusers and original Wan configs, not a DiT', () => {
    assert.equal(isWanConfigJson(JSON.parse(fs.readFileSync(path.join(diffusersDir, 'config.json'), 'utf8'))), true);
    assert.equal(isWanConfigJson(ORIGINAL_CONFIG), true);
    const { _class_name: _, ...bare } = ORIGINAL_CONFIG;
    assert.equal(isWanConfigJson(bare), true);
    assert.equal(isWanConfigJson({ _class_name: 'DiTTransformer2DModel', num_layers: 28 }), false);
    assert.equal(isWanConfigJson({ hidden_size: 1152, depth: 28, input_size: 32, num_heads: 16 }), false);
  });
});
