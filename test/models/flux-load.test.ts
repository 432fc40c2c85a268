// FLUX checkpoints on disk: diffusers folders (one file or shards), Black Forest Labs single files made here
// from the diffusers weights by the inverse key map (F32 and BF16, bare or inside an all-in-one checkpoint),
// the config inferred from BFL shapes (dev vs schnell), and every loader error naming file, key and shapes.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsSync, toFloat32, writeSafetensorsSync, type StWritableTensor } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/models/tensor.js';
import { diffusersToBfl, isBflFluxCheckpoint, isFluxConfigJson, loadFlux, openFluxWeights } from '../../src/models/flux/index.js';
import type { FluxConfig } from '../../src/models/flux/config.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/flux_diffusers_tiny_golden');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-flux-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const golden = Object.fromEntries([...readSafetensorsSync(path.join(fixture, 'golden.safetensors')).tensors].map(([k, t]) => [k, { data: toFloat32(t), shape: t.shape }]));
const configJson = JSON.parse(fs.readFileSync(path.join(fixture, 'transformer/config.json'), 'utf8')) as Record<string, unknown>;
const { config, weights: lazy } = openFluxWeights(path.join(fixture, 'transformer'));
const weights = lazy.materialize();
const shapes = new Map([...readSafetensorsSync(path.join(fixture, 'transformer/diffusion_pytorch_model.safetensors')).tensors].map(([k, t]) => [k, t.shape]));

const inputs = (withGuidance = true): Record<string, Tensor> => {
  const names = ['hidden_states', 'encoder_hidden_states', 'pooled_projections', 'timestep', 'img_ids', 'txt_ids', ...(withGuidance ? ['guidance'] : [])];
  return Object.fromEntries(names.map((k) => [k, golden[k]]));
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** float32 → bfloat16 bits, round to nearest even (as torch's .to(torch.bfloat16)). */
function bf16Bits(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  return Uint16Array.from(bits, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
}

function writeTensors(file: string, tensors: Iterable<[string, { shape: number[]; data: Float32Array }]>, dtype: 'F32' | 'BF16' = 'F32', prefix = ''): void {
  const out: Record<string, StWritableTensor> = {};
  for (const [k, t] of tensors) out[prefix + k] = { dtype, shape: t.shape, data: dtype === 'F32' ? t.data : bf16Bits(t.data) };
  writeSafetensorsSync(file, out);
}

const diffusersEntries = (w: Map<string, Float32Array>): [string, { shape: number[]; data: Float32Array }][] => [...w].map(([k, data]) => [k, { shape: shapes.get(k)!, data }]);

function writeDiffusersFolder(dir: string, json: Record<string, unknown>, w: Map<string, Float32Array>, dtype: 'F32' | 'BF16' = 'F32'): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));
  writeTensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), diffusersEntries(w), dtype);
  return dir;
}

async function outputOf(p: string, opts: Parameters<typeof loadFlux>[1] = {}, withGuidance = true): Promise<Float32Array> {
  const m = await loadFlux(p, { threads: 1, ...opts });
  try {
    return (await m.forwardRaw(inputs(withGuidance))).data as Float32Array;
  } finally {
    await m.release();
  }
}

describe('diffusers FluxTransformer2DModel folders', () => {
  it('isFluxConfigJson recognises the class', () => {
    assert.equal(isFluxConfigJson(configJson), true);
    assert.equal(isFluxConfigJson({ _class_name: 'DiTTransformer2DModel' }), false);
  });

  it('the config as diffusers defines it: out_channels null → in_channels, guidance embedder, RoPE axes', () => {
    assert.deepEqual(config, { inChannels: 4, outChannels: 4, patchSize: 1, numLayers: 1, numSingleLayers: 1, numHeads: 2, headDim: 16, jointAttentionDim: 32, pooledProjectionDim: 32, guidanceEmbeds: true, axesDimsRope: [4, 4, 8] } satisfies FluxConfig);
    assert.equal(weights.size, 66);
    assert.equal([...weights.values()].reduce((a, w) => a + w.length, 0), 77764);
  });

  it('sharded weights (diffusion_pytorch_model.safetensors.index.json) give the single file\'s output exactly', async () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configJson));
    const entries = diffusersEntries(weights);
    const shards = [entries.slice(0, 30), entries.slice(30)];
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      const name = `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`;
      writeTensors(path.join(dir, name), s);
      for (const [k] of s) weightMap[k] = name;
    });
    fs.writeFileSync(path.join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    assert.equal(maxAbsDiff(await outputOf(dir), await outputOf(path.join(fixture, 'transformer'))), 0);
  });

  it('a pipeline folder\'s transformer/ is found', async () => {
    const dir = path.join(tmp, 'pipeline');
    writeDiffusersFolder(path.join(dir, 'transformer'), configJson, weights);
    assert.equal(maxAbsDiff(await outputOf(dir), await outputOf(path.join(fixture, 'transformer'))), 0);
  });
});

describe('BFL single files (flux1-dev / flux1-schnell layout), made from the diffusers weights by the inverse key map', () => {
  const bfl = diffusersToBfl(config, weights);

  it('the BFL keys: fused qkv and linear1, final_layer (shift, scale), guidance_in', () => {
    assert.deepEqual(bfl.get('double_blocks.0.img_attn.qkv.weight')!.shape, [96, 32]);
    assert.deepEqual(bfl.get('single_blocks.0.linear1.weight')!.shape, [3 * 32 + 128, 32]);
    assert.deepEqual(bfl.get('single_blocks.0.linear1.bias')!.data.subarray(96), weights.get('single_transformer_blocks.0.proj_mlp.bias'));
    // BFL's first half is the shift, diffusers' norm_out the scale first
    assert.deepEqual(bfl.get('final_layer.adaLN_modulation.1.bias')!.data.subarray(0, 32), weights.get('norm_out.linear.bias')!.subarray(32));
    assert.ok(bfl.has('guidance_in.in_layer.weight'));
    assert.equal(bfl.size, 52); // FLUX.1-dev: 16 + 19·24 + 38·8 + 4 = 780
  });

  it('F32: config inferred from the shapes, the same weights and the same output as the diffusers folder', async () => {
    const file = path.join(tmp, 'flux1-tiny-f32.safetensors');
    writeTensors(file, bfl);
    assert.equal(isBflFluxCheckpoint(file), true);
    assert.equal(isBflFluxCheckpoint(path.join(fixture, 'transformer/diffusion_pytorch_model.safetensors')), false);
    const opened = openFluxWeights(file, { axesDimsRope: [4, 4, 8] });
    assert.equal(opened.files.format, 'bfl');
    assert.deepEqual(opened.config, config);
    for (const [k, w] of opened.weights.materialize()) assert.equal(maxAbsDiff(w, weights.get(k)!), 0, `weight ${k}`);
    assert.equal(maxAbsDiff(await outputOf(file, { axesDimsRope: [4, 4, 8] }), await outputOf(path.join(fixture, 'transformer'))), 0);
  });

  it('BF16: loads to the same output as a BF16 diffusers folder of the same weights, within BF16 rounding of the golden', async () => {
    const file = path.join(tmp, 'flux1-tiny-bf16.safetensors');
    writeTensors(file, bfl, 'BF16');
    const dir = writeDiffusersFolder(path.join(tmp, 'bf16-diffusers'), configJson, weights, 'BF16');
    const fromBfl = await outputOf(file, { axesDimsRope: [4, 4, 8] });
    assert.equal(maxAbsDiff(fromBfl, await outputOf(dir)), 0);
    const rel = maxAbsDiff(fromBfl, golden.out.data) / 1.2537;
    assert.ok(rel > 0 && rel < 0.05, `BF16 weights move the output by ${rel} of its range`);
  });

  it('inside an all-in-one checkpoint (model.diffusion_model. prefix beside other components) the transformer is found', async () => {
    const file = path.join(tmp, 'all-in-one.safetensors');
    const vae: [string, { shape: number[]; data: Float32Array }] = ['first_stage_model.decoder.conv_in.weight', { shape: [2, 2], data: new Float32Array(4) }];
    writeSafetensorsSync(file, {
      ...Object.fromEntries([...bfl].map(([k, t]) => [`model.diffusion_model.${k}`, { dtype: 'F32' as const, shape: t.shape, data: t.data }])),
      [vae[0]]: { dtype: 'F32', shape: vae[1].shape, data: vae[1].data },
    });
    assert.equal(maxAbsDiff(await outputOf(file, { axesDimsRope: [4, 4, 8] }), await outputOf(path.join(fixture, 'transformer'))), 0);
  });

  it('schnell-like (no guidance_in): guidance_embeds false is inferred, it runs without guidance and refuses one', async () => {
    const file = path.join(tmp, 'flux1-tiny-schnell.safetensors');
    writeTensors(file, [...bfl].filter(([k]) => !k.startsWith('guidance_in.')));
    const opened = openFluxWeights(file, { axesDimsRope: [4, 4, 8] });
    assert.equal(opened.config.guidanceEmbeds, false);
    assert.equal([...opened.weights.keys()].some((k) => k.includes('guidance')), false);
    const m = await loadFlux(file, { threads: 1, axesDimsRope: [4, 4, 8] });
    const out = (await m.forwardRaw(inputs(false))).data as Float32Array;
    assert.ok(out.every(Number.isFinite));
    // without the guidance embedding temb changes, so the output must too
    assert.ok(maxAbsDiff(out, golden.out.data) > 1e-3);
    await assert.rejects(() => m.forwardRaw(inputs(true)), /no guidance embedding \(guidance_embeds is false, as in FLUX.1-schnell\)/);
    await m.release();
  });
});

describe('FLUX loader errors name the file, the keys and the shapes, all at once', () => {
  it('a BFL file with missing, unexpected and misshapen tensors lists every problem', () => {
    const bfl = diffusersToBfl(config, weights);
    bfl.delete('double_blocks.0.txt_mlp.2.bias');
    bfl.set('double_blocks.0.extra.weight', { shape: [2], data: new Float32Array(2) });
    bfl.set('single_blocks.0.linear2.bias', { shape: [31], data: new Float32Array(31) });
    const file = path.join(tmp, 'broken-bfl.safetensors');
    writeTensors(file, bfl);
    assert.throws(
      () => openFluxWeights(file, { axesDimsRope: [4, 4, 8] }),
      (e: Error) =>
        e.message.startsWith(file) &&
        /3 problems/.test(e.message) &&
        /missing double_blocks\.0\.txt_mlp\.2\.bias \[32\]/.test(e.message) &&
        /unexpected key double_blocks\.0\.extra\.weight/.test(e.message) &&
        /single_blocks\.0\.linear2\.bias: expected \[32\], found \[31\]/.test(e.message),
    );
  });

  it('a BFL file whose head dim is not FLUX.1\'s needs its RoPE axes', () => {
    const file = path.join(tmp, 'flux1-tiny-noaxes.safetensors');
    writeTensors(file, diffusersToBfl(config, weights));
    assert.throws(() => openFluxWeights(file), /head dim 16, and a BFL file does not record its RoPE axes.*Pass axesDimsRope/s);
    assert.throws(() => openFluxWeights(file, { axesDimsRope: [4, 4, 4] }), /axes_dims_rope \[4, 4, 4\] sums to 12 but attention_head_dim is 16/);
  });

  it('config.json: unknown fields and impossible values are named', () => {
    const dir = writeDiffusersFolder(path.join(tmp, 'unknown-field'), { ...configJson, qk_norm: 'layer_norm', use_fp8: true }, weights);
    assert.throws(() => openFluxWeights(dir), /config field\(s\) qk_norm, use_fp8 that FluxTransformer2DModel as implemented here does not know/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...configJson, axes_dims_rope: [4, 4, 6] }));
    assert.throws(() => openFluxWeights(dir), /axes_dims_rope \[4, 4, 6\] sums to 14 but attention_head_dim is 16/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...configJson, _class_name: 'SD3Transformer2DModel' }));
    assert.throws(() => openFluxWeights(dir), /_class_name is "SD3Transformer2DModel", not FluxTransformer2DModel/);
  });

  it('weights that do not fit config.json list the missing and unexpected keys', () => {
    const dir = writeDiffusersFolder(path.join(tmp, 'two-layers'), { ...configJson, num_layers: 2, guidance_embeds: false }, weights);
    assert.throws(
      () => openFluxWeights(dir),
      (e: Error) => /missing transformer_blocks\.1\.attn\.to_q\.weight \[32, 32\]/.test(e.message) && /unexpected key time_text_embed\.guidance_embedder\.linear_1\.weight/.test(e.message) && /Check that config\.json belongs to these weights/.test(e.message),
    );
  });

  it('files that are not FLUX checkpoints, or absent, say what to pass', () => {
    const file = path.join(tmp, 'loose', 'diffusers-keys.safetensors');
    fs.mkdirSync(path.dirname(file));
    writeTensors(file, diffusersEntries(weights));
    assert.throws(() => openFluxWeights(file), /not a BFL FLUX transformer \(no img_in\.weight.*put its FluxTransformer2DModel config\.json beside it/s);
    assert.throws(() => openFluxWeights(path.join(tmp, 'nope')), /does not exist/);
    assert.throws(() => openFluxWeights(path.join(tmp, 'loose')), /holds no config\.json/);
  });
});
