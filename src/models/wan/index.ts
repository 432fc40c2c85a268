// The Wan2.1 text-to-video transformer family: loader, model on the denoiser contract, config and the
// original ↔ diffusers key map.
export { isWanConfigJson, loadWan, openWanWeights, resolveWanFiles, type WanFiles, type WanLayout, type WanLoadOptions } from './load.js';
export { Wan, WAN_GRAPH_WEIGHT_BYTES, type WanOptions } from './wan.js';
export { WAN21_T2V_1_3B, configFromDiffusersJson, configFromOriginalJson, configToDiffusersJson, type WanConfig } from './config.js';
export { WAN_DEFAULT_LATENT_SIZE, WAN_DEFAULT_TEXT_TOKENS, condLayout, defaultLatentSize, type CondLayout, type WanGeometry } from './geometry.js';
export { diffusersKeyOf, originalKeyOf } from './keys.js';
export { randomWanWeights } from './random-weights.js';
