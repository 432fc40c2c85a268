// Text-encoder configs from a transformers config.json: CLIPTextConfig (CLIPTextModel), T5Config
// (T5EncoderModel, and the encoder of T5/mT5 checkpoints) and UMT5Config (UMT5EncoderModel). Fields a
// config.json leaves out take the transformers class defaults (older files were saved with use_diff, which
// drops them: FLUX.1's text_encoder/config.json has no `bos_token_id` default, …).
import { CheckpointError } from '../../io/errors.js';

export type TextEncoderKind = 'clip' | 't5' | 'umt5';

/** Activations the encoders' configs name (transformers' ACT2FN keys this implementation provides). */
export const ACTIVATIONS = ['relu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'quick_gelu', 'silu', 'swish'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export interface ClipTextConfig {
  readonly kind: 'clip';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** learned positions: the longest input */
  readonly maxPositions: number;
  readonly layerNormEps: number;
  readonly hiddenAct: ActivationName;
  /** decides the pooled index: 2 → argmax(input_ids) (the legacy rule), else the first EOS position */
  readonly eosTokenId: number;
}

/** T5 v1.0/v1.1 and mT5 (relative bias in layer 0, shared) or umT5 (a relative bias in every layer). */
export interface T5EncoderConfig {
  readonly kind: 't5' | 'umt5';
  readonly vocabSize: number;
  readonly dModel: number;
  /** per-head width; heads × dKv need not equal dModel */
  readonly dKv: number;
  readonly dFf: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly relativeBuckets: number;
  readonly relativeMaxDistance: number;
  readonly layerNormEps: number;
  /** the feed-forward activation (dense_act_fn) */
  readonly act: ActivationName;
  /** gated FF: wo(act(wi_0 x) · wi_1 x); otherwise wo(act(wi x)) */
  readonly gated: boolean;
}

export type TextEncoderConfig = ClipTextConfig | T5EncoderConfig;

/** Width of the hidden states an encoder returns. */
export function hiddenWidth(c: TextEncoderConfig): number {
  return c.kind === 'clip' ? c.hiddenSize : c.dModel;
}

const CLIP_TYPES = new Set(['clip_text_model', 'clip']);
const T5_TYPES = new Set(['t5', 'mt5']);

/** The encoder kind a config.json describes, from model_type (or architectures when model_type is absent). */
export function textEncoderKindOf(j: Record<string, unknown>, file: string): TextEncoderKind {
  const type = typeof j.model_type === 'string' ? j.model_type : undefined;
  const arch = Array.isArray(j.architectures) && typeof j.architectures[0] === 'string' ? (j.architectures[0] as string) : undefined;
  if (type !== undefined) {
    if (CLIP_TYPES.has(type)) return 'clip';
    if (T5_TYPES.has(type)) return 't5';
    if (type === 'umt5') return 'umt5';
  } else if (arch) {
    if (/^CLIPText/.test(arch)) return 'clip';
    if (/^UMT5/.test(arch)) return 'umt5';
    if (/^M?T5/.test(arch)) return 't5';
  }
  throw new CheckpointError(
    file,
    `describes model_type ${JSON.stringify(type ?? null)} (architectures ${JSON.stringify(arch ?? null)}), not a text encoder this library runs`,
    'Supported: CLIPTextModel (model_type clip_text_model), T5EncoderModel (t5, mt5), UMT5EncoderModel (umt5).',
  );
}

/** Parses config.json of a CLIP text model, T5 or umT5 encoder. */
export function textEncoderConfigFromJson(j: Record<string, unknown>, file: string): TextEncoderConfig {
  const kind = textEncoderKindOf(j, file);
  return kind === 'clip' ? clipConfig(j, file) : t5Config(j, kind, file);
}

function field(j: Record<string, unknown>, key: string, fallback: number, file: string, what: 'int' | 'float' = 'int'): number {
  const v = j[key] ?? fallback;
  const ok = typeof v === 'number' && Number.isFinite(v) && (what === 'float' ? v > 0 : Number.isInteger(v) && v > 0);
  if (!ok) throw new CheckpointError(file, `"${key}" is ${JSON.stringify(v)}, expected a positive ${what === 'int' ? 'integer' : 'number'}`);
  return v as number;
}

function activationOf(name: unknown, key: string, file: string): ActivationName {
  if (typeof name === 'string' && (ACTIVATIONS as readonly string[]).includes(name)) return name as ActivationName;
  throw new CheckpointError(file, `"${key}" is ${JSON.stringify(name)}, an activation this library does not provide`, `Supported: ${ACTIVATIONS.join(', ')}.`);
}

function clipConfig(json: Record<string, unknown>, file: string): ClipTextConfig {
  // A whole CLIPModel config nests the text model's fields under text_config.
  const j = json.model_type === 'clip' && typeof json.text_config === 'object' && json.text_config !== null ? (json.text_config as Record<string, unknown>) : json;
  const hiddenSize = field(j, 'hidden_size', 512, file);
  const numHeads = field(j, 'num_attention_heads', 8, file);
  if (hiddenSize % numHeads !== 0) throw new CheckpointError(file, `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const eos = j.eos_token_id ?? 49407;
  if (typeof eos !== 'number' || !Number.isInteger(eos)) throw new CheckpointError(file, `"eos_token_id" is ${JSON.stringify(eos)}, expected an integer (it decides which position the pooled output takes)`);
  return {
    kind: 'clip',
    vocabSize: field(j, 'vocab_size', 49408, file),
    hiddenSize,
    intermediateSize: field(j, 'intermediate_size', 2048, file),
    numLayers: field(j, 'num_hidden_layers', 12, file),
    numHeads,
    maxPositions: field(j, 'max_position_embeddings', 77, file),
    layerNormEps: field(j, 'layer_norm_eps', 1e-5, file, 'float'),
    hiddenAct: activationOf(j.hidden_act ?? 'quick_gelu', 'hidden_act', file),
    eosTokenId: eos,
  };
}

/**
 * T5Config / UMT5Config. The feed-forward follows `feed_forward_proj` ("relu", "gated-gelu", "gated-silu", …:
 * "gated-gelu" means the tanh GELU, gelu_new, for backward compatibility); `dense_act_fn` and `is_gated_act`,
 * which save_pretrained writes from it, win when present — transformers 4 sets them from config.json after
 * deriving them, so a file that states them is run as stated.
 */
function t5Config(j: Record<string, unknown>, kind: 't5' | 'umt5', file: string): T5EncoderConfig {
  const umt5 = kind === 'umt5';
  const proj = j.feed_forward_proj ?? (umt5 ? 'gated-gelu' : 'relu');
  if (typeof proj !== 'string') throw new CheckpointError(file, `"feed_forward_proj" is ${JSON.stringify(proj)}, expected a string such as "gated-gelu" or "relu"`);
  const parts = proj.split('-');
  if ((parts.length > 1 && parts[0] !== 'gated') || parts.length > 2) {
    throw new CheckpointError(file, `"feed_forward_proj" is "${proj}", expected "gated-{ACT}" or "{ACT}" (e.g. "gated-gelu", "relu")`);
  }
  const derivedAct = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  const gated = j.is_gated_act ?? parts[0] === 'gated';
  if (typeof gated !== 'boolean') throw new CheckpointError(file, `"is_gated_act" is ${JSON.stringify(gated)}, expected true or false`);
  const numBuckets = field(j, 'relative_attention_num_buckets', 32, file);
  if (numBuckets < 4) throw new CheckpointError(file, `relative_attention_num_buckets is ${numBuckets}; the bidirectional encoder needs at least 4`);
  return {
    kind,
    vocabSize: field(j, 'vocab_size', umt5 ? 250112 : 32128, file),
    dModel: field(j, 'd_model', 512, file),
    dKv: field(j, 'd_kv', 64, file),
    dFf: field(j, 'd_ff', umt5 ? 1024 : 2048, file),
    numLayers: field(j, 'num_layers', umt5 ? 8 : 6, file),
    numHeads: field(j, 'num_heads', umt5 ? 6 : 8, file),
    relativeBuckets: numBuckets,
    relativeMaxDistance: field(j, 'relative_attention_max_distance', 128, file),
    layerNormEps: field(j, 'layer_norm_epsilon', 1e-6, file, 'float'),
    act: activationOf(j.dense_act_fn ?? derivedAct, j.dense_act_fn !== undefined ? 'dense_act_fn' : 'feed_forward_proj', file),
    gated,
  };
}
