// `tcpade generate --prompt-embeds` on the text-conditioned families, end to end: a tiny FLUX pipeline folder
// (the FLUX fixture's transformer + a random 1-latent-channel AutoencoderKL + model_index.json) to an RGB prompt
// grid, and a tiny Wan folder to video latents with CFG against negative_prompt_embeds — under several cache
// methods — and the bad inputs around them with their messages.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensorsSync, toFloat32, toInt64Numbers, writeSafetensorsSync, type StWritableTensor } from '../../src/io/safetensors.js';
import { Rng } from '../../src/diffusion/rng.js';
import { repoRoot, tcpade } from '../support/cli.js';
import { writeOneChannelVae } from '../support/pipeline-folder.js';

const fixtures = path.join(repoRoot, 'test/fixtures');
let tmp: string;
let flux: string;
let wan: string;

function randomTensor(seed: number, shape: number[]): StWritableTensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'F32', shape, data: Float32Array.from({ length: n }, () => rng.normal()) };
}

function writeEmbeds(file: string, tensors: Record<string, StWritableTensor>): string {
  writeSafetensorsSync(file, tensors);
  return file;
}

/** A FluxPipeline-like folder: the FLUX fixture (in_channels 4 → 1 latent channel) and a ÷8 AutoencoderKL with 1 latent channel. */
function writeFluxPipeline(dir: string): string {
  fs.cpSync(path.join(fixtures, 'flux_diffusers_tiny_golden/transformer'), path.join(dir, 'transformer'), { recursive: true });
  writeOneChannelVae(path.join(dir, 'vae'));
  fs.writeFileSync(path.join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'FluxPipeline', transformer: ['diffusers', 'FluxTransformer2DModel'], vae: ['diffusers', 'AutoencoderKL'] }));
  return dir;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-prompt-'));
  flux = writeFluxPipeline(path.join(tmp, 'FLUX-tiny'));
  wan = path.join(fixtures, 'wan_diffusers_tiny_golden/transformer');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const common = ['--steps', '6', '--seed', '3', '--threads', '1', '--no-progress'];
const stats = (out: string) => JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8'));

describe('tcpade generate --prompt-embeds on FLUX (pipeline folder with vae/)', () => {
  // 2 prompts × 5 T5 tokens of width 32 (joint_attention_dim), pooled width 32
  let embeds: string;
  before(() => {
    embeds = writeEmbeds(path.join(tmp, 'flux-embeds.safetensors'), { prompt_embeds: randomTensor(1, [2, 5, 32]), pooled_prompt_embeds: randomTensor(2, [2, 32]) });
  });

  const runs: Record<string, Float32Array> = {};
  for (const cache of ['none', 'tcpade', 'fbcache', 'taylorseer']) {
    it(`--cache ${cache}: an RGB grid with one row per prompt, per-sample PNGs and finite images in [0, 1]`, async () => {
      const out = path.join(tmp, `flux-${cache}`);
      const r = await tcpade('generate', '--model', flux, '--prompt-embeds', embeds, '--per-prompt', '2', '--width', '48', '--height', '32', '--cache', cache, ...common, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      const t = readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors;
      // 32 × 48 px: a 2 × 3 packed grid, unpacked to 1 × 4 × 6 latents, decoded ×8
      assert.deepEqual(t.get('images')!.shape, [4, 3, 32, 48]);
      assert.deepEqual(toInt64Numbers(t.get('prompts')!), [0, 0, 1, 1]);
      const images = toFloat32(t.get('images')!);
      assert.ok(images.every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
      assert.ok(new Set(images).size > 100, 'the images are not constant');
      assert.ok(fs.existsSync(path.join(out, 'grid.png')));
      assert.deepEqual(fs.readdirSync(path.join(out, 'samples')).sort(), ['000.png', '001.png', '002.png', '003.png']);
      const s = stats(out);
      assert.equal(s.sampler, 'flow-euler');
      assert.equal(s.cfg, 1);
      assert.equal(s.guidance, 3.5);
      assert.equal(s.prompts, 2);
      assert.equal(s.textTokens, 5);
      assert.deepEqual(s.size, { heightPx: 32, widthPx: 48, textTokens: 5 });
      assert.ok(s.vaeMs > 0);
      runs[cache] = images;
      if (cache !== 'none' && runs.none) {
        // a cached run predicted something, or it equals the full run exactly
        if (s.predictedCount === 0) assert.deepEqual(images, runs.none);
        else assert.notDeepEqual(images, runs.none);
      }
      // samples of different prompts differ (the conditioning reaches the model)
      const per = 3 * 32 * 48;
      assert.notDeepEqual(images.subarray(0, per), images.subarray(2 * per, 3 * per));
    });
  }

  it('the --guidance value changes the images; without a VAE the unpacked latents are written', async () => {
    const out = path.join(tmp, 'flux-latents');
    const r = await tcpade('generate', '--model', path.join(flux, 'transformer'), '--prompt-embeds', embeds, '--width', '32', '--height', '32', '--guidance', '7', ...common, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1-channel latents and no VAE was given: wrote the latents only/);
    const lat = readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors.get('latents')!;
    assert.deepEqual(lat.shape, [2, 1, 4, 4]);
    assert.ok(toFloat32(lat).every(Number.isFinite));
    assert.equal(stats(out).guidance, 7);
    const outDefault = path.join(tmp, 'flux-latents-default');
    const d = await tcpade('generate', '--model', path.join(flux, 'transformer'), '--prompt-embeds', embeds, '--width', '32', '--height', '32', ...common, '--out', outDefault);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(stats(outDefault).guidance, 3.5);
    const latDefault = toFloat32(readSafetensorsSync(path.join(outDefault, 'samples.safetensors')).tensors.get('latents')!);
    assert.notDeepEqual(latDefault, toFloat32(lat));
  });

  const bad: [string, () => string[], RegExp][] = [
    ['no --prompt-embeds', () => [], /text-conditioned: pass --prompt "…" \(with the pipeline folder's text encoders\) or --prompt-embeds <file\.safetensors> holding prompt_embeds \[P, L, 32\] and pooled_prompt_embeds \[P, 32\]/],
    [
      'a missing pooled tensor',
      () => ['--prompt-embeds', writeEmbeds(path.join(tmp, 'nopool.safetensors'), { prompt_embeds: randomTensor(1, [1, 5, 32]) })],
      /has no tensor "pooled_prompt_embeds": this model \(pooled width 32\) needs it, shaped \[1, 32\] \(tensors in the file: prompt_embeds \[1, 5, 32\]\)/,
    ],
    [
      'a text width other than joint_attention_dim',
      () => ['--prompt-embeds', writeEmbeds(path.join(tmp, 'wide.safetensors'), { prompt_embeds: randomTensor(1, [1, 5, 64]), pooled_prompt_embeds: randomTensor(2, [1, 32]) })],
      /"prompt_embeds" is \[1, 5, 64\] but this model \(text width 32\) needs \[P, L, 32\]/,
    ],
    ['a side not a multiple of 16', () => ['--prompt-embeds', embeds, '--width', '40'], /FLUX image width must be a positive multiple of 16 pixels .* got 40; nearest valid: 32 or 48/],
    ['--cfg other than 1', () => ['--prompt-embeds', embeds, '--cfg', '4'], /runs without classifier-free guidance .*: leave --cfg at 1 and set the embedded guidance with --guidance/],
    ['--frames on an image model', () => ['--prompt-embeds', embeds, '--frames', '5'], /--frames applies to video models only/],
    ['--classes on a text model', () => ['--prompt-embeds', embeds, '--classes', '1'], /--classes is for class-conditional models; this one is text-conditioned/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what}, and writes nothing`, async () => {
      const out = path.join(tmp, `flux-bad-${what.replace(/\W+/g, '-')}`);
      const r = await tcpade('generate', '--model', flux, '--width', '32', '--height', '32', ...args(), ...common, '--out', out);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.ok(!fs.existsSync(out));
    });
  }
});

describe('tcpade generate --prompt-embeds on Wan (transformer folder → video latents)', () => {
  // 2 prompts × 6 umT5 tokens of width 16 (text_dim); one negative for both
  let embeds: string;
  before(() => {
    embeds = writeEmbeds(path.join(tmp, 'wan-embeds.safetensors'), { prompt_embeds: randomTensor(4, [2, 6, 16]), negative_prompt_embeds: randomTensor(5, [1, 6, 16]) });
  });
  const size = ['--width', '48', '--height', '32', '--frames', '5'];

  const runs: Record<string, Float32Array> = {};
  for (const cache of ['none', 'tcpade', 'fbcache', 'taylorseer']) {
    it(`--cache ${cache}: CFG 5 against the negative embedding, latents [N, 4, 2, 4, 6]`, async () => {
      const out = path.join(tmp, `wan-${cache}`);
      const r = await tcpade('generate', '--model', wan, '--prompt-embeds', embeds, ...size, '--cache', cache, ...common, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /video latents \[N, C, F, H, W\] and no video VAE was found: wrote the latents only/);
      const t = readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors;
      // 5 frames → (5 − 1)/4 + 1 = 2 latent frames; 32 × 48 px ÷ 8 → 4 × 6
      assert.deepEqual(t.get('latents')!.shape, [2, 4, 2, 4, 6]);
      assert.deepEqual(toInt64Numbers(t.get('prompts')!), [0, 1]);
      const lat = toFloat32(t.get('latents')!);
      assert.ok(lat.every(Number.isFinite));
      assert.ok(!fs.existsSync(path.join(out, 'grid.png')));
      const s = stats(out);
      assert.equal(s.cfg, 5);
      assert.deepEqual(s.branches, ['cond', 'uncond']);
      assert.deepEqual(s.size, { heightPx: 32, widthPx: 48, frames: 5, textTokens: 6 });
      runs[cache] = lat;
      if (cache !== 'none' && runs.none) {
        if (s.predictedCount === 0) assert.deepEqual(lat, runs.none);
        else assert.notDeepEqual(lat, runs.none);
      }
    });
  }

  it('the negative embedding matters: --cfg 1 (no negative needed) gives other latents than CFG 5', async () => {
    const plain = writeEmbeds(path.join(tmp, 'wan-plain.safetensors'), { prompt_embeds: randomTensor(4, [2, 6, 16]) });
    const out = path.join(tmp, 'wan-cfg1');
    const r = await tcpade('generate', '--model', wan, '--prompt-embeds', plain, ...size, '--cfg', '1', ...common, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const lat = toFloat32(readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors.get('latents')!);
    assert.ok(lat.every(Number.isFinite));
    if (runs.none) assert.notDeepEqual(lat, runs.none);
  });

  const bad: [string, () => string[], RegExp][] = [
    [
      'CFG without negative_prompt_embeds',
      () => ['--prompt-embeds', writeEmbeds(path.join(tmp, 'wan-noneg.safetensors'), { prompt_embeds: randomTensor(4, [1, 6, 16]) }), ...size],
      /has no tensor "negative_prompt_embeds": classifier-free guidance \(--cfg > 1\) against a negative prompt .* needs it, shaped \[1, 6, 16\]/,
    ],
    ['frames not 4k + 1', () => ['--prompt-embeds', embeds, '--width', '48', '--height', '32', '--frames', '4'], /Wan frames must be 4k \+ 1 .*got 4; nearest valid: 1 or 5/],
    ['a height not ÷ 16', () => ['--prompt-embeds', embeds, '--width', '48', '--height', '40', '--frames', '5'], /Wan height must be a positive multiple of 16 pixels \(VAE ÷8, then patch 2\), got 40; nearest valid: 32 or 48/],
    ['a size past the RoPE table', () => ['--prompt-embeds', embeds, '--width', '1024', '--height', '32', '--frames', '5'], /Wan width 1024 px gives 64 token columns, more than the model's RoPE table \(rope_max_seq_len 32\): at most 512 px/],
    ['--guidance on a model without a guidance embedding', () => ['--prompt-embeds', embeds, ...size, '--guidance', '3'], /has no guidance embedding .*: leave out --guidance \(use --cfg for classifier-free guidance\)/],
    ['an image VAE for video latents', () => ['--prompt-embeds', embeds, ...size, '--vae', path.join(flux, 'vae')], /holds an image VAE \(AutoencoderKL\), but an AutoencoderKLWan \(video VAE\) is needed here/],
    ['--prompt-embeds on a class-conditional model', () => ['--model', path.join(fixtures, 'dit_diffusers_tiny/transformer'), '--prompt-embeds', embeds], /--prompt-embeds is for text-conditioned models .*this dit model is class-conditional/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what}, and writes nothing`, async () => {
      const out = path.join(tmp, `wan-bad-${what.replace(/\W+/g, '-')}`);
      const r = await tcpade('generate', '--model', wan, ...args(), ...common, '--out', out);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.ok(!fs.existsSync(out));
    });
  }
});
