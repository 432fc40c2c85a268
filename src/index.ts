// Public library entry point of tcpade.
// The family-neutral model API: any supported checkpoint → a Denoiser (segments, conditioning, forwardRaw).
export { loadDenoiser } from './models/load.js';
export type { LoadDenoiserOptions } from './models/load.js';
export { ModelInputError } from './models/denoiser.js';
export type { Denoiser, Conditioning, ClassSpace, ModelFamily, Objective } from './models/denoiser.js';
export type { Tensor } from './models/tensor.js';
export { parseClassList, labelDisplayName } from './models/labels.js';
export { readPipelineFolder } from './models/folders.js';
// The VAE: diffusers AutoencoderKL folders (SD and FLUX layouts), decode/encode, tiled decoding.
export { loadVAE, AutoencoderKL, VAEInputError, DEFAULT_TILING } from './models/vae/index.js';
export type { LoadVAEOptions, DecodeOptions, TileOptions, TilingSettings, VAEConfig } from './models/vae/index.js';
export { decodeLatents } from './pipeline/decode.js';
// Text encoders (CLIP, T5, umT5) built with the engine, their tokenizers, FLUX / Wan prompt embeddings, the embed cache.
export {
  loadTextEncoder, TextEncoderModel, loadTokenizer, PromptTokenizer, fluxPromptEmbeds, wanPromptEmbeds, loadFluxTextParts, loadWanTextParts,
  wanPromptClean, EmbedCache, defaultEmbedCacheDir,
} from './models/text/index.js';
export type {
  TextEncoderKind, TextEncoderOptions, TextEncoderInputs, TextEncoderOutput, TokenizeOptions, TokenizedBatch, FluxPromptEmbeds, WanPromptEmbeds,
  FluxTextParts, WanTextParts, PromptEmbedOptions, EmbedCacheOptions,
} from './models/text/index.js';
export type { PipelineFolder } from './models/folders.js';
export { EngineError } from './runtime/session.js';
// DiT directly (kept for compatibility).
export { loadDiT, readDiTWeights, resolveCheckpoint } from './models/dit/load.js';
export type { LoadOptions, CheckpointFormat } from './models/dit/load.js';
export { DiT } from './models/dit/dit.js';
export type { SegmentOut, DiTWeights } from './models/dit/dit.js';
export { NAMED_CONFIGS, namedConfig } from './models/dit/dit-config.js';
export type { DiTConfig } from './models/dit/dit-config.js';
export { generate, makePlan } from './pipeline/generate.js';
// Samplers exactly as diffusers' schedulers run them (timesteps, sigmas, step), from a scheduler config.
export { samplerFromSchedulerConfig, planSpecFromSchedulerConfig, parseSchedulerConfigJson, calculateShift } from './diffusion/index.js';
export type { SchedulerSampler, SchedulerSamplerOptions, SchedulerConfigOptions } from './diffusion/index.js';
export type { GenerateOptions, GenerateResult, SamplerName } from './pipeline/generate.js';
export type { RunStats } from './pipeline/stats.js';
export { GraphBuilder } from './graph/builder.js';
export { gradients } from './graph/autodiff.js';
export { interpret } from './graph/interpret.js';
export { CompiledGraph } from './runtime/session.js';
export { readSafetensors, writeSafetensors } from './io/safetensors.js';
export { loadTorchCheckpoint } from './io/torch-pickle.js';
// Caching: configured methods (by name, preset, overrides) and the contract a custom method implements.
export { createCacheMethod, listCacheMethods, describeCacheMethod } from './cache/index.js';
export type {
  CacheMethod,
  SampleCache,
  SampleCacheContext,
  Decision,
  DecisionReason,
  CacheSignals,
  StepInfo,
  Granularity,
  CacheOverrides,
  CacheMethodInfo,
  SettingDescription,
} from './cache/index.js';
export { CacheError, CacheConfigError, CacheUsageError, CachePredictionError } from './cache/index.js';
