// Builds a tiny diffusers DiT pipeline folder as facebook/DiT-XL-2-256 lays it out — model_index.json with
// id2label, transformer/ (the older Transformer2DModel config), vae/ (AutoencoderKL), scheduler/ — from the
// repository's DiT and VAE fixtures, for end-to-end tests.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

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
