// loadVAE on a single file in the LDM/BFL key layout (Black Forest Labs' ae.safetensors, the original SD VAE):
// files written here from the diffusers fixture (and from random FLUX-layout weights) with this test's own
// key map must decode and encode exactly as the diffusers-layout load; bad files are refused by name.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError } from '../../src/io/errors.js';
import { StTensor, readSafetensorsSync, toFloat32, writeSafetensorsSync } from '../../src/io/safetensors.js';
import { AutoencoderKL, loadVAE, resolveVAEFiles } from '../../src/models/vae/index.js';
import { VAEConfig, vaeConfigFromDiffusersJson } from '../../src/models/vae/config.js';
import { ldmLayout, ldmVAEConfig } from '../../src/models/vae/ldm-keys.js';
import { randomVAEWeights } from '../../src/models/vae/random-weights.js';
import { vaeParameterShapes } from '../../src/models/vae/architecture.js';
import { Tensor } from '../../src/models/tensor.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The same files as the shared fixture vae_diffusers_tiny (2 levels [32, 64], 1 resnet per level, 4 latent
// channels, quant convs: the SD layout), kept in the repository like the other VAE tests' fixture.
const fixture = path.join(here, '../fixtures/vae_diffusers_tiny');
const vaeDir = path.join(fixture, 'vae');

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * diffusers module prefix → LDM module prefix for an AutoencoderKL of `levels` levels and `layers` resnets per
 * encoder level, written from the constructors in BFL's autoencoder.py: Encoder appends down[i_level] for
 * i_level = 0 … levels−1 with a downsample on all but the last; Decoder builds up[i_level] for i_level in
 * reversed(range(levels)) with num_res_blocks + 1 blocks and an upsample unless i_level is 0, inserting each
 * at index 0 — while diffusers numbers its up_blocks in build order, deepest first.
 */
function modulePrefixes(levels: number, layers: number): [diffusers: string, ldm: string][] {
  const pairs: [string, string][] = [];
  for (let level = 0; level < levels; level++) {
    for (let b = 0; b < layers; b++) pairs.push([`encoder.down_blocks.${level}.resnets.${b}.`, `encoder.down.${level}.block.${b}.`]);
    if (level !== levels - 1) pairs.push([`encoder.down_blocks.${level}.downsamplers.0.conv.`, `encoder.down.${level}.downsample.conv.`]);
  }
  let built = 0;
  for (let level = levels - 1; level >= 0; level--, built++) {
    for (let b = 0; b < layers + 1; b++) pairs.push([`decoder.up_blocks.${built}.resnets.${b}.`, `decoder.up.${level}.block.${b}.`]);
    if (level !== 0) pairs.push([`decoder.up_blocks.${built}.upsamplers.0.conv.`, `decoder.up.${level}.upsample.conv.`]);
  }
  for (const part of ['encoder', 'decoder']) {
    pairs.push(
      [`${part}.conv_in.`, `${part}.conv_in.`],
      [`${part}.mid_block.resnets.0.`, `${part}.mid.block_1.`],
      [`${part}.mid_block.attentions.0.group_norm.`, `${part}.mid.attn_1.norm.`],
      [`${part}.mid_block.attentions.0.to_q.`, `${part}.mid.attn_1.q.`],
      [`${part}.mid_block.attentions.0.to_k.`, `${part}.mid.attn_1.k.`],
      [`${part}.mid_block.attentions.0.to_v.`, `${part}.mid.attn_1.v.`],
      [`${part}.mid_block.attentions.0.to_out.0.`, `${part}.mid.attn_1.proj_out.`],
      [`${part}.mid_block.resnets.1.`, `${part}.mid.block_2.`],
      [`${part}.conv_norm_out.`, `${part}.norm_out.`],
      [`${part}.conv_out.`, `${part}.conv_out.`],
    );
  }
  pairs.push(['quant_conv.', 'quant_conv.'], ['post_quant_conv.', 'post_quant_conv.']);
  return pairs;
}

/** The weights under LDM keys: ResnetBlock's nin_shortcut for conv_shortcut, AttnBlock's 1×1 conv weights [C, C, 1, 1] for Linear [C, C]. */
function toLdmLayout(weights: Weights, levels: number, layers: number): Weights {
  const prefixes = modulePrefixes(levels, layers);
  const out: Weights = new Map();
  for (const [key, t] of weights) {
    const matches = prefixes.filter(([d]) => key.startsWith(d));
    assert.equal(matches.length, 1, `test key map: ${key} matches ${matches.length} module prefixes`);
    const [d, ldm] = matches[0];
    let leaf = key.slice(d.length);
    if (leaf.startsWith('conv_shortcut.')) leaf = `nin_shortcut.${leaf.slice('conv_shortcut.'.length)}`;
    const isAttentionConv = /\.attn_1\.(q|k|v|proj_out)\.$/.test(ldm) && leaf === 'weight';
    out.set(ldm + leaf, { shape: isAttentionConv ? [...t.shape, 1, 1] : t.shape, data: t.data });
  }
  assert.equal(out.size, weights.size, 'test key map: two diffusers keys went to one LDM key');
  return out;
}

function fixtureWeights(): Weights {
  const { tensors } = readSafetensorsSync(path.join(vaeDir, 'diffusion_pytorch_model.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t) }] as const));
}

/** Writes `weights` under `prefix` (a whole checkpoint's VAE) beside one small tensor per `hostKeys` (the rest of that checkpoint). */
function writeWeights(file: string, weights: Weights, embed: { prefix?: string; hostKeys?: string[] } = {}): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tensors = Object.fromEntries([...weights].map(([k, v]) => [(embed.prefix ?? '') + k, { dtype: 'F32' as const, ...v }]));
  for (const k of embed.hostKeys ?? []) tensors[k] = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
  writeSafetensorsSync(file, tensors);
  return file;
}

function golden(): Record<string, Tensor & { data: Float32Array }> {
  const { tensors } = readSafetensorsSync(path.join(fixture, 'golden.safetensors'));
  return Object.fromEntries([...tensors].map(([k, t]) => [k, { data: toFloat32(t), shape: t.shape }]));
}

/** max |ours − ref| / max |ref| ≤ 1e-6 (the two loads build the same graph from the same numbers: in practice 0). */
function assertSame(ours: Tensor, ref: Tensor, what: string): void {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.data.length; i++) {
    err = Math.max(err, Math.abs(Number(ours.data[i]) - Number(ref.data[i])));
    scale = Math.max(scale, Math.abs(Number(ref.data[i])));
  }
  assert.ok(scale > 0 && err / scale <= 1e-6, `${what}: relative max difference ${(err / scale).toExponential(2)} > 1e-6`);
}

async function rejectsWith(run: () => Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

const escape = (s: string): RegExp => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

let scratch: string;
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vae-ldm-test-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The fixture in the LDM layout, changed by `edit`, as `<scratch>/<name>/ae.safetensors`. */
function ldmFixture(name: string, edit: (w: Weights) => void = () => {}, embed: { prefix?: string; hostKeys?: string[] } = {}): string {
  const w = toLdmLayout(fixtureWeights(), 2, 1);
  edit(w);
  return writeWeights(path.join(scratch, name, 'ae.safetensors'), w, embed);
}

function rename(w: Weights, from: string, to: string): void {
  assert.ok(w.has(from), `test: no ${from}`);
  w.set(to, w.get(from)!);
  w.delete(from);
}

describe('an LDM-layout file (the SD VAE layout of the fixture) loads without config.json', () => {
  const g = golden();
  let reference: AutoencoderKL;
  let refDecoded: Tensor;
  let refEncoded: Tensor;
  before(async () => {
    reference = await loadVAE(vaeDir, { threads: 1 });
    refDecoded = await reference.decode(g.z);
    refEncoded = await reference.encode(g.x);
  });
  after(() => reference.release());

  it('ae.safetensors decodes and encodes as the diffusers folder, with the config read off its shapes', async () => {
    const file = ldmFixture('sd-layout');
    assert.equal(resolveVAEFiles(file).configFile, undefined);
    const vae = await loadVAE(file, { threads: 1 });
    try {
      assertSame(await vae.decode(g.z), refDecoded, 'decode');
      assertSame(await vae.encode(g.x), refEncoded, 'encode');
      const c = vae.config;
      assert.deepEqual(
        [c.inChannels, c.outChannels, c.latentChannels, c.blockOutChannels, c.layersPerBlock, c.normNumGroups, c.midBlockAddAttention, c.useQuantConv, c.usePostQuantConv],
        [3, 3, 4, [32, 64], 1, 32, true, true, true],
      );
      // 4 latent channels with quant convs is the SD VAE: LDM's scale_factor, no shift
      assert.equal(vae.scalingFactor, 0.18215);
      assert.equal(vae.shiftFactor, 0);
    } finally {
      await vae.release();
    }
  });

  it('a folder holding just ae.safetensors loads the same', async () => {
    const file = ldmFixture('folder');
    const dir = path.dirname(file);
    assert.deepEqual(resolveVAEFiles(dir).weightFiles, [file]);
    const vae = await loadVAE(dir, { threads: 1 });
    try {
      assertSame(await vae.decode(g.z), refDecoded, 'decode');
    } finally {
      await vae.release();
    }
  });

  it('the VAE of a whole SD checkpoint (under first_stage_model., beside the UNet and text encoder) loads the same', async () => {
    const file = ldmFixture('embedded', undefined, {
      prefix: 'first_stage_model.',
      hostKeys: ['model.diffusion_model.input_blocks.0.0.weight', 'cond_stage_model.transformer.text_model.final_layer_norm.weight'],
    });
    const vae = await loadVAE(file, { threads: 1 });
    try {
      assertSame(await vae.decode(g.z), refDecoded, 'decode');
      assertSame(await vae.encode(g.x), refEncoded, 'encode');
    } finally {
      await vae.release();
    }
  });

  it('with a config.json beside it, the LDM file takes that config (its scaling_factor, not the default)', async () => {
    const file = ldmFixture('with-config');
    const config = JSON.parse(fs.readFileSync(path.join(vaeDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(path.dirname(file), 'config.json'), JSON.stringify({ ...config, scaling_factor: 0.5 }));
    const vae = await loadVAE(file, { threads: 1 });
    try {
      assert.equal(vae.scalingFactor, 0.5);
      assertSame(await vae.decode(g.z), refDecoded, 'decode');
    } finally {
      await vae.release();
    }
  });
});

describe("the FLUX.1 layout (16 latent channels, no quant convs) takes BFL's scale and shift", () => {
  /** 3 levels with two of equal width and 2 resnets per level: a wrong up-block order gives wrong numbers, not wrong shapes. */
  const fluxLike: VAEConfig = vaeConfigFromDiffusersJson(
    {
      block_out_channels: [32, 64, 64],
      down_block_types: Array(3).fill('DownEncoderBlock2D'),
      up_block_types: Array(3).fill('UpDecoderBlock2D'),
      layers_per_block: 2,
      latent_channels: 16,
      use_quant_conv: false,
      use_post_quant_conv: false,
      scaling_factor: 0.3611,
      shift_factor: 0.1159,
    },
    'flux-like',
  );
  const diffusersWeights = randomVAEWeights(fluxLike, 7);
  const ldmWeights = (): Weights =>
    toLdmLayout(new Map([...vaeParameterShapes(fluxLike)].map(([k, shape]) => [k, { shape, data: diffusersWeights.get(k)! }] as const)), 3, 2);

  it('decodes and encodes as the same weights in diffusers keys', async () => {
    const file = writeWeights(path.join(scratch, 'flux-like', 'ae.safetensors'), ldmWeights());
    const [vae, ref] = [await loadVAE(file, { threads: 1 }), new AutoencoderKL(fluxLike, diffusersWeights, { threads: 1 })];
    try {
      assert.deepEqual(vae.config, { ...fluxLike, sampleSize: [1024, 1024] });
      assert.equal(vae.scalingFactor, 0.3611);
      assert.equal(vae.shiftFactor, 0.1159);
      const z = { data: Float32Array.from({ length: 16 * 4 * 4 }, (_, i) => Math.sin(i * 0.7)), shape: [1, 16, 4, 4] };
      const x = { data: Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.cos(i * 0.3)), shape: [1, 3, 16, 16] };
      assertSame(await vae.decode(z), await ref.decode(z), 'decode');
      assertSame(await vae.encode(x), await ref.encode(x), 'encode');
    } finally {
      await Promise.all([vae.release(), ref.release()]);
    }
  });

  it("BFL's full-size ae keys and shapes (ch 128, ch_mult [1, 2, 4, 4], 2 resnets, z 16) give FLUX.1's config", () => {
    const flux = vaeConfigFromDiffusersJson(
      {
        block_out_channels: [128, 256, 512, 512],
        down_block_types: Array(4).fill('DownEncoderBlock2D'),
        up_block_types: Array(4).fill('UpDecoderBlock2D'),
        layers_per_block: 2,
        latent_channels: 16,
        use_quant_conv: false,
        use_post_quant_conv: false,
        scaling_factor: 0.3611,
        shift_factor: 0.1159,
        sample_size: 1024,
      },
      'FLUX.1-dev/vae/config.json',
    );
    const shapes = new Map([...ldmLayout(flux).values()].map(({ key, shape }) => [key, shape] as const));
    // Spot checks against BFL's modules: level widths 128·ch_mult, in-channels of each block from the level before.
    const expected: [string, number[] | undefined][] = [
      ['encoder.conv_in.weight', [128, 3, 3, 3]],
      ['encoder.down.1.block.0.nin_shortcut.weight', [256, 128, 1, 1]],
      ['encoder.down.2.downsample.conv.weight', [512, 512, 3, 3]],
      ['encoder.down.3.downsample.conv.weight', undefined],
      ['encoder.mid.attn_1.q.weight', [512, 512, 1, 1]],
      ['encoder.norm_out.weight', [512]],
      ['encoder.conv_out.weight', [32, 512, 3, 3]],
      ['decoder.conv_in.weight', [512, 16, 3, 3]],
      ['decoder.mid.attn_1.proj_out.weight', [512, 512, 1, 1]],
      ['decoder.up.3.block.2.conv2.weight', [512, 512, 3, 3]],
      ['decoder.up.3.upsample.conv.weight', [512, 512, 3, 3]],
      ['decoder.up.2.block.0.nin_shortcut.weight', undefined],
      ['decoder.up.1.block.0.nin_shortcut.weight', [256, 512, 1, 1]],
      ['decoder.up.0.block.0.nin_shortcut.weight', [128, 256, 1, 1]],
      ['decoder.up.0.upsample.conv.weight', undefined],
      ['decoder.norm_out.weight', [128]],
      ['decoder.conv_out.weight', [3, 128, 3, 3]],
      ['quant_conv.weight', undefined],
    ];
    for (const [key, shape] of expected) assert.deepEqual(shapes.get(key), shape, key);
    assert.equal(shapes.size, 244); // ae.safetensors holds 244 tensors
    const headerOnly = new Map([...shapes].map(([k, shape]) => [k, { dtype: 'F32', shape, data: new Uint8Array(0) } as StTensor] as const));
    assert.deepEqual(ldmVAEConfig({ tensors: headerOnly, embedded: false, hostKeys: [] }, 'ae.safetensors'), flux);
  });

  it('the same layout inside a whole checkpoint (SD3 keeps its VAE there, scaled differently) is refused', async () => {
    const file = writeWeights(path.join(scratch, 'sd3-like', 'model.safetensors'), ldmWeights(), { prefix: 'first_stage_model.', hostKeys: ['model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight'] });
    await rejectsWith(() => loadVAE(file), escape(file), /under first_stage_model\., a VAE with 16 latent channels and no quant convs/, /config\.json/);
  });
});

describe('a bad LDM-layout file is refused naming the file, the key, and expected against found', () => {
  it('keys of both layouts in one file: one of each is named', async () => {
    const file = ldmFixture('mixed', (w) => rename(w, 'decoder.norm_out.weight', 'decoder.conv_norm_out.weight'));
    await rejectsWith(() => loadVAE(file), escape(file), /mixes two key layouts: \S+ is in the LDM\/BFL layout, decoder\.conv_norm_out\.weight in diffusers' AutoencoderKL layout/);
  });

  it('a missing key, a Linear-shaped attention weight and a foreign key are all listed under their names in the file', async () => {
    const file = ldmFixture('mismatch', (w) => {
      w.delete('decoder.mid.attn_1.proj_out.weight');
      const q = w.get('encoder.mid.attn_1.q.weight')!;
      w.set('encoder.mid.attn_1.q.weight', { shape: [64, 64], data: q.data });
      w.set('decoder.up.0.attn.0.q.weight', { shape: [32, 32, 1, 1], data: new Float32Array(32 * 32) });
    });
    await rejectsWith(
      () => loadVAE(file),
      escape(file),
      /does not match an LDM-layout AutoencoderKL \(3 problems\)/,
      /missing decoder\.mid\.attn_1\.proj_out\.weight \[64, 64, 1, 1\]/,
      /encoder\.mid\.attn_1\.q\.weight: expected \[64, 64, 1, 1\], found \[64, 64\]/,
      /unexpected decoder\.up\.0\.attn\.0\.q\.weight \[32, 32, 1, 1\]/,
      /inferred from the shapes \(block_out_channels \[32, 64\], layers_per_block 1, latent_channels 4/,
    );
  });

  it('a decoder level the encoder does not have is unexpected; an encoder level gap is named', async () => {
    const extraLevel = ldmFixture('extra-level', (w) => w.set('decoder.up.2.block.0.conv1.weight', { shape: [64, 64, 3, 3], data: new Float32Array(64 * 64 * 9) }));
    await rejectsWith(() => loadVAE(extraLevel), /\(1 problem\)/, /unexpected decoder\.up\.2\.block\.0\.conv1\.weight \[64, 64, 3, 3\]/);
    const gap = ldmFixture('level-gap', (w) => {
      for (const k of [...w.keys()]) if (k.startsWith('encoder.down.1.')) rename(w, k, k.replace('encoder.down.1.', 'encoder.down.2.'));
    });
    await rejectsWith(() => loadVAE(gap), escape(gap), /encoder levels encoder\.down\.\{0, 2\}; expected 0 … 1 without gaps/);
  });

  it('a key the config is read from is named when it is missing', async () => {
    const file = ldmFixture('no-conv-in', (w) => w.delete('decoder.conv_in.weight'));
    await rejectsWith(() => loadVAE(file), escape(file), /has no config\.json, and latent_channels cannot be inferred: decoder\.conv_in\.weight is missing/);
  });

  it('a latent layout that is neither FLUX.1 nor SD has no known scaling without config.json', async () => {
    const file = ldmFixture('no-quant', (w) => {
      for (const k of [...w.keys()]) if (k.startsWith('quant_conv.') || k.startsWith('post_quant_conv.')) w.delete(k);
    });
    await rejectsWith(() => loadVAE(file), /4 latent channels, no quant_conv and no post_quant_conv, which is neither FLUX\.1's ae \(16, none\) nor the SD VAE \(4, both\)/, /config\.json beside ae\.safetensors/);
  });

  it("an SDXL checkpoint's VAE (SD's shapes, another scaling) is refused", async () => {
    const file = ldmFixture('sdxl', undefined, { prefix: 'first_stage_model.', hostKeys: ['conditioner.embedders.1.model.ln_final.weight'] });
    await rejectsWith(() => loadVAE(file), /SDXL-family checkpoint \(it holds conditioner\.embedders\.1\.model\.ln_final\.weight\)/);
  });

  it('a diffusers-keyed file without config.json, and a folder with neither config nor ae.safetensors', async () => {
    const file = writeWeights(path.join(scratch, 'diffusers-alone', 'weights.safetensors'), fixtureWeights());
    await rejectsWith(() => loadVAE(file), escape(file), /has no config\.json beside it/, /not in the LDM\/BFL layout/);
    await rejectsWith(() => loadVAE(path.dirname(file)), /holds neither config\.json, vae\/config\.json nor ae\.safetensors/);
  });
});
