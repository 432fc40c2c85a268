// Synthetic models: a named architecture built in memory with deterministic random weights, for measuring
// speed at a scale whose trained weights are not at hand. Their samples are noise, so they serve speed only.
// The one place above the families that knows which family each synthetic name builds: callers see a
// Denoiser, a decoder with the AutoencoderKL face, and plain descriptions.
import type { Denoiser, Objective } from './denoiser.js';
import { ModelInputError } from './denoiser.js';
import type { Tensor } from './tensor.js';
import { type DiTConfig, namedConfig, numTokens } from './dit/dit-config.js';
import { DiT } from './dit/dit.js';
import { parameterShapes } from './dit/dit-graph.js';
import { randomDiTWeights } from './dit/random-weights.js';
import { AutoencoderKL, downscaleFactor, randomVAEWeights, vaeConfigFromDiffusersJson, type VAEConfig } from './vae/index.js';

/** Seed of every synthetic model's random weights (the same weights on every run and machine). */
export const SYNTHETIC_WEIGHT_SEED = 1;
/** Half-width of the uniform distribution of every DiT parameter (randomDiTWeights' scale). */
export const SYNTHETIC_WEIGHT_SCALE = 0.04;

/** A latent decoder as pipelines use it (AutoencoderKL's face), with release. */
export interface SyntheticDecoder {
  readonly latentChannels: number;
  readonly scalingFactor: number;
  readonly shiftFactor: number;
  /** raw latent [B, C, h, w] → image [B, 3, H, W] */
  decode(z: Tensor): Promise<Tensor>;
  release(): Promise<void>;
}

export interface SyntheticModelInfo {
  readonly name: string;
  /** What the network is shaped like (sizes, tokens, parameter count). */
  readonly architecture: string;
  /** How the weights were made, and why they are not trained ones. */
  readonly weights: string;
  readonly objective: Objective;
  /** The decoder a pipeline of this model would run after sampling, if it is a latent model. */
  readonly decoder?: {
    readonly description: string;
    /** One sample's latent as the decoder takes it, [1, C, h, w]. */
    readonly latentShape: readonly number[];
  };
}

interface SyntheticSpec {
  readonly dit: () => DiTConfig;
  /** What the architecture is named after (a config name of the family). */
  readonly shapedLike: string;
  readonly whyRandom: string;
  readonly vae?: { readonly shapedLike: string; readonly json: Readonly<Record<string, unknown>> };
}

const NOT_AVAILABLE = 'no trained checkpoint of this size is available on this machine (none is shipped and it cannot be downloaded here)';

/** Stable Diffusion's AutoencoderKL (SD 1.x/2.x, the VAE DiT samples are decoded with) as diffusers' config.json. */
const SD_VAE_JSON: Readonly<Record<string, unknown>> = {
  _class_name: 'AutoencoderKL',
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  act_fn: 'silu',
  latent_channels: 4,
  norm_num_groups: 32,
  sample_size: 256,
  scaling_factor: 0.18215,
};

const SPECS: Readonly<Record<string, SyntheticSpec>> = {
  'dit-xl-256-random': {
    dit: () => namedConfig('DiT-XL/2-256'),
    shapedLike: 'DiT-XL/2-256',
    whyRandom: NOT_AVAILABLE,
    vae: { shapedLike: 'the SD VAE (sd-vae-ft-ema/mse layout)', json: SD_VAE_JSON },
  },
  // Seconds, for tests and smoke runs of the speed-only path: a latent DiT (4×8×8 latent, 16 tokens) and a
  // two-level VAE of the same layout as SD's.
  'dit-tiny-random': {
    dit: () => ({ ...namedConfig('DiT-S/2-256'), inputSize: 8, hiddenSize: 32, depth: 2, numHeads: 2, numClasses: 10 }),
    shapedLike: 'a tiny latent DiT (test size)',
    whyRandom: 'a test-size model: only the benchmark path is exercised',
    vae: {
      shapedLike: 'a tiny two-level AutoencoderKL (test size)',
      json: { ...SD_VAE_JSON, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'], block_out_channels: [8, 16], layers_per_block: 1, norm_num_groups: 4, sample_size: 16 },
    },
  },
};

export function syntheticModelNames(): string[] {
  return Object.keys(SPECS);
}

export function isSyntheticModel(name: string): boolean {
  return Object.hasOwn(SPECS, name);
}

function specOf(name: string): SyntheticSpec {
  if (!isSyntheticModel(name)) throw new ModelInputError(`no synthetic model "${name}"; known: ${syntheticModelNames().join(', ')}`);
  return SPECS[name];
}

function vaeConfigOf(spec: SyntheticSpec): VAEConfig | undefined {
  return spec.vae ? vaeConfigFromDiffusersJson(spec.vae.json, `<synthetic VAE config: ${spec.vae.shapedLike}>`) : undefined;
}

export function syntheticModelInfo(name: string): SyntheticModelInfo {
  const spec = specOf(name);
  const c = spec.dit();
  const params = [...parameterShapes(c).values()].reduce((a, shape) => a + shape.reduce((x, y) => x * y, 1), 0);
  const vae = vaeConfigOf(spec);
  const f = vae ? downscaleFactor(vae) : 1;
  return {
    name,
    architecture:
      `${spec.shapedLike}: latent ${c.inChannels}×${c.inputSize}×${c.inputSize}, patch ${c.patchSize} → ${numTokens(c)} tokens, hidden ${c.hiddenSize}, ` +
      `depth ${c.depth}, ${c.numHeads} heads, ${c.numClasses} classes, ${(params / 1e6).toFixed(1)} M parameters (${((4 * params) / 1e9).toFixed(2)} GB float32)`,
    weights:
      `deterministic random weights (seed ${SYNTHETIC_WEIGHT_SEED}; every DiT parameter uniform in ±${SYNTHETIC_WEIGHT_SCALE} but the fixed 2-D sin-cos position embedding` +
      `${vae ? "; the VAE's in PyTorch's default initialisation ranges" : ''}), made in memory on every run because ${spec.whyRandom}; ` +
      'the samples are noise, so only speed is measured',
    objective: 'eps',
    ...(vae && spec.vae
      ? {
          decoder: {
            description: `${spec.vae.shapedLike} with random weights: block_out_channels [${vae.blockOutChannels.join(', ')}], layers_per_block ${vae.layersPerBlock}, latent ${vae.latentChannels}, ${vae.normNumGroups} norm groups, scaling ${vae.scalingFactor}; [1, ${vae.latentChannels}, ${c.inputSize}, ${c.inputSize}] → ${c.inputSize * f}×${c.inputSize * f} px`,
            latentShape: [1, vae.latentChannels, c.inputSize, c.inputSize],
          },
        }
      : {}),
  };
}

/** The denoiser of a synthetic model, its weights drawn now (DiT-XL: ~2.7 GB, tens of seconds). */
export function syntheticDenoiser(name: string, threads: number): Denoiser {
  const c = specOf(name).dit();
  return new DiT(c, randomDiTWeights(c, SYNTHETIC_WEIGHT_SEED, SYNTHETIC_WEIGHT_SCALE), { threads });
}

/** The decoder of a synthetic latent model (random weights), or undefined for one without. */
export function syntheticDecoder(name: string, threads: number): SyntheticDecoder | undefined {
  const vae = vaeConfigOf(specOf(name));
  if (!vae) return undefined;
  return new AutoencoderKL(vae, randomVAEWeights(vae, SYNTHETIC_WEIGHT_SEED), { threads, source: `synthetic:${name}` });
}
