// FLUX.1 (FluxTransformer2DModel) on the denoiser contract: loading, the model, and FluxPipeline's helpers
// (latent packing, position ids) that a pipeline around it needs.
export { isFluxConfigJson, FLUX_CLASS_NAME, type FluxConfig } from './config.js';
export { loadFlux, isBflFluxCheckpoint, openFluxWeights, resolveFluxFiles, type LoadFluxOptions, type FluxFiles, type FluxCheckpointFormat } from './load.js';
export { Flux, DEFAULT_FLUX_GEOMETRY, geometryForImage, type FluxGeometry, type FluxOptions } from './flux.js';
export { packLatents, unpackLatents } from './packing.js';
export { diffusersToBfl } from './bfl.js';
