// A diffusers DiT pipeline folder (Transformer2DModel + AutoencoderKL + scheduler config + id2label, built
// from the repository's fixtures) through `tcpade generate` to RGB images with named rows, and the bad
// inputs around it: unknown label names, a missing part, a VAE that does not fit, a latent model alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensorsSync, toFloat32, toInt64Numbers, writeSafetensorsSync } from '../../src/io/safetensors.js';
import { loadVAE, randomVAEWeights, vaeConfigFromDiffusersJson } from '../../src/models/vae/index.js';
import { vaeParameterShapes } from '../../src/models/vae/architecture.js';
import { decodeLatents } from '../../src/pipeline/decode.js';
import { repoRoot, tcpade } from '../support/cli.js';
import { writeTinyPipeline } from '../support/pipeline-folder.js';

let tmp: string;
let pipe: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-pipe-'));
  pipe = writeTinyPipeline(path.join(tmp, 'DiT-tiny'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const common = ['--steps', '8', '--per-class', '2', '--seed', '5', '--threads', '1', '--no-progress'];

describe('tcpade generate on a diffusers DiT pipeline folder', () => {
  it('samples with the scheduler config, decodes with vae/, and writes named rows, per-sample PNGs and RGB images', async () => {
    const out = path.join(tmp, 'rgb');
    const r = await tcpade('generate', '--model', pipe, '--classes', 'golden retriever,TENCH,3', '--cache', 'tcpade', ...common, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sampler from .*scheduler_config\.json: ddim/);
    assert.match(r.stdout, /s sampling \+ [\d.]+ s VAE decode/);
    const t = readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors;
    assert.deepEqual(t.get('images')!.shape, [6, 3, 16, 16]);
    assert.deepEqual(toInt64Numbers(t.get('labels')!), [7, 7, 0, 0, 3, 3]);
    const images = toFloat32(t.get('images')!);
    assert.ok(images.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(fs.readdirSync(path.join(out, 'samples')).sort(), ['000.png', '001.png', '002.png', '003.png', '004.png', '005.png']);
    const stats = JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8'));
    assert.deepEqual(stats.classNames, ['golden retriever', 'tench', 'tiger shark']);
    assert.equal(stats.sampler, 'ddim');
    assert.ok(stats.vaeMs > 0);

    // The same request on the transformer alone gives latents; decoding them as the pipeline does gives the images.
    const latOut = path.join(tmp, 'latents');
    const l = await tcpade('generate', '--model', path.join(pipe, 'transformer'), '--sampler', 'ddim', '--classes', '7,0,3', '--cache', 'tcpade', ...common, '--out', latOut);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /no VAE was given: wrote the latents only\. Pass --vae <AutoencoderKL folder>/);
    assert.ok(!fs.existsSync(path.join(latOut, 'grid.png')));
    const lt = readSafetensorsSync(path.join(latOut, 'samples.safetensors')).tensors.get('latents')!;
    const vae = await loadVAE(pipe, { threads: 1 });
    const decoded = await decodeLatents(vae, toFloat32(lt), lt.shape);
    let maxDiff = 0;
    decoded.images.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - images[i]))));
    assert.ok(maxDiff < 1e-6, `pipeline images vs decoded latents: max diff ${maxDiff}`);
    await vae.release();
  });

  it("DiT's own ancestral sampler with the learned variance runs (--sampler ddpm) and differs from DDIM", async () => {
    const out = path.join(tmp, 'ddpm');
    const r = await tcpade('generate', '--model', pipe, '--sampler', 'ddpm', '--classes', '1', '--cfg', '4', ...common, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const stats = JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8'));
    assert.equal(stats.sampler, 'ddpm');
    assert.equal(stats.spacing, 'dit');
    assert.equal(stats.guidanceChannels, 'dit');
    const a = toFloat32(readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors.get('images')!);
    assert.ok(a.every((v) => Number.isFinite(v)));
  });

  it('an original DiT checkpoint (no config names) with --vae decodes to RGB with numbered rows', async () => {
    const out = path.join(tmp, 'orig-vae');
    const r = await tcpade('generate', '--model', path.join(repoRoot, 'test/fixtures/dit_original_tiny/model.pt'), '--vae', path.join(pipe, 'vae'), '--classes', '2,5', ...common, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const t = readSafetensorsSync(path.join(out, 'samples.safetensors')).tensors;
    assert.deepEqual(t.get('images')!.shape, [4, 3, 16, 16]);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8')).classNames, ['2', '5']);
  });

  const bad: [string, (dir: string) => string[], RegExp][] = [
    ['an unknown label name lists close matches', () => ['--model', pipe, '--classes', 'golden retreiver'], /unknown class name "golden retreiver"; close matches: golden retriever \(7\)/],
    [
      'a part listed in model_index.json but missing is named',
      (dir) => {
        const p = writeTinyPipeline(path.join(dir, 'novae'));
        fs.rmSync(path.join(p, 'vae'), { recursive: true });
        return ['--model', p];
      },
      /lists vae\/ \(AutoencoderKL\) but the folder is missing/,
    ],
    [
      'a VAE whose latent channels differ from the transformer names both numbers and paths',
      (dir) => {
        const cfgJson = JSON.parse(fs.readFileSync(path.join(pipe, 'vae/config.json'), 'utf8'));
        const json = { ...cfgJson, latent_channels: 16, use_quant_conv: false, use_post_quant_conv: false, scaling_factor: 0.3611, shift_factor: 0.1159 };
        const vdir = path.join(dir, 'vae16');
        fs.mkdirSync(vdir, { recursive: true });
        fs.writeFileSync(path.join(vdir, 'config.json'), JSON.stringify(json));
        const config = vaeConfigFromDiffusersJson(json, 'config.json');
        const shapes = vaeParameterShapes(config);
        const w = randomVAEWeights(config, 2);
        writeSafetensorsSync(path.join(vdir, 'diffusion_pytorch_model.safetensors'), Object.fromEntries([...w].map(([k, v]) => [k, { dtype: 'F32' as const, shape: shapes.get(k)!, data: v }])));
        return ['--model', pipe, '--vae', vdir];
      },
      /the VAE .*vae16 has 16 latent channels but the model .*DiT-tiny takes 4-channel latents/,
    ],
  ];
  for (const [what, args, message] of bad) {
    it(`${what}, and writes nothing`, async () => {
      const out = path.join(tmp, `bad-${what.length}`);
      const r = await tcpade('generate', '--classes', '1', ...args(tmp), ...common, '--out', out);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.ok(!fs.existsSync(out), 'no output folder for a refused request');
    });
  }
});
