// AutoencoderKL parity with diffusers (golden decode/encode of the tiny fixture, relative max error ≤ 1e-4,
// taps included), through every weights format; the public API; and every way a file or call can be wrong.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError } from '../../src/io/errors.js';
import { readSafetensorsSync, toFloat32, writeSafetensorsSync } from '../../src/io/safetensors.js';
import { CompiledGraph } from '../../src/runtime/session.js';
import { AutoencoderKL, VAEInputError, loadVAE, readVAE, resolveVAEFiles } from '../../src/models/vae/index.js';
import { vaeConfigFromDiffusersJson } from '../../src/models/vae/config.js';
import { vaeParameterShapes } from '../../src/models/vae/architecture.js';
import { buildDecoderGraph } from '../../src/models/vae/graph.js';
import { decoderFlops } from '../../src/models/vae/flops.js';
import { randomVAEWeights } from '../../src/models/vae/random-weights.js';
import { parsePythonJson } from '../../src/io/python-json.js';
import { Tensor } from '../../src/models/tensor.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../fixtures/vae_diffusers_tiny'); // a pipeline-style folder holding vae/
const vaeDir = path.join(fixture, 'vae');
const binDir = path.join(fixture, 'bin');

/** The parity criterion of the task: max |ours − ref| / max |ref|. */
const PARITY_TOLERANCE = 1e-4;

function golden(): Record<string, Tensor & { data: Float32Array }> {
  const { tensors } = readSafetensorsSync(path.join(fixture, 'golden.safetensors'));
  return Object.fromEntries([...tensors].map(([k, t]) => [k, { data: toFloat32(t), shape: t.shape }]));
}

function relMaxError(ours: Tensor, ref: Tensor): number {
  assert.deepEqual(ours.shape, ref.shape, 'shape');
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.data.length; i++) {
    err = Math.max(err, Math.abs(Number(ours.data[i]) - Number(ref.data[i])));
    scale = Math.max(scale, Math.abs(Number(ref.data[i])));
  }
  return err / scale;
}

function assertParity(ours: Tensor, ref: Tensor, what: string): void {
  const e = relMaxError(ours, ref);
  assert.ok(e <= PARITY_TOLERANCE, `${what}: relative max error ${e.toExponential(2)} > ${PARITY_TOLERANCE}`);
}

const fixtureConfig = (): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(vaeDir, 'config.json'), 'utf8')) as Record<string, unknown>;

let scratch: string;
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vae-test-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A model folder in the scratch dir: the fixture's config and weights, each optionally changed. */
function modelFolder(
  name: string,
  change: { config?: (c: Record<string, unknown>) => void; tensors?: (t: Map<string, { shape: number[]; data: Float32Array }>) => void } = {},
): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  const config = fixtureConfig();
  change.config?.(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const { tensors } = readSafetensorsSync(path.join(vaeDir, 'diffusion_pytorch_model.safetensors'));
  const t = new Map([...tensors].map(([k, v]) => [k, { shape: v.shape, data: toFloat32(v) }] as const));
  change.tensors?.(t);
  writeSafetensorsSync(path.join(dir, 'diffusion_pytorch_model.safetensors'), Object.fromEntries([...t].map(([k, v]) => [k, { dtype: 'F32' as const, ...v }])));
  return dir;
}

async function rejectsWith(run: () => Promise<unknown>, type: new (...args: never[]) => Error, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('AutoencoderKL reproduces diffusers (relative max error ≤ 1e-4)', () => {
  const g = golden();

  it('decode(z).sample and encode(x).latent_dist.mean, loaded from the pipeline folder', async () => {
    const vae = await loadVAE(fixture, { threads: 1 });
    try {
      assertParity(await vae.decode(g.z), g.out, 'decode out');
      assertParity(await vae.encode(g.x), g.enc_mean, 'encode enc_mean');
    } finally {
      await vae.release();
    }
  });

  it('every decoder tap (conv_in, mid_block, each up block, conv_norm_out) matches its golden tap', async () => {
    const { config, weights } = await readVAE(vaeDir);
    const graph = await CompiledGraph.create(buildDecoderGraph(config, weights, 8, 8, { taps: true }), { threads: 1 });
    try {
      const out = await graph.run({ z: { data: g.z.data, shape: g.z.shape } });
      const taps = Object.keys(g).filter((k) => k.startsWith('tap.'));
      assert.equal(taps.length, 5);
      for (const k of taps) assertParity(out[k] as Tensor, g[k], k);
    } finally {
      await graph.release();
    }
  });

  it("with upsample and conv as separate ops (diffusers' order) the decoder gives the same output", async () => {
    const { config, weights } = await readVAE(vaeDir);
    const graph = await CompiledGraph.create(buildDecoderGraph(config, weights, 8, 8, { separateUpsample: true }), { threads: 1 });
    try {
      assertParity((await graph.run({ z: { data: g.z.data, shape: g.z.shape } })).sample as Tensor, g.out, 'decode out, separate upsample');
    } finally {
      await graph.release();
    }
  });

  it('a .bin written by torch.save loads (restricted unpickler) to the same outputs', async () => {
    const vae = await loadVAE(path.join(binDir, 'vae'), { threads: 1 });
    try {
      assertParity(await vae.decode(g.z), g.out, 'decode out from .bin');
    } finally {
      await vae.release();
    }
  });

  it('sharded safetensors (diffusion_pytorch_model.safetensors.index.json) load to the same outputs', async () => {
    const dir = path.join(scratch, 'sharded');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(vaeDir, 'config.json'), path.join(dir, 'config.json'));
    const { tensors } = readSafetensorsSync(path.join(vaeDir, 'diffusion_pytorch_model.safetensors'));
    const shards: Record<string, Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>> = {};
    const weightMap: Record<string, string> = {};
    for (const [key, t] of tensors) {
      const shard = key.startsWith('encoder.') ? 'diffusion_pytorch_model-00001-of-00002.safetensors' : 'diffusion_pytorch_model-00002-of-00002.safetensors';
      (shards[shard] ??= {})[key] = { dtype: 'F32', shape: t.shape, data: toFloat32(t) };
      weightMap[key] = shard;
    }
    for (const [name, content] of Object.entries(shards)) writeSafetensorsSync(path.join(dir, name), content);
    fs.writeFileSync(path.join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    assert.equal(resolveVAEFiles(dir).weightFiles.length, 2);
    const vae = await loadVAE(dir, { threads: 1 });
    try {
      assertParity(await vae.decode(g.z), g.out, 'decode out from shards');
    } finally {
      await vae.release();
    }
  });

  it('old attention key names (query/key/value/proj_attn, as in sd-vae-ft-mse) are renamed as diffusers does', async () => {
    const legacy = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' } as const;
    const dir = modelFolder('legacy-attention', {
      tensors: (t) => {
        for (const key of [...t.keys()]) {
          const m = /^(.*\.attentions\.0)\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(key);
          if (!m) continue;
          t.set(`${m[1]}.${legacy[m[2] as keyof typeof legacy]}.${m[3]}`, t.get(key)!);
          t.delete(key);
        }
      },
    });
    const vae = await loadVAE(dir, { threads: 1 });
    try {
      assertParity(await vae.decode(g.z), g.out, 'decode out with legacy attention names');
    } finally {
      await vae.release();
    }
  });

  it('decodes a batch sample by sample to the same values as the whole batch', async () => {
    const vae = await loadVAE(fixture, { threads: 1 });
    try {
      const one = await vae.decode({ data: g.z.data.slice(0, 4 * 64), shape: [1, 4, 8, 8] });
      const both = await vae.decode(g.z);
      assert.ok(relMaxError({ data: both.data.slice(0, one.data.length), shape: one.shape }, one) < 1e-6);
    } finally {
      await vae.release();
    }
  });
});

describe('AutoencoderKL public API', () => {
  it('exposes the config values diffusers pipelines use', async () => {
    const vae = await loadVAE(fixture);
    try {
      assert.equal(vae.scalingFactor, 0.18215);
      assert.equal(vae.shiftFactor, 0); // shift_factor null
      assert.equal(vae.latentChannels, 4);
      assert.equal(vae.downscaleFactor, 2); // 2 levels
      assert.deepEqual(vae.config.blockOutChannels, [32, 64]);
      assert.equal(vae.config.layersPerBlock, 1);
      assert.ok(vae.config.useQuantConv && vae.config.usePostQuantConv && vae.config.midBlockAddAttention);
    } finally {
      await vae.release();
    }
  });

  it('finds the weights from the pipeline folder, the vae folder or the file itself', () => {
    const want = path.join(vaeDir, 'diffusion_pytorch_model.safetensors');
    for (const p of [fixture, vaeDir, want]) assert.deepEqual(resolveVAEFiles(p).weightFiles, [want], p);
    assert.equal(resolveVAEFiles(path.join(binDir, 'vae')).format, 'bin');
  });

  it('reads the FLUX VAE layout: 16 latent channels, shift_factor, no quant convs', () => {
    const c = vaeConfigFromDiffusersJson(
      {
        _class_name: 'AutoencoderKL',
        _diffusers_version: '0.30.0.dev0',
        act_fn: 'silu',
        block_out_channels: [128, 256, 512, 512],
        down_block_types: Array(4).fill('DownEncoderBlock2D'),
        up_block_types: Array(4).fill('UpDecoderBlock2D'),
        force_upcast: true,
        in_channels: 3,
        latent_channels: 16,
        latents_mean: null,
        latents_std: null,
        layers_per_block: 2,
        mid_block_add_attention: true,
        norm_num_groups: 32,
        out_channels: 3,
        sample_size: 1024,
        scaling_factor: 0.3611,
        shift_factor: 0.1159,
        use_post_quant_conv: false,
        use_quant_conv: false,
      },
      'flux/vae/config.json',
    );
    assert.equal(c.shiftFactor, 0.1159);
    assert.equal(c.scalingFactor, 0.3611);
    const shapes = vaeParameterShapes(c);
    assert.ok(!shapes.has('quant_conv.weight') && !shapes.has('post_quant_conv.weight'));
    assert.deepEqual(shapes.get('decoder.conv_in.weight'), [512, 16, 3, 3]);
    assert.deepEqual(shapes.get('encoder.conv_out.weight'), [32, 512, 3, 3]);
    const params = (m: Map<string, number[]>): number => [...m.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    // FLUX: 244 tensors, 83,819,683 parameters; the SD layout adds the two quant convs: 248 tensors,
    // 83,653,863 parameters (the usual torchinfo count of the SD VAE).
    assert.equal(shapes.size, 244);
    assert.equal(params(shapes), 83_819_683);
    const sd = vaeParameterShapes({ ...c, latentChannels: 4, useQuantConv: true, usePostQuantConv: true });
    assert.equal(sd.size, 248);
    assert.equal(params(sd), 83_653_863);
  });

  it('a FLUX-layout VAE (no quant convs, shift) decodes and encodes with random weights', async () => {
    const c = vaeConfigFromDiffusersJson({ ...fixtureConfig(), latent_channels: 16, use_quant_conv: false, use_post_quant_conv: false, shift_factor: 0.1159 }, 'flux-like');
    const vae = new AutoencoderKL(c, randomVAEWeights(c, 3), { threads: 1 });
    try {
      const img = await vae.decode({ data: new Float32Array(16 * 4 * 4).fill(0.5), shape: [1, 16, 4, 4] });
      assert.deepEqual(img.shape, [1, 3, 8, 8]);
      assert.ok(Array.from(img.data as Float32Array).every(Number.isFinite));
      const z = await vae.encode({ data: new Float32Array(3 * 8 * 8).fill(0.1), shape: [1, 3, 8, 8] });
      assert.deepEqual(z.shape, [1, 16, 4, 4]);
      assert.equal(vae.shiftFactor, 0.1159);
    } finally {
      await vae.release();
    }
  });

  it('mid_block_add_attention: false drops the attention — equal to an attention whose output projection is zero', async () => {
    const { config, weights } = await readVAE(vaeDir);
    const zeroed = new Map(weights);
    for (const part of ['encoder', 'decoder'])
      for (const p of ['weight', 'bias']) {
        const k = `${part}.mid_block.attentions.0.to_out.0.${p}`;
        zeroed.set(k, new Float32Array(weights.get(k)!.length)); // attention adds exactly 0 to its residual
      }
    const noAttention = { ...config, midBlockAddAttention: false };
    const withoutKeys = new Map([...weights].filter(([k]) => !k.includes('.attentions.')));
    assert.equal(vaeParameterShapes(noAttention).size, withoutKeys.size);
    const a = new AutoencoderKL(config, zeroed, { threads: 1 });
    const b = new AutoencoderKL(noAttention, withoutKeys, { threads: 1 });
    try {
      const z = golden().z;
      assert.ok(relMaxError(await b.decode(z), await a.decode(z)) < 1e-6);
      const x = golden().x;
      assert.ok(relMaxError(await b.encode(x), await a.encode(x)) < 1e-6);
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });
});

describe('bad inputs are refused with what was expected and what came', () => {
  it('weights handed to the constructor are checked against the config, all problems at once', async () => {
    const { config, weights } = await readVAE(vaeDir);
    const broken = new Map(weights);
    broken.delete('decoder.conv_out.bias');
    broken.set('decoder.conv_in.weight', new Float32Array(3));
    assert.throws(() => new AutoencoderKL(config, broken), (e: unknown) => {
      assert.ok(e instanceof VAEInputError);
      assert.match(e.message, /\(2 problems\)/);
      assert.match(e.message, /missing decoder\.conv_out\.bias \[3\]/);
      assert.match(e.message, /decoder\.conv_in\.weight: expected \[64, 4, 3, 3\] \(2304 values\), got 3 values/);
      return true;
    });
  });

  let vae: AutoencoderKL;
  before(async () => {
    vae = await loadVAE(fixture, { threads: 1 });
  });
  after(() => vae.release());

  it('decode: a latent with the wrong channel count (e.g. a FLUX latent for an SD VAE)', async () => {
    await rejectsWith(() => vae.decode({ data: new Float32Array(16 * 64), shape: [1, 16, 8, 8] }), VAEInputError, /z has 16 channels/, /latent_channels is 4/, /expected \[B, 4, H, W\], got \[1, 16, 8, 8\]/);
  });

  it('decode: wrong rank, wrong length, wrong dtype', async () => {
    await rejectsWith(() => vae.decode({ data: new Float32Array(4 * 64), shape: [4, 8, 8] }), VAEInputError, /4-D tensor \[B, 4, H, W\]/);
    await rejectsWith(() => vae.decode({ data: new Float32Array(10), shape: [1, 4, 8, 8] }), VAEInputError, /has 10 values but shape \[1, 4, 8, 8\] needs 256/);
    await rejectsWith(() => vae.decode({ data: new BigInt64Array(256), shape: [1, 4, 8, 8] }), VAEInputError, /Float32Array, got BigInt64Array/);
  });

  it('encode: an image with the wrong channels or a size that is not a multiple of the downscale factor', async () => {
    await rejectsWith(() => vae.encode({ data: new Float32Array(4 * 16 * 16), shape: [1, 4, 16, 16] }), VAEInputError, /x has 4 channels/, /in_channels is 3/);
    await rejectsWith(() => vae.encode({ data: new Float32Array(3 * 15 * 16), shape: [1, 3, 15, 16] }), VAEInputError, /15×16, not a multiple of the downscale factor 2/);
  });

  it('a released VAE says so', async () => {
    const v = await loadVAE(fixture, { threads: 1 });
    await v.release();
    await rejectsWith(() => v.decode(golden().z), VAEInputError, /was released/);
  });
});

describe('bad files are refused naming the file, the field or key, and the expected value', () => {
  const cases: [string, (c: Record<string, unknown>) => void, RegExp[]][] = [
    ['act_fn gelu', (c) => (c.act_fn = 'gelu'), [/config field "act_fn" is "gelu"; only "silu"/]],
    ['an attention up block', (c) => (c.up_block_types = ['UpDecoderBlock2D', 'AttnUpDecoderBlock2D']), [/config field "up_block_types" holds "AttnUpDecoderBlock2D"; only "UpDecoderBlock2D"/]],
    ['a down block type', (c) => (c.down_block_types = ['DownEncoderBlock2D', 'SimpleDownEncoderBlock2D']), [/"down_block_types" holds "SimpleDownEncoderBlock2D"/]],
    ['block lists of different lengths', (c) => (c.up_block_types = ['UpDecoderBlock2D']), [/"up_block_types" has 1 entries but block_out_channels has 2/]],
    ['groups that do not divide the channels', (c) => (c.norm_num_groups = 24), [/"norm_num_groups" is 24, which does not divide block_out_channels entries 32, 64/]],
    ['a non-boolean flag', (c) => (c.mid_block_add_attention = 'yes'), [/"mid_block_add_attention" is "yes"; expected true or false/]],
    ['an unknown field', (c) => (c.use_framewise_decoding = true), [/does not know: use_framewise_decoding/]],
    ['another VAE class', (c) => (c._class_name = 'AutoencoderKLHunyuanVideo'), [/"AutoencoderKLHunyuanVideo" config; only AutoencoderKL/]],
    ['latents_mean of the wrong length', (c) => (c.latents_mean = [0.1, 0.2]), [/"latents_mean" is \[0.1,0.2\]; expected null or 4 finite numbers/]],
  ];
  for (const [name, change, patterns] of cases) {
    it(`unsupported config: ${name}`, async () => {
      const dir = modelFolder(`config-${name.replace(/\W+/g, '-')}`, { config: change });
      await rejectsWith(() => loadVAE(dir), CheckpointError, new RegExp(path.join(dir, 'config.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), ...patterns);
    });
  }

  it("config.json with Python's NaN/Infinity tokens is read (and a non-finite scaling_factor refused)", async () => {
    assert.deepEqual(parsePythonJson('{"a": NaN, "b": [-Infinity, Infinity], "s": "NaN Infinity"}'), { a: NaN, b: [-Infinity, Infinity], s: 'NaN Infinity' });
    const dir = modelFolder('config-nan');
    fs.writeFileSync(path.join(dir, 'config.json'), fs.readFileSync(path.join(dir, 'config.json'), 'utf8').replace('"scaling_factor":0.18215', '"scaling_factor":NaN'));
    await rejectsWith(() => loadVAE(dir), CheckpointError, /config field "scaling_factor" is NaN; expected a finite number/);
  });

  it('a missing key, an extra key and a wrong shape are all listed in one error', async () => {
    const dir = modelFolder('weights-mismatch', {
      tensors: (t) => {
        t.delete('decoder.up_blocks.1.resnets.0.conv_shortcut.weight');
        t.set('decoder.extra.weight', { shape: [2], data: new Float32Array(2) });
        const w = t.get('post_quant_conv.weight')!;
        t.set('post_quant_conv.weight', { shape: [4, 4], data: w.data });
      },
    });
    await rejectsWith(
      () => loadVAE(dir),
      CheckpointError,
      /diffusion_pytorch_model\.safetensors: does not match its AutoencoderKL config \(3 problems\)/,
      /missing decoder\.up_blocks\.1\.resnets\.0\.conv_shortcut\.weight \[32, 64, 1, 1\]/,
      /unexpected decoder\.extra\.weight \[2\]/,
      /post_quant_conv\.weight: expected \[4, 4, 1, 1\], found \[4, 4\]/,
    );
  });

  it('weights of another config (use_quant_conv false) are listed as unexpected keys', async () => {
    const dir = modelFolder('quant-conv-off', { config: (c) => (c.use_quant_conv = false) });
    await rejectsWith(() => loadVAE(dir), CheckpointError, /\(2 problems\)/, /unexpected quant_conv\.weight \[8, 8, 1, 1\]/, /use_quant_conv false/);
  });

  it('a .bin whose pickle calls a global other than tensor rebuilding is refused before anything runs', async () => {
    const file = path.join(binDir, 'unsafe', 'diffusion_pytorch_model.bin');
    await rejectsWith(() => loadVAE(path.join(binDir, 'unsafe')), CheckpointError, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /refusing to load global posix\.system: checkpoints may only contain tensors/);
  });

  it('a .bin holding plain numbers beside a tensor is not a state dict', async () => {
    await rejectsWith(() => loadVAE(path.join(binDir, 'not_tensors')), CheckpointError, /not_tensors\/diffusion_pytorch_model\.bin: no state dict/);
  });

  it('a folder without weights, and a path that does not exist', async () => {
    const dir = path.join(scratch, 'config-only');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(vaeDir, 'config.json'), path.join(dir, 'config.json'));
    await rejectsWith(() => loadVAE(dir), CheckpointError, /config-only: holds config\.json but no weights/, /diffusion_pytorch_model\.safetensors/);
    await rejectsWith(() => loadVAE(path.join(scratch, 'nowhere')), CheckpointError, /nowhere: does not exist/);
  });
});

describe("FLOP count (the benchmark's unit)", () => {
  /** A symbolic dim at batch 1: "B" → 1, "B*1024" → 1024. */
  const dim = (d: number | string): number => (typeof d === 'number' ? d : Number(d.split('*')[1] ?? 1));

  it("decoderFlops equals 2·MACs of the built graph's convs and attention matmuls", () => {
    const c = vaeConfigFromDiffusersJson({ block_out_channels: [32, 64, 64], down_block_types: Array(3).fill('DownEncoderBlock2D'), up_block_types: Array(3).fill('UpDecoderBlock2D'), layers_per_block: 2 }, 'small');
    const graph = buildDecoderGraph(c, randomVAEWeights(c, 1), 6, 5);
    let counted = 0;
    for (const n of graph.nodes) {
      const out = n.outputs[0].shape.map(dim);
      const [a, b] = n.inputs.map((v) => v.shape.map(dim));
      // Conv and UpsampleConv: every output element takes C·kH·kW multiply-adds (UpsampleConv counted as
      // the 3×3 conv on the upsampled image it stands for, not the 2×2 phase convs it runs).
      if (n.op === 'Conv' || n.op === 'UpsampleConv') counted += 2 * out.reduce((x, y) => x * y, 1) * b[1] * b[2] * b[3];
      else if (n.op === 'Gemm') counted += 2 * out[0] * out[1] * a[1];
      else if (n.op === 'MatMul') counted += 2 * out.reduce((x, y) => x * y, 1) * a[a.length - 1];
    }
    assert.equal(decoderFlops(c, 6, 5).total, counted);
  });

  it('the SD decoder at latent 32×32 (256² image) is 622.19 GFLOP: convs 617.89 G, attention 4.29 G', () => {
    const sd = vaeConfigFromDiffusersJson({ block_out_channels: [128, 256, 512, 512], down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'), layers_per_block: 2 }, 'sd');
    const f = decoderFlops(sd, 32, 32);
    // attention: 2·(4·T·C² + 2·T²·C) with T = 1024 tokens, C = 512 channels
    assert.equal(f.attention, 2 * (4 * 1024 * 512 * 512 + 2 * 1024 * 1024 * 512));
    assert.equal(f.conv, 617_892_315_136);
    assert.equal(decoderFlops(sd, 32, 32, 2).total, 2 * f.total);
  });
});
