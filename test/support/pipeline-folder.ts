// Builds a tiny diffusers DiT pipeline folder as facebook/DiT-XL-2-256 lays it out — model_index.json with
// id2label, transformer/ (the older Transformer2DModel config), vae/ (AutoencoderKL), scheduler/ — from the
// repository's DiT and VAE fixtures, for end-to-end tests.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';
import { writeSafetensorsSync } from '../../src/io/safetensors.js';
import { randomVAEWeights, vaeConfigFromDiffusersJson } from '../../src/models/vae/index.js';
import { vaeParameterShapes } from '../../src/models/vae/architecture.js';

const fixtures = path.join(repoRoot, 'test/fixtures');

/** Eight ImageNet-style id2label entries (synonyms separated by ", ") for the fixture DiT's 8 classes. */
export const TINY_ID2LABEL: Record<string, string> = {
  '0': 'tench, Tinca tinca',
  '1': 'goldfish, Carassius auratus',
  '2': 'great white shark, white shark, man-eater',
  '3': 'tiger shark, Galeocerdo cuvieri',
  '4': 'hammerhead, hammerhead shark',
  '5': 'electric ray, crampfish, numbfish, torpedo',
  '6': 'stingray',
  '7': 'golden retriever',
};

export function writeTinyPipeline(dir: string, opts: { withVae?: boolean; scheduler?: Record<string, unknown> } = {}): string {
  const withVae = opts.withVae ?? true;
  fs.mkdirSync(path.join(dir, 'transformer'), { recursive: true });
  const ditDir = path.join(fixtures, 'dit_diffusers_tiny/transformer');
  const cfg = JSON.parse(fs.readFileSync(path.join(ditDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  // facebook/DiT-XL-2-256 ships the older generic class with these extra fields.
  const older = { ...cfg, _class_name: 'Transformer2DModel', cross_attention_dim: null, num_vector_embeds: null, only_cross_attention: false, use_linear_projection: false };
  fs.writeFileSync(path.join(dir, 'transformer/config.json'), JSON.stringify(older, null, 2));
  fs.copyFileSync(path.join(ditDir, 'diffusion_pytorch_model.safetensors'), path.join(dir, 'transformer/diffusion_pytorch_model.safetensors'));
  if (withVae) fs.cpSync(path.join(fixtures, 'vae_diffusers_tiny/vae'), path.join(dir, 'vae'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'scheduler'), { recursive: true });
  const scheduler = opts.scheduler ?? {
    _class_name: 'DDIMScheduler',
    _diffusers_version: '0.12.0.dev0',
    beta_end: 0.02,
    beta_schedule: 'linear',
    beta_start: 0.0001,
    clip_sample: false,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    set_alpha_to_one: true,
    steps_offset: 0,
    trained_betas: null,
  };
  fs.writeFileSync(path.join(dir, 'scheduler/scheduler_config.json'), JSON.stringify(scheduler, null, 2));
  const index: Record<string, unknown> = {
    _class_name: 'DiTPipeline',
    _diffusers_version: '0.12.0.dev0',
    id2label: TINY_ID2LABEL,
    scheduler: ['diffusers', 'KarrasDiffusionSchedulers'],
    transformer: ['diffusers', 'Transformer2DModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
  fs.writeFileSync(path.join(dir, 'model_index.json'), JSON.stringify(index, null, 2));
  return dir;
}

/** A ÷8 AutoencoderKL with 1 latent channel and random weights in `dir` (the FLUX fixture's in_channels 4 = 2 × 2 × 1). */
export function writeOneChannelVae(dir: string): string {
  const vaeJson = {
    _class_name: 'AutoencoderKL',
    act_fn: 'silu',
    block_out_channels: [32, 32, 32, 32],
    down_block_types: new Array(4).fill('DownEncoderBlock2D'),
    up_block_types: new Array(4).fill('UpDecoderBlock2D'),
    in_channels: 3,
    out_channels: 3,
    latent_channels: 1,
    layers_per_block: 1,
    norm_num_groups: 32,
    sample_size: 32,
    scaling_factor: 0.3611,
    shift_factor: 0.1159,
    use_quant_conv: false,
    use_post_quant_conv: false,
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(vaeJson));
  const config = vaeConfigFromDiffusersJson(vaeJson, 'config.json');
  const shapes = vaeParameterShapes(config);
  const w = randomVAEWeights(config, 3);
  writeSafetensorsSync(path.join(dir, 'diffusion_pytorch_model.safetensors'), Object.fromEntries([...w].map(([k, v]) => [k, { dtype: 'F32' as const, shape: shapes.get(k)!, data: v }])));
  return dir;
}
