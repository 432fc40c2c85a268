// A loaded text encoder — CLIP's text model, a T5 or umT5 encoder — with transformers' forward as
// `forwardRaw({ input_ids, attention_mask })`. Embedding rows are looked up on the host; the layers run
// through one compiled layer graph (layer-stack.ts), then the final norm; CLIP pools on the host.
import type { Feed } from '../../runtime/session.js';
import { ModelInputError } from '../denoiser.js';
import { numel, type Tensor } from '../tensor.js';
import { CLIP_FINAL_NORM, CLIP_LAYER_PREFIX, CLIP_POSITION_EMBEDDING, CLIP_TOKEN_EMBEDDING, clipAttentionBias, clipFinalNorm, clipLayer, clipLayerShapes, clipPooledIndex } from './clip.js';
import type { ClipTextConfig, T5EncoderConfig, TextEncoderConfig, TextEncoderKind } from './config.js';
import { LayerStack, type StackSpec, type StackTiming, stackWeightBytes } from './layer-stack.js';
import { T5_BLOCK_PREFIX, T5_FINAL_NORM, T5_RELATIVE_BIAS, T5_SHARED, relativeBiasBlock, relativePositionBuckets, t5BlockShapes, t5Block, t5FinalNorm, t5MaskBias } from './t5.js';
import { encoderIdentity } from './embed-cache.js';
import { type TextWeights, describe } from './weights.js';

export interface TextEncoderOptions {
  /** ORT intra-op threads (default min(2, cores)) */
  threads?: number;
  /**
   * Encoders whose layer weights take at most this many bytes in float32 keep them in memory between calls;
   * larger ones read and widen one layer at a time on every call (default RESIDENT_WEIGHT_BYTES).
   */
  residentWeightBytes?: number;
}

/**
 * 2 GB: CLIP-L (0.5 GB) and T5/umT5 base-size encoders stay resident; T5-XXL and umT5-XXL (18.5 GB in float32,
 * more than this machine's memory beside anything else) stream.
 */
export const RESIDENT_WEIGHT_BYTES = 2e9;

/** transformers' call: input_ids [B, L] int64; attention_mask [B, L] (1 = token, 0 = padding), optional. */
export interface TextEncoderInputs {
  readonly input_ids: Tensor;
  readonly attention_mask?: Tensor;
}

export interface TextEncoderOutput {
  /** [B, L, D] after the final norm, every position (padding included) */
  readonly last_hidden_state: Tensor;
  /** [B, D] CLIP only: last_hidden_state at the pooled index (clipPooledIndex) */
  readonly pooler_output?: Tensor;
}

export interface ForwardOptions {
  /** sees each layer's output [B, L, D] before the final norm (for checking against a reference's taps) */
  onLayer?: (layer: number, hidden: Float32Array) => void;
}

function clipSpec(c: ClipTextConfig): StackSpec {
  const D = c.hiddenSize;
  return {
    label: 'clip_text',
    numLayers: c.numLayers,
    width: D,
    layerShapes: clipLayerShapes(c),
    keyOf: (i, local) => `${CLIP_LAYER_PREFIX}${i}.${local}`,
    buildLayer: (g, W, h, L) => clipLayer(g, c, W, h, g.input('attn_bias', 'float32', ['B', 1, L, L]), L),
    finalShapes: new Map([[`${CLIP_FINAL_NORM}.weight`, [D]], [`${CLIP_FINAL_NORM}.bias`, [D]]]),
    buildFinal: (g, W, h) => clipFinalNorm(g, c, W, h),
  };
}

function t5Spec(c: T5EncoderConfig): StackSpec {
  return {
    label: `${c.kind}_encoder`,
    numLayers: c.numLayers,
    width: c.dModel,
    layerShapes: t5BlockShapes(c),
    keyOf: (i, local) => `${T5_BLOCK_PREFIX}${local === T5_RELATIVE_BIAS ? relativeBiasBlock(c, i) : i}.${local}`,
    buildLayer: (g, W, h, L) => t5Block(g, c, W, h, g.input('buckets', 'int64', [L, L]), g.input('mask_bias', 'float32', ['B', 1, 1, L]), L),
    finalShapes: new Map([[T5_FINAL_NORM, [c.dModel]]]),
    buildFinal: (g, W, h) => t5FinalNorm(g, c, W, h),
  };
}

/** Integer values of an ids or mask tensor [B, L]; `what` names it in errors. */
function integers(t: Tensor, what: string): number[] {
  if (t.shape.length !== 2) throw new ModelInputError(`${what} must be [batch, tokens], got shape [${t.shape.join(', ')}]`);
  if (t.data.length !== numel(t.shape)) throw new ModelInputError(`${what} holds ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${numel(t.shape)}`);
  const out = Array.from(t.data as ArrayLike<number | bigint>, Number);
  const bad = out.findIndex((v) => !Number.isInteger(v));
  if (bad >= 0) throw new ModelInputError(`${what} must hold integers (int64 as transformers takes them); value ${out[bad]} at ${bad}`);
  return out;
}

export class TextEncoderModel {
  readonly kind: TextEncoderKind;
  /** width D of last_hidden_state */
  readonly hiddenSize: number;
  /** whether the widened layer weights stay in memory between calls (else each call streams them from disk) */
  readonly resident: boolean;
  private readonly stack: LayerStack;
  private readonly buckets = new Map<number, BigInt64Array>();
  private clipPositions?: Float32Array;

  constructor(
    /** the folder it was loaded from */
    readonly folder: string,
    readonly config: TextEncoderConfig,
    readonly weights: TextWeights,
    opts: TextEncoderOptions = {},
  ) {
    this.kind = config.kind;
    const spec = config.kind === 'clip' ? clipSpec(config) : t5Spec(config);
    this.hiddenSize = spec.width;
    this.resident = stackWeightBytes(spec) <= (opts.residentWeightBytes ?? RESIDENT_WEIGHT_BYTES);
    const source = { get: (k: string) => weights.lazy.get(k), keys: () => weights.lazy.keys(), numel: (k: string) => weights.lazy.numel(k), readInto: weights.readInto };
    this.stack = new LayerStack(spec, source, { threads: opts.threads, resident: this.resident });
  }

  /** What this encoder is, for messages. */
  describe(): string {
    return describe(this.config);
  }

  /** Wall time spent compiling graphs so far (ms). */
  get compileMs(): number {
    return this.stack.compileMs;
  }

  /** Time spent reading and widening weights, and running the layers, summed over calls (ms). */
  get timing(): Readonly<StackTiming> {
    return this.stack.timing;
  }

  /** What identifies these weights on disk (folder, config.json, each weight file's size and mtime): the embed cache's key part. */
  identity(): string {
    return encoderIdentity(this.folder, this.weights.files.weightFiles);
  }

  /**
   * transformers' `encoder(input_ids, attention_mask)`: input_ids [B, L] int64 (BigInt64Array, or integer
   * float32), attention_mask [B, L] optional (CLIP: padding keys masked on top of the causal mask; T5/umT5: padding
   * keys get float32's lowest bias). Returns last_hidden_state [B, L, D] and, for CLIP, pooler_output [B, D].
   */
  async forwardRaw(inputs: TextEncoderInputs, opts: ForwardOptions = {}): Promise<TextEncoderOutput> {
    const known = ['input_ids', 'attention_mask'];
    const unknown = Object.keys(inputs).filter((k) => !known.includes(k) && (inputs as unknown as Record<string, unknown>)[k] !== undefined);
    if (unknown.length) throw new ModelInputError(`text encoder forwardRaw: unknown input(s) ${unknown.join(', ')}; it takes input_ids and optionally attention_mask`);
    if (!inputs.input_ids) throw new ModelInputError('text encoder forwardRaw needs input_ids [batch, tokens] (int64)');
    const ids = integers(inputs.input_ids, 'input_ids');
    const [B, L] = inputs.input_ids.shape;
    if (B < 1 || L < 1) throw new ModelInputError(`input_ids must hold at least one token per row, got shape [${B}, ${L}]`);
    const vocab = this.config.vocabSize;
    const outside = ids.findIndex((v) => v < 0 || v >= vocab);
    if (outside >= 0) throw new ModelInputError(`input_ids holds token id ${ids[outside]} (row ${Math.floor(outside / L)}, position ${outside % L}), outside this encoder's vocabulary of ${vocab}; was the prompt tokenized with this model's tokenizer?`);
    let mask: number[] | undefined;
    if (inputs.attention_mask) {
      const s = inputs.attention_mask.shape;
      if (s.length !== 2 || s[0] !== B || s[1] !== L) throw new ModelInputError(`attention_mask must have input_ids' shape [${B}, ${L}], got [${s.join(', ')}]`);
      mask = integers(inputs.attention_mask, 'attention_mask');
    }
    const hidden = await (this.config.kind === 'clip' ? this.clipForward(this.config, ids, B, L, mask, opts) : this.t5Forward(this.config, ids, B, L, mask, opts));
    const D = this.hiddenSize;
    const last_hidden_state: Tensor = { data: hidden, shape: [B, L, D] };
    if (this.config.kind !== 'clip') return { last_hidden_state };
    const pooled = new Float32Array(B * D);
    clipPooledIndex(ids, B, L, this.config.eosTokenId).forEach((at, b) => pooled.set(hidden.subarray((b * L + at) * D, (b * L + at + 1) * D), b * D));
    return { last_hidden_state, pooler_output: { data: pooled, shape: [B, D] } };
  }

  private async clipForward(c: ClipTextConfig, ids: number[], B: number, L: number, mask: number[] | undefined, opts: ForwardOptions): Promise<Float32Array> {
    if (L > c.maxPositions) throw new ModelInputError(`a CLIP text model takes at most ${c.maxPositions} tokens (max_position_embeddings), got ${L}; truncate the prompt`);
    const D = c.hiddenSize;
    const h = this.weights.rows(CLIP_TOKEN_EMBEDDING, ids);
    this.clipPositions ??= this.weights.lazy.get(CLIP_POSITION_EMBEDDING)!;
    // inputs_embeds + position_embedding(arange(L)), in float32 as transformers adds them
    for (let b = 0; b < B; b++) for (let k = 0; k < L * D; k++) h[b * L * D + k] += this.clipPositions[k];
    const feeds: Record<string, Feed> = { attn_bias: { data: clipAttentionBias(B, L, mask), shape: [B, 1, L, L] } };
    return this.stack.run(h, B, L, feeds, opts.onLayer);
  }

  private async t5Forward(c: T5EncoderConfig, ids: number[], B: number, L: number, mask: number[] | undefined, opts: ForwardOptions): Promise<Float32Array> {
    const h = this.weights.rows(T5_SHARED, ids); // no scaling by √d_model, no absolute positions
    let buckets = this.buckets.get(L);
    if (!buckets) this.buckets.set(L, (buckets = relativePositionBuckets(L, c.relativeBuckets, c.relativeMaxDistance)));
    const feeds: Record<string, Feed> = {
      buckets: { data: buckets, shape: [L, L] },
      mask_bias: { data: t5MaskBias(B, L, mask), shape: [B, 1, 1, L] },
    };
    return this.stack.run(h, B, L, feeds, opts.onLayer);
  }

  /** Frees the compiled graphs and any resident weights. */
  async release(): Promise<void> {
    await this.stack.release();
    this.clipPositions = undefined;
  }
}
