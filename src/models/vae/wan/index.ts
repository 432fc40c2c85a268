// The Wan 2.1 video VAE (diffusers AutoencoderKLWan): loadVAE routes its folders here.
export { AutoencoderKLWan, WAN_DEFAULT_TILING } from './autoencoder-kl-wan.js';
export type { AutoencoderKLWanOptions, WanDecodeOptions } from './autoencoder-kl-wan.js';
export type { WanVAEConfig } from './config.js';
export { WAN_VAE_CLASS, isWanVAEConfigJson, wanVAEConfigFromDiffusersJson, wanSpatialFactor, wanTemporalFactor } from './config.js';
export { denormalizeWanLatents, normalizeWanLatents } from './latents.js';
export { randomWanVAEWeights } from './random-weights.js';
export { wanVAEParameterShapes } from './architecture.js';
