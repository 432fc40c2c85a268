// AutoencoderKLWan (Wan 2.1 video VAE) parity with diffusers on the tiny golden (max |error| ≤ 1e-4 on
// decode, the unclamped decoder output, encode and the encoder's moments), the chunked decode and encode
// against an independent whole-sequence model for more frames than the golden has, causality, loading
// through loadVAE, and every way a file or a call can be wrong.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError } from '../../src/io/errors.js';
import { readSafetensorsSync, toFloat32, writeSafetensorsSync } from '../../src/io/safetensors.js';
import { CompiledGraph } from '../../src/runtime/session.js';
import { Rng } from '../../src/diffusion/rng.js';
import { AutoencoderKL, AutoencoderKLWan, VAEInputError, loadVAE } from '../../src/models/vae/index.js';
import { wanVAEConfigFromDiffusersJson } from '../../src/models/vae/wan/config.js';
import { wanVAEParameterShapes } from '../../src/models/vae/wan/architecture.js';
import { buildWanDecoderHeadGraph, stateInputName, wanDecoderSplitLevel, wanDecoderSplitShape } from '../../src/models/vae/wan/graph.js';
import { putFrames, sliceFrames } from '../../src/models/vae/wan/frames.js';
import { randomWanVAEWeights } from '../../src/models/vae/wan/random-weights.js';
import { Tensor } from '../../src/models/tensor.js';
import { WholeConfig, decodeWholeSequence, encodeWholeSequence, fromData } from './wan-vae-whole-sequence.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '../../../shared/fixtures/wan_vae_tiny');
const vaeDir = path.join(fixture, 'vae');

/** The task's criterion: max |ours − reference| ≤ 1e-4. */
const TOLERANCE = 1e-4;

type F32Tensor = Tensor & { data: Float32Array };

function golden(): Record<string, F32Tensor> {
  const { tensors } = readSafetensorsSync(path.join(fixture, 'golden.safetensors'));
  return Object.fromEntries([...tensors].map(([k, t]) => [k, { data: toFloat32(t), shape: t.shape }]));
}

function maxAbs(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(ours.length, ref.length, 'length');
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(Number(ours[i]) - Number(ref[i])));
  return m;
}

function assertClose(ours: Tensor, ref: Tensor, what: string, tol = TOLERANCE): number {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  const e = maxAbs(ours.data as Float32Array, ref.data as Float32Array);
  assert.ok(e <= tol, `${what}: max |error| ${e.toExponential(2)} > ${tol}`);
  return e;
}

/** Frames [t0, t0 + n) of a [B, C, T, H, W] tensor. */
function framesOf(t: F32Tensor, t0: number, n: number): F32Tensor {
  const s = t.shape as [number, number, number, number, number];
  return { data: sliceFrames(t.data, s, t0, n), shape: [s[0], s[1], n, s[3], s[4]] };
}

const fixtureConfig = (): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(vaeDir, 'config.json'), 'utf8')) as Record<string, unknown>;
const fixtureTensors = (): Map<string, { shape: number[]; data: Float32Array }> =>
  new Map([...readSafetensorsSync(path.join(vaeDir, 'diffusion_pytorch_model.safetensors')).tensors].map(([k, v]) => [k, { shape: v.shape, data: toFloat32(v) }]));

/** The tiny fixture's architecture in the whole-sequence model's terms (README: base 8, dim_mult [1, 2, 2, 2]). */
const WHOLE: WholeConfig = {
  zDim: 16,
  decoderMid: 16,
  decoderLevels: [{ out: 16, resnets: 2, up: '3d' }, { out: 16, resnets: 2, up: '3d' }, { out: 16, resnets: 2, up: '2d' }, { out: 8, resnets: 2 }],
  encoderBase: 8,
  encoderLevels: [{ out: 8, resnets: 1, down: '2d' }, { out: 16, resnets: 1, down: '3d' }, { out: 16, resnets: 1, down: '3d' }, { out: 16, resnets: 1 }],
  outChannels: 3,
};

let scratch: string;
let vae: AutoencoderKLWan;
const g = golden();
before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wan-vae-test-'));
  vae = await loadVAE(fixture, { threads: 1, expect: 'video' });
});
after(async () => {
  await vae.release();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('AutoencoderKLWan reproduces diffusers on the tiny golden (max |error| ≤ 1e-4)', () => {
  it('loadVAE recognises the AutoencoderKLWan config and returns the video VAE', async () => {
    const any = await loadVAE(fixture, { threads: 1 });
    try {
      assert.ok(any instanceof AutoencoderKLWan);
      assert.equal((any as unknown as AutoencoderKLWan).kind, 'video');
    } finally {
      await any.release();
    }
    assert.equal(vae.latentChannels, 16);
    assert.deepEqual([vae.spatialFactor, vae.temporalFactor, vae.framesFor(3), vae.framesFor(21)], [8, 4, 9, 81]);
    assert.deepEqual(vae.config.temporalDownsample, [false, true, true]);
  });

  it('decode(z) = out (clamped) and decode(z, { clamp: false }) = tap.decoder_unclamped', async () => {
    const out = await vae.decode(g.z);
    const raw = await vae.decode(g.z, { clamp: false });
    const eOut = assertClose(out, g.out, 'decode out');
    const eRaw = assertClose(raw, g['tap.decoder_unclamped'], 'decoder_unclamped');
    console.log(`# parity: out ${eOut.toExponential(2)}, decoder_unclamped ${eRaw.toExponential(2)} (max |error|)`);
    // The clamp must matter here, or the unclamped comparison would not test anything more.
    assert.ok(Math.max(...(raw.data as Float32Array).map(Math.abs)) > 1.2);
    assert.ok(Math.max(...(out.data as Float32Array).map(Math.abs)) <= 1);
  });

  it('encode(x) = enc_mean and encodeMoments(x) = tap.encoder_moments (mean, then logvar)', async () => {
    const eMean = assertClose(await vae.encode(g.x), g.enc_mean, 'enc_mean');
    const eMoments = assertClose(await vae.encodeMoments(g.x), g['tap.encoder_moments'], 'encoder_moments');
    console.log(`# parity: enc_mean ${eMean.toExponential(2)}, encoder_moments ${eMoments.toExponential(2)} (max |error|)`);
  });

  it('tap.post_quant_conv: the first-chunk head graph, run on each latent frame, matches every frame', async () => {
    const weights = new Map([...fixtureTensors()].map(([k, v]) => [k, v.data]));
    const cg = buildWanDecoderHeadGraph(vae.config, weights, 4, 6, true, { taps: true });
    const graph = await CompiledGraph.create(cg.graph, { threads: 1 });
    try {
      for (let t = 0; t < 3; t++) {
        const feeds: Record<string, { data: Float32Array; shape: number[] }> = { z: framesOf(g.z, t, 1) as { data: Float32Array; shape: number[] } };
        for (const r of cg.reads) feeds[stateInputName(r.key)] = { data: new Float32Array(r.shape.reduce((a, b) => a * b, 1)), shape: [1, ...r.shape] };
        const out = await graph.run(feeds);
        const e = assertClose(out['tap.post_quant_conv'] as Tensor, framesOf(g['tap.post_quant_conv'], t, 1), `post_quant_conv frame ${t}`);
        console.log(`# parity: post_quant_conv frame ${t} ${e.toExponential(2)} (max |error|)`);
      }
    } finally {
      await graph.release();
    }
  });

  it('the independent whole-sequence model reproduces the golden too (so it can judge other lengths)', () => {
    const ws = new Map([...fixtureTensors()].map(([k, v]) => [k, v.data]));
    const d = decodeWholeSequence(ws, WHOLE, fromData(g.z.data, g.z.shape.slice(1)));
    assert.ok(maxAbs(d.d, g['tap.decoder_unclamped'].data) <= TOLERANCE);
    const e = encodeWholeSequence(ws, WHOLE, fromData(g.x.data, g.x.shape.slice(1)));
    assert.ok(maxAbs(e.d, g['tap.encoder_moments'].data) <= TOLERANCE);
  });
});

describe('chunked decode and encode equal the reference for other lengths', () => {
  const ws = new Map([...fixtureTensors()].map(([k, v]) => [k, v.data]));

  it('T = 1 and T = 2 latent frames give the first 1 and 5 golden frames (the reference is causal)', async () => {
    assertClose(await vae.decode(framesOf(g.z, 0, 1), { clamp: false }), framesOf(g['tap.decoder_unclamped'], 0, 1), 'T = 1');
    assertClose(await vae.decode(framesOf(g.z, 0, 2), { clamp: false }), framesOf(g['tap.decoder_unclamped'], 0, 5), 'T = 2');
  });

  it('T = 5 latent frames (17 frames, three chunks past the golden) = the whole-sequence model', async () => {
    const rng = new Rng(11);
    const z: F32Tensor = { data: rng.randn(16 * 5 * 4 * 6), shape: [1, 16, 5, 4, 6] };
    const ours = await vae.decode(z, { clamp: false });
    assert.deepEqual(ours.shape, [1, 3, 17, 32, 48]);
    const whole = decodeWholeSequence(ws, WHOLE, fromData(z.data, z.shape.slice(1)));
    const e = maxAbs(ours.data as Float32Array, whole.d);
    console.log(`# T = 5 decode vs whole-sequence model: max |error| ${e.toExponential(2)}`);
    assert.ok(e <= TOLERANCE, `T = 5: ${e}`);
  });

  it('encode of 13 frames (4 chunks) = the whole-sequence model; of 1 and 5 frames = the golden prefix', async () => {
    const rng = new Rng(12);
    const x: F32Tensor = { data: Float32Array.from(rng.randn(3 * 13 * 16 * 16), (v) => Math.tanh(v)), shape: [1, 3, 13, 16, 16] };
    const ours = await vae.encodeMoments(x);
    assert.deepEqual(ours.shape, [1, 32, 4, 2, 2]);
    const e = maxAbs(ours.data as Float32Array, encodeWholeSequence(ws, WHOLE, fromData(x.data, x.shape.slice(1))).d);
    console.log(`# 13-frame encode vs whole-sequence model: max |error| ${e.toExponential(2)}`);
    assert.ok(e <= TOLERANCE, `13 frames: ${e}`);
    assertClose(await vae.encode(framesOf(g.x, 0, 1)), framesOf(g.enc_mean, 0, 1), 'encode 1 frame');
    assertClose(await vae.encode(framesOf(g.x, 0, 5)), framesOf(g.enc_mean, 0, 2), 'encode 5 frames');
  });

  it('a batch of two decodes each sample as it decodes alone', async () => {
    const other = { data: new Rng(5).randn(g.z.data.length), shape: g.z.shape };
    const both = await vae.decode({ data: Float32Array.of(...g.z.data, ...other.data), shape: [2, 16, 3, 4, 6] });
    const half = both.data.length / 2;
    assert.ok(maxAbs((both.data as Float32Array).subarray(0, half), g.out.data) <= TOLERANCE);
    assert.ok(maxAbs((both.data as Float32Array).subarray(half), (await vae.decode(other)).data as Float32Array) <= 1e-6);
  });
});

describe('causality: output frame k depends on latent frames 0 … ⌈k / 4⌉ only', () => {
  it('changing latent frame 2 leaves frames 0–4 bit-identical and changes frames 5–8; changing frames 1–2 leaves frame 0', async () => {
    const base = await vae.decode(g.z, { clamp: false });
    const changed = { data: Float32Array.from(g.z.data), shape: g.z.shape };
    const plane = 4 * 6;
    const rng = new Rng(3);
    for (let c = 0; c < 16; c++) for (let p = 0; p < plane; p++) changed.data[(c * 3 + 2) * plane + p] = rng.randn(1)[0];
    const out = await vae.decode(changed, { clamp: false });
    const b = base as F32Tensor;
    const o = out as F32Tensor;
    assert.equal(maxAbs(framesOf(o, 0, 5).data, framesOf(b, 0, 5).data), 0, 'frames 0–4 changed');
    for (let k = 5; k < 9; k++) assert.ok(maxAbs(framesOf(o, k, 1).data, framesOf(b, k, 1).data) > 1e-3, `frame ${k} did not change`);

    for (let c = 0; c < 16; c++) for (let p = 0; p < plane; p++) changed.data[(c * 3 + 1) * plane + p] = 0;
    const out2 = (await vae.decode(changed, { clamp: false })) as F32Tensor;
    assert.equal(maxAbs(framesOf(out2, 0, 1).data, framesOf(b, 0, 1).data), 0, 'frame 0 changed');
    assert.ok(maxAbs(framesOf(out2, 1, 1).data, framesOf(b, 1, 1).data) > 1e-3, 'frame 1 did not change');
  });

  it('encode: latent frame k depends on frames 0 … 4k only', async () => {
    const x = { data: Float32Array.from(g.x.data), shape: g.x.shape };
    const plane = 16 * 16;
    for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) x.data[(c * 9 + 8) * plane + p] = -x.data[(c * 9 + 8) * plane + p];
    const [a, b] = [(await vae.encode(g.x)) as F32Tensor, (await vae.encode(x)) as F32Tensor];
    assert.equal(maxAbs(framesOf(a, 0, 2).data, framesOf(b, 0, 2).data), 0);
    assert.ok(maxAbs(framesOf(a, 2, 1).data, framesOf(b, 2, 1).data) > 1e-4);
  });
});

describe('the decoder split: head graphs per latent frame, one tail graph per frame', () => {
  it('Wan 2.1 splits after up block 1 (its last temporal upsampler): the tail gets 192 channels at 4× the latent size', () => {
    const real = wanVAEConfigFromDiffusersJson({ _class_name: 'AutoencoderKLWan' }, 'defaults');
    assert.equal(wanDecoderSplitLevel(real), 2);
    assert.deepEqual(wanDecoderSplitShape(real, 60, 104), [192, 240, 416]);
    assert.deepEqual(wanDecoderSplitShape(vae.config, 4, 6), [8, 16, 24]);
  });
});

describe('spatial tiling', () => {
  it('a tile covering the latent decodes bit-identically to whole frames; auto-tiling follows the settings', async () => {
    const whole = await vae.decode(g.z, { tile: false });
    assert.equal(maxAbs((await vae.decode(g.z, { tile: { latentSize: 8, overlap: 2 } })).data as Float32Array, whole.data as Float32Array), 0);
    const { config } = vae;
    const weights = new Map([...fixtureTensors()].map(([k, v]) => [k, v.data]));
    const auto = new AutoencoderKLWan(config, weights, { threads: 1, tiling: { tile: { latentSize: 8, overlap: 2 }, autoAboveLatent: 8 } });
    try {
      const z: F32Tensor = { data: new Rng(9).randn(16 * 2 * 12 * 12), shape: [1, 16, 2, 12, 12] };
      const progress: string[] = [];
      const tiled = await auto.decode(z, { onProgress: (done, total) => progress.push(`${done}/${total}`) });
      assert.deepEqual(progress, ['1/8', '2/8', '3/8', '4/8', '5/8', '6/8', '7/8', '8/8']); // 2 × 2 tiles × 2 latent frames
      assert.deepEqual(tiled.shape, [1, 3, 5, 96, 96]);
      const explicit = await vae.decode(z, { tile: { latentSize: 8, overlap: 2 } });
      assert.equal(maxAbs(tiled.data as Float32Array, explicit.data as Float32Array), 0);
      // Tiles start at latent 0 and 4: pixels 0–31 lie in the top-left tile alone, so there the tiled
      // video is exactly that tile's own decode.
      const corner = await vae.decode(sub(z, 8), { tile: false });
      for (let f = 0; f < 5; f++)
        for (let c = 0; c < 3; c++)
          for (let i = 0; i < 32; i++)
            for (let j = 0; j < 32; j++) {
              const a = (tiled.data as Float32Array)[((c * 5 + f) * 96 + i) * 96 + j];
              const b = (corner.data as Float32Array)[((c * 5 + f) * 64 + i) * 64 + j];
              assert.equal(a, b, `frame ${f} channel ${c} pixel ${i},${j}`);
            }
    } finally {
      await auto.release();
    }
  });
});

/** The top-left n × n latent pixels of z [1, C, T, h, w]. */
function sub(z: F32Tensor, n: number): F32Tensor {
  const [, c, t, h, w] = z.shape;
  const out = new Float32Array(c * t * n * n);
  for (let p = 0; p < c * t; p++) for (let i = 0; i < n; i++) out.set(z.data.subarray((p * h + i) * w, (p * h + i) * w + n), (p * n + i) * n);
  return { data: out, shape: [1, c, t, n, n] };
}

describe("the pipeline's latent normalisation", () => {
  it('denormalizeLatents: z = latents / (1 / std) + mean per channel (float32 steps, as WanPipeline); normalizeLatents inverts it', () => {
    const { latentsMean: mean, latentsStd: std } = vae.config;
    const latents: F32Tensor = { data: new Rng(4).randn(16 * 2 * 3), shape: [1, 16, 2, 1, 3] };
    const z = vae.denormalizeLatents(latents);
    for (let i = 0; i < latents.data.length; i++) {
      const c = Math.floor(i / 6);
      const invStd = Math.fround(1 / Math.fround(std[c]));
      assert.equal((z.data as Float32Array)[i], Math.fround(Math.fround(latents.data[i] / invStd) + Math.fround(mean[c])));
      assert.ok(Math.abs((z.data as Float32Array)[i] - (latents.data[i] * std[c] + mean[c])) < 1e-5);
    }
    assert.ok(maxAbs(vae.normalizeLatents(z).data as Float32Array, latents.data) < 1e-5);
    assert.throws(() => vae.denormalizeLatents({ data: new Float32Array(4 * 6), shape: [1, 4, 2, 1, 3] }), /expected a float32 latent \[B, 16, T, h, w\], got shape \[1,4,2,1,3\]/);
  });
});

describe('bad calls are refused with a message saying what was expected', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['decode of a 4-D latent', () => vae.decode({ data: new Float32Array(16 * 24), shape: [1, 16, 4, 6] }), /z must be a 5-D tensor \[B, 16, T, h, w\], got shape \[1,16,4,6\] \(the Wan VAE takes video: add the time axis/],
    ['decode with 4 channels', () => vae.decode({ data: new Float32Array(4 * 24), shape: [1, 4, 1, 4, 6] }), /z has 4 channels but this VAE's z_dim is 16: expected \[B, 16, T, h, w\], got \[1, 4, 1, 4, 6\] \(a latent made for another VAE\?\)/],
    ['decode of Float64Array', () => vae.decode({ data: new Float64Array(16 * 24) as unknown as Float32Array, shape: [1, 16, 1, 4, 6] }), /must hold a Float32Array, got Float64Array/],
    ['decode with too few values', () => vae.decode({ data: new Float32Array(10), shape: [1, 16, 1, 4, 6] }), /has 10 values but shape \[1, 16, 1, 4, 6\] needs 384/],
    ['decode with T = 0', () => vae.decode({ data: new Float32Array(0), shape: [1, 16, 0, 4, 6] }), /must be a 5-D tensor/],
    ['decode with a bad clamp', () => vae.decode(g.z, { clamp: 'yes' as unknown as boolean }), /clamp must be true or false/],
    ['decode with a bad tile', () => vae.decode(g.z, { tile: { latentSize: 4, overlap: 1 } }), /tile\.latentSize must be an integer ≥ 8/],
    ['encode of 7 frames', () => vae.encode({ data: new Float32Array(3 * 7 * 256), shape: [1, 3, 7, 16, 16] }), /x has 7 frames; the Wan VAE encodes 1 \+ 4k frames \(nearest: 5 or 9\)/],
    ['encode of 12×16', () => vae.encode({ data: new Float32Array(3 * 12 * 16), shape: [1, 3, 1, 12, 16] }), /x is 12×16, not a multiple of the spatial factor 8/],
    ['encode with 4 channels', () => vae.encode({ data: new Float32Array(4 * 256), shape: [1, 4, 1, 16, 16] }), /x has 4 channels but this VAE's in_channels is 3/],
  ];
  for (const [name, run, pattern] of cases) {
    it(name, async () => {
      await assert.rejects(run, (e: unknown) => {
        assert.ok(e instanceof VAEInputError, `expected VAEInputError, got ${String(e)}`);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }

  it('a released VAE says so', async () => {
    const weights = new Map([...fixtureTensors()].map(([k, v]) => [k, v.data]));
    const v = new AutoencoderKLWan(vae.config, weights, { threads: 1 });
    await v.release();
    await assert.rejects(() => v.decode(g.z), /was released/);
  });

  it('weights handed to the constructor are checked all at once', () => {
    const weights = new Map([...fixtureTensors()].map(([k, v]) => [k, v.data]));
    weights.delete('decoder.conv_in.bias');
    weights.set('decoder.norm_out.gamma', new Float32Array(3));
    weights.set('encoder.extra', new Float32Array(1));
    assert.throws(
      () => new AutoencoderKLWan(vae.config, weights),
      /3 problems\):\n {2}missing decoder\.conv_in\.bias \[16\]\n {2}decoder\.norm_out\.gamma: expected \[8, 1, 1, 1\] \(8 values\), got 3 values\n {2}unexpected encoder\.extra/,
    );
  });
});

describe('loading', () => {
  let seq = 0;
  /** A Wan VAE folder in the scratch dir: the fixture's config and weights, each optionally changed. */
  function wanFolder(change: { config?: (c: Record<string, unknown>) => void; tensors?: (t: Map<string, { shape: number[]; data: Float32Array }>) => void } = {}, sub = ''): string {
    const root = path.join(scratch, `wan-${seq++}`);
    const dir = path.join(root, sub);
    fs.mkdirSync(dir, { recursive: true });
    const config = fixtureConfig();
    change.config?.(config);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const t = fixtureTensors();
    change.tensors?.(t);
    writeSafetensorsSync(path.join(dir, 'diffusion_pytorch_model.safetensors'), Object.fromEntries([...t].map(([k, v]) => [k, { dtype: 'F32' as const, ...v }])));
    return root;
  }

  it('from a pipeline folder holding vae/, and from sharded safetensors, to the same decode', async () => {
    const pipeline = wanFolder({}, 'vae');
    const dir = path.join(scratch, 'wan-sharded');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(vaeDir, 'config.json'), path.join(dir, 'config.json'));
    const shards: Record<string, Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>> = {};
    const weightMap: Record<string, string> = {};
    for (const [key, t] of fixtureTensors()) {
      const shard = `diffusion_pytorch_model-0000${key.startsWith('decoder.') ? 2 : 1}-of-00002.safetensors`;
      (shards[shard] ??= {})[key] = { dtype: 'F32', ...t };
      weightMap[key] = shard;
    }
    for (const [name, content] of Object.entries(shards)) writeSafetensorsSync(path.join(dir, name), content);
    fs.writeFileSync(path.join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const reference = await vae.decode(g.z);
    for (const p of [pipeline, dir]) {
      const v = await loadVAE(p, { threads: 1, expect: 'video' });
      try {
        assert.equal(maxAbs((await v.decode(g.z)).data as Float32Array, reference.data as Float32Array), 0, p);
      } finally {
        await v.release();
      }
    }
  });

  it("expect: 'image' refuses a Wan folder, expect: 'video' an image VAE, each naming both kinds", async () => {
    await assert.rejects(() => loadVAE(fixture, { expect: 'image' }), (e: unknown) => e instanceof CheckpointError && /holds an AutoencoderKLWan \(video VAE\), but an image VAE \(AutoencoderKL\) is needed here/.test(e.message));
    const image = path.join(here, '../fixtures/vae_diffusers_tiny');
    await assert.rejects(() => loadVAE(image, { expect: 'video' }), (e: unknown) => e instanceof CheckpointError && /holds an image VAE \(AutoencoderKL\), but an AutoencoderKLWan \(video VAE\) is needed here/.test(e.message));
    const either = await loadVAE(image, { threads: 1, expect: 'any' });
    try {
      assert.ok(either instanceof AutoencoderKL);
    } finally {
      await either.release();
    }
  });

  const configCases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ['Wan 2.2 residual blocks', (c) => (c.is_residual = true), /config field "is_residual" is true; only false \(the Wan 2\.1 VAE\) is implemented/],
    ['patchified input', (c) => (c.patch_size = 2), /config field "patch_size" is 2; only null/],
    ['attention in the down blocks', (c) => (c.attn_scales = [0.5]), /config field "attn_scales" is \[0\.5\]; only \[\] is implemented/],
    ['temperal_downsample of the wrong length', (c) => (c.temperal_downsample = [false, true]), /config field "temperal_downsample" is \[false,true\]; expected 3 booleans/],
    ['one temporal downsampler', (c) => (c.temperal_downsample = [false, false, true]), /\(1 temporal downsamplers\); exactly 2 are supported/],
    ['a spatial factor that does not match', (c) => (c.scale_factor_spatial = 16), /config field "scale_factor_spatial" is 16, but dim_mult \[1,2,2,2\] and temperal_downsample \[false,true,true\] give 8/],
    ['a zero latents_std', (c) => ((c.latents_std as number[])[3] = 0), /config field "latents_std" is .*; expected 16 finite positive numbers/],
    ['an unknown field', (c) => (c.clip_output = true), /config fields this AutoencoderKLWan implementation does not know: clip_output/],
  ];
  for (const [name, change, pattern] of configCases) {
    it(`refuses a config with ${name}, naming the file`, async () => {
      const dir = wanFolder({ config: change });
      await assert.rejects(() => loadVAE(dir), (e: unknown) => e instanceof CheckpointError && e.message.includes(path.join(dir, 'config.json')) && pattern.test(e.message));
    });
  }

  it('lists every missing, misshapen and unexpected weight at once, naming the file', async () => {
    const dir = wanFolder({
      tensors: (t) => {
        t.delete('decoder.up_blocks.2.upsamplers.0.resample.1.weight');
        t.set('encoder.down_blocks.3.time_conv.weight', { shape: [16, 16, 1, 1, 1], data: new Float32Array(256) });
        t.set('decoder.up_blocks.0.upsamplers.0.extra', { shape: [1], data: new Float32Array(1) });
      },
    });
    await assert.rejects(
      () => loadVAE(dir),
      (e: unknown) =>
        e instanceof CheckpointError &&
        e.message.includes(path.join(dir, 'diffusion_pytorch_model.safetensors')) &&
        /does not match its AutoencoderKLWan config \(3 problems\)/.test(e.message) &&
        /missing decoder\.up_blocks\.2\.upsamplers\.0\.resample\.1\.weight \[8, 16, 3, 3\]/.test(e.message) &&
        /encoder\.down_blocks\.3\.time_conv\.weight: expected \[16, 16, 3, 1, 1\], found \[16, 16, 1, 1, 1\]/.test(e.message) &&
        /unexpected decoder\.up_blocks\.0\.upsamplers\.0\.extra \[1\]/.test(e.message),
    );
  });
});

describe('frame ranges of [B, C, T, H, W] arrays', () => {
  it('sliceFrames and putFrames move exactly the frames asked for, per batch and channel', () => {
    const shape = [2, 3, 4, 1, 2] as const;
    const data = Float32Array.from({ length: 2 * 3 * 4 * 2 }, (_, i) => i);
    const mid = sliceFrames(data, shape, 1, 2);
    // element (b, c, t, 0, x) = ((b·3 + c)·4 + t)·2 + x
    assert.deepEqual([...mid.subarray(0, 4)], [2, 3, 4, 5]);
    assert.deepEqual([...mid.subarray(20, 24)], [((1 * 3 + 2) * 4 + 1) * 2, ((1 * 3 + 2) * 4 + 1) * 2 + 1, ((1 * 3 + 2) * 4 + 2) * 2, ((1 * 3 + 2) * 4 + 2) * 2 + 1]);
    const back = new Float32Array(data.length);
    putFrames(back, shape, sliceFrames(data, shape, 0, 1), 0);
    putFrames(back, shape, mid, 1);
    putFrames(back, shape, sliceFrames(data, shape, 3, 1), 3);
    assert.deepEqual(back, data);
    assert.throws(() => sliceFrames(data, shape, 3, 2), /frames \[3, 5\) are outside 0\.\.4/);
    assert.throws(() => putFrames(back, shape, mid, 3), /does not fit frames from 3/);
  });
});

describe('random weights (benchmarks)', () => {
  it('cover every parameter with the right sizes and decode to finite values', async () => {
    const c = vae.config;
    const weights = randomWanVAEWeights(c, 2);
    const shapes = wanVAEParameterShapes(c);
    assert.deepEqual([...weights.keys()], [...shapes.keys()]);
    const v = new AutoencoderKLWan(c, weights, { threads: 1 });
    try {
      const out = await v.decode({ data: new Float32Array(16 * 2 * 24).fill(0.3), shape: [1, 16, 2, 4, 6] }, { clamp: false });
      assert.ok((out.data as Float32Array).every(Number.isFinite));
    } finally {
      await v.release();
    }
  });
});
