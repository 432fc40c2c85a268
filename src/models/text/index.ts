// Text encoders (CLIP text model, T5 / umT5 encoders), their tokenizers, the FLUX / Wan prompt-embedding
// helpers and the on-disk prompt-embedding cache.
export { loadTextEncoder } from './load.js';
export { TextEncoderModel, RESIDENT_WEIGHT_BYTES } from './encoder.js';
export type { TextEncoderOptions, TextEncoderInputs, TextEncoderOutput, ForwardOptions } from './encoder.js';
export { textEncoderConfigFromJson, textEncoderKindOf, hiddenWidth, ACTIVATIONS } from './config.js';
export type { TextEncoderKind, TextEncoderConfig, ClipTextConfig, T5EncoderConfig, ActivationName } from './config.js';
export { loadTokenizer, PromptTokenizer } from './tokenizer.js';
export type { TokenizeOptions, TokenizedBatch, TokenizerSource } from './tokenizer.js';
export {
  DEFAULT_MAX_SEQUENCE_LENGTH, fluxPromptEmbeds, loadFluxTextParts, loadWanTextParts, wanCutAndPad, wanPromptClean, wanPromptEmbeds,
} from './prompt-embeds.js';
export type { FluxPromptEmbeds, FluxTextParts, PromptEmbedOptions, WanPromptEmbeds, WanTextParts } from './prompt-embeds.js';
export { EmbedCache, DEFAULT_EMBED_CACHE_BYTES, defaultEmbedCacheDir, encoderIdentity } from './embed-cache.js';
export type { CachedTensor, EmbedCacheOptions } from './embed-cache.js';
export { clipPooledIndex } from './clip.js';
export { relativePositionBucket, relativePositionBuckets } from './t5.js';
