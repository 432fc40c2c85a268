// The VAE's public surface: loadVAE and the AutoencoderKL it returns, with config and option types.
export { loadVAE, readVAE, resolveVAEFiles } from './load.js';
export type { LoadVAEOptions, VAEFiles } from './load.js';
export { AutoencoderKL, DEFAULT_TILING } from './autoencoder-kl.js';
export type { AutoencoderKLOptions, DecodeOptions, TilingSettings } from './autoencoder-kl.js';
export type { VAEConfig } from './config.js';
export { vaeConfigFromDiffusersJson, downscaleFactor } from './config.js';
export type { TileOptions } from './tiling.js';
export { VAEInputError } from './errors.js';
export { decoderFlops, encoderFlops } from './flops.js';
export { randomVAEWeights } from './random-weights.js';
export { AutoencoderKLWan, WAN_DEFAULT_TILING, denormalizeWanLatents, normalizeWanLatents, randomWanVAEWeights, wanVAEConfigFromDiffusersJson } from './wan/index.js';
export type { WanDecodeOptions, WanVAEConfig } from './wan/index.js';
