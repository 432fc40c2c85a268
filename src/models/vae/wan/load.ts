// Builds an AutoencoderKLWan from what vae/load.ts found: the parsed config.json and the stored tensors of
// its weight file(s) (single or sharded safetensors, or .bin through the restricted unpickler).
import type { StTensor } from '../../../io/safetensors.js';
import { AutoencoderKLWan } from './autoencoder-kl-wan.js';
import type { TilingSettings } from '../autoencoder-kl.js';
import { WanVAEConfig, wanVAEConfigFromDiffusersJson } from './config.js';
import { checkWanVAEWeights } from './weights.js';

export interface WanVAEParts {
  readonly config: WanVAEConfig;
  readonly weights: Map<string, Float32Array>;
}

/** Config and checked float32 weights; `configFile` and `weightsLabel` name the files in errors. */
export function readWanVAE(json: Readonly<Record<string, unknown>>, configFile: string, stored: ReadonlyMap<string, StTensor>, weightsLabel: string): WanVAEParts {
  const config = wanVAEConfigFromDiffusersJson(json, configFile);
  return { config, weights: checkWanVAEWeights(weightsLabel, stored, config) };
}

export interface LoadWanVAEOptions {
  threads?: number;
  tiling?: Partial<TilingSettings>;
  maxCachedSizes?: number;
}

export function wanVAEFrom(parts: WanVAEParts, source: string, opts: LoadWanVAEOptions = {}): AutoencoderKLWan {
  return new AutoencoderKLWan(parts.config, parts.weights, { threads: opts.threads, tiling: opts.tiling, maxCachedSizes: opts.maxCachedSizes, source });
}
