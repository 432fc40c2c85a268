// `tcpade generate --prompt` on a tiny FLUX pipeline folder with its own text encoders (the CLIP and T5
// fixtures) and small tokenizers: the run equals --prompt-embeds with the embeddings the pipeline's encoders
// make (so every check of that path applies), repeated prompts come from the embedding cache, and the
// misuses are refused with their reasons.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSafetensorsSync } from '../../src/io/safetensors.js';
import { fluxPromptEmbeds, loadFluxTextParts } from '../../src/models/text/index.js';
import { repoRoot, tcpade } from '../support/cli.js';
import { writeOneChannelVae } from '../support/pipeline-folder.js';
import { writeClipTokenizer, writeT5Tokenizer } from '../models/text-fixtures.js';

const fixtures = path.join(repoRoot, 'test/fixtures');
let tmp: string;
let flux: string;

/** FluxPipeline-like: the FLUX fixture transformer (1 latent channel), a 1-channel ÷8 VAE, CLIP + T5 fixtures and tokenizers. */
function writeFluxPipeline(dir: string): string {
  fs.cpSync(path.join(fixtures, 'flux_diffusers_tiny_golden/transformer'), path.join(dir, 'transformer'), { recursive: true });
  fs.cpSync(path.join(fixtures, 'clip_text_tiny/text_encoder'), path.join(dir, 'text_encoder'), { recursive: true });
  fs.cpSync(path.join(fixtures, 't5_encoder_tiny/text_encoder'), path.join(dir, 'text_encoder_2'), { recursive: true });
  writeClipTokenizer(path.join(dir, 'tokenizer'), 'vocab+merges');
  writeT5Tokenizer(path.join(dir, 'tokenizer_2'));
  writeOneChannelVae(path.join(dir, 'vae'));
  const part = (cls: string, lib = 'transformers') => [lib, cls];
  fs.writeFileSync(
    path.join(dir, 'model_index.json'),
    JSON.stringify({
      _class_name: 'FluxPipeline',
      transformer: part('FluxTransformer2DModel', 'diffusers'),
      vae: part('AutoencoderKL', 'diffusers'),
      text_encoder: part('CLIPTextModel'),
      text_encoder_2: part('T5EncoderModel'),
      tokenizer: part('CLIPTokenizer'),
      tokenizer_2: part('T5TokenizerFast'),
    }),
  );
  return dir;
}

const prompts = ['a red cat', 'cafe 2024!'];
const common = ['--steps', '5', '--seed', '4', '--threads', '1', '--no-progress', '--width', '64', '--height', '64', '--max-sequence-length', '16'];

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-prompts-'));
  flux = writeFluxPipeline(path.join(tmp, 'FLUX-tiny'));
  process.env.TCPADE_EMBED_CACHE = path.join(tmp, 'embed-cache');
});
after(() => {
  delete process.env.TCPADE_EMBED_CACHE;
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('tcpade generate --prompt (FLUX pipeline folder with text encoders)', () => {
  it('equals --prompt-embeds with the embeddings of the folder\'s encoders, and writes the prompts into stats.json', async () => {
    const out = path.join(tmp, 'prompt');
    const r = await tcpade('generate', '--model', flux, ...prompts.flatMap((p) => ['--prompt', p]), '--cache', 'tcpade', '--out', out, ...common);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /encoded 2 prompts/);
    const parts = await loadFluxTextParts(flux, { threads: 1 });
    const e = await fluxPromptEmbeds(parts, prompts, { maxSequenceLength: 16 });
    await Promise.all([parts.clip.release(), parts.t5.release()]);
    assert.deepEqual(e.prompt_embeds.shape, [2, 16, 32]);
    const file = path.join(tmp, 'embeds.safetensors');
    writeSafetensorsSync(file, {
      prompt_embeds: { dtype: 'F32', shape: e.prompt_embeds.shape, data: e.prompt_embeds.data as Float32Array },
      pooled_prompt_embeds: { dtype: 'F32', shape: e.pooled_prompt_embeds.shape, data: e.pooled_prompt_embeds.data as Float32Array },
    });
    const viaFile = path.join(tmp, 'embeds');
    const r2 = await tcpade('generate', '--model', flux, '--prompt-embeds', file, '--cache', 'tcpade', '--out', viaFile, ...common);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(fs.readFileSync(path.join(out, 'samples.safetensors')).equals(fs.readFileSync(path.join(viaFile, 'samples.safetensors'))), 'samples differ between --prompt and --prompt-embeds');
    // the same pixels; the --prompt PNG also carries its prompt and settings as iTXt chunks
    const { PNG } = await import('pngjs');
    const withText = fs.readFileSync(path.join(out, 'samples/001.png'));
    assert.ok(PNG.sync.read(withText).data.equals(PNG.sync.read(fs.readFileSync(path.join(viaFile, 'samples/001.png'))).data));
    // one sample per prompt: sample 1 is prompt 1's
    assert.ok(withText.includes(Buffer.from(`iTXtprompt\0\0\0\0\0${prompts[1]}`, 'utf8')), 'sample 1 lacks its prompt chunk');
    assert.ok(withText.includes(Buffer.from('iTXttcpade settings', 'latin1')));
    const stats = JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8'));
    assert.deepEqual(stats.prompt, prompts);
    assert.equal(stats.textTokens, 16);
    assert.ok(fs.existsSync(path.join(out, 'grid.png')));
  });

  it('a repeated prompt comes from the embedding cache; --no-embed-cache runs the encoders', async () => {
    const again = await tcpade('generate', '--model', flux, '--prompt', prompts[0], '--out', path.join(tmp, 'again'), ...common);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /2 of 2 encoder rows from the embedding cache/);
    const off = await tcpade('generate', '--model', flux, '--prompt', prompts[0], '--no-embed-cache', '--out', path.join(tmp, 'off'), ...common);
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stdout, /embedding cache/);
    assert.ok(fs.readFileSync(path.join(tmp, 'again/samples.safetensors')).equals(fs.readFileSync(path.join(tmp, 'off/samples.safetensors'))));
  });

  it('refuses --prompt without the encoders, with --prompt-embeds, and --negative-prompt on FLUX', async () => {
    const noFolder = await tcpade('generate', '--model', path.join(flux, 'transformer'), '--prompt', 'x', '--out', path.join(tmp, 'x1'), ...common);
    assert.notEqual(noFolder.code, 0);
    assert.match(noFolder.stderr, /--prompt needs the model's text encoders: pass the whole diffusers pipeline folder/);
    const both = await tcpade('generate', '--model', flux, '--prompt', 'x', '--prompt-embeds', 'e.safetensors', '--out', path.join(tmp, 'x2'), ...common);
    assert.match(both.stderr, /give --prompt or --prompt-embeds, not both/);
    const neg = await tcpade('generate', '--model', flux, '--prompt', 'x', '--negative-prompt', 'y', '--out', path.join(tmp, 'x3'), ...common);
    assert.match(neg.stderr, /--negative-prompt needs classifier-free guidance/);
  });
});

/** WanPipeline-like: the Wan fixture transformer (4 latent channels, text_dim 16), a random umT5 of width 16, a T5-style tokenizer, a random 4-channel Wan VAE. */
async function writeWanPipeline(dir: string): Promise<string> {
  const { textEncoderConfigFromJson } = await import('../../src/models/text/index.js');
  const { t5ParameterShapes } = await import('../../src/models/text/t5.js');
  const { randomWanVAEWeights, wanVAEConfigFromDiffusersJson, wanVAEParameterShapes } = await import('../../src/models/vae/wan/index.js');
  const { Rng } = await import('../../src/diffusion/rng.js');
  fs.cpSync(path.join(fixtures, 'wan_diffusers_tiny_golden/transformer'), path.join(dir, 'transformer'), { recursive: true });
  const umt5Json = { ...JSON.parse(fs.readFileSync(path.join(fixtures, 'umt5_encoder_tiny/text_encoder/config.json'), 'utf8')), d_model: 16 };
  fs.mkdirSync(path.join(dir, 'text_encoder'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'text_encoder/config.json'), JSON.stringify(umt5Json));
  const t5c = textEncoderConfigFromJson(umt5Json, 'config.json');
  const rng = new Rng(7);
  const t5Shapes = t5ParameterShapes(t5c as Parameters<typeof t5ParameterShapes>[0]);
  writeSafetensorsSync(
    path.join(dir, 'text_encoder/model.safetensors'),
    Object.fromEntries([...t5Shapes].map(([k, shape]) => [k, { dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (k.includes('layer_norm') ? 1 : 0.2 * rng.normal())) }])),
  );
  writeT5Tokenizer(path.join(dir, 'tokenizer'));
  // Wan 2.1's VAE layout at a tiny width, 4 latent channels (the transformer fixture's)
  const vaeJson = {
    _class_name: 'AutoencoderKLWan',
    attn_scales: [],
    base_dim: 8,
    dim_mult: [1, 2, 2, 2],
    in_channels: 3,
    out_channels: 3,
    is_residual: false,
    num_res_blocks: 1,
    temperal_downsample: [false, true, true],
    z_dim: 4,
    latents_mean: [-0.7571, -0.7089, -0.9113, 0.1075],
    latents_std: [2.8184, 1.4541, 2.3275, 2.6558],
  };
  fs.mkdirSync(path.join(dir, 'vae'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'vae/config.json'), JSON.stringify(vaeJson));
  const vc = wanVAEConfigFromDiffusersJson(vaeJson, 'config.json');
  const shapes = wanVAEParameterShapes(vc);
  const w = randomWanVAEWeights(vc, 5);
  writeSafetensorsSync(path.join(dir, 'vae/diffusion_pytorch_model.safetensors'), Object.fromEntries([...w].map(([k, v]) => [k, { dtype: 'F32' as const, shape: shapes.get(k)!, data: v }])));
  fs.writeFileSync(
    path.join(dir, 'model_index.json'),
    JSON.stringify({ _class_name: 'WanPipeline', transformer: ['diffusers', 'WanTransformer3DModel'], vae: ['diffusers', 'AutoencoderKLWan'], text_encoder: ['transformers', 'UMT5EncoderModel'], tokenizer: ['transformers', 'T5TokenizerFast'] }),
  );
  return dir;
}

describe('tcpade generate --prompt on a Wan pipeline folder: text to video', () => {
  let wan: string;
  before(async () => {
    wan = await writeWanPipeline(path.join(tmp, 'Wan-tiny'));
  });

  for (const cache of ['none', 'tcpade', 'teacache']) {
    it(`--cache ${cache}: a prompt with CFG against the default negative prompt → video.webp, frames and samples.safetensors frames`, async () => {
      const out = path.join(tmp, `wan-${cache}`);
      const r = await tcpade('generate', '--model', wan, '--prompt', 'a red cat', '--cfg', '4', '--frames', '5', '--width', '32', '--height', '48', '--steps', '4', '--seed', '2', '--threads', '1', '--no-progress', '--max-sequence-length', '8', '--cache', cache, ...(cache === 'teacache' ? ['--set', 'coefficients=1,0'] : []), '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(out, 'video.webp')), r.stdout);
      assert.deepEqual(fs.readdirSync(path.join(out, 'frames')).sort(), ['000.png', '001.png', '002.png', '003.png', '004.png']);
      const { readSafetensorsSync } = await import('../../src/io/safetensors.js');
      const st = readSafetensorsSync(path.join(out, 'samples.safetensors'));
      assert.deepEqual(st.tensors.get('frames')!.shape, [1, 5, 3, 48, 32]);
      const stats = JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8'));
      assert.deepEqual(stats.prompt, ['a red cat']);
      assert.equal(stats.branches.length, 2);
      assert.ok(stats.vaeMs > 0);
    });
  }
});
