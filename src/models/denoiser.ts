// The denoiser contract: everything the pipeline, step evaluation, calibration, the benchmark and the CLI
// need from a model family, and nothing more. A family (models/dit today; FLUX and Wan next) implements it.
// Nothing above models/ names a family: it sees only this interface. Why it looks like this: docs/design.md.
import type { Tensor } from './tensor.js';

/** Bad input to a model: wrong shapes, labels out of range, weights that do not fit the config. */
export class ModelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelInputError';
  }
}

export type ModelFamily = 'dit' | 'flux' | 'wan';

/** What the network predicts: ε (DDPM family, sampled with DDIM / DPM-Solver++ / ancestral DDPM) or the flow velocity v. */
export type Objective = 'eps' | 'flow';

/**
 * The conditioning of a batch's rows, one entry per row (rows = CFG branches × samples). Class-conditional
 * families read `classLabels`; text-conditioned families add their embeddings here.
 */
export interface Conditioning {
  /** [R] class labels; the family's null label is the CFG unconditional branch */
  readonly classLabels?: readonly number[];
  /** [R, tokens, width] text token embeddings (FLUX: T5 hidden states; Wan: umT5 hidden states) */
  readonly textEmbeddings?: RowTensor;
  /** [R, width] pooled text embedding (FLUX: CLIP's pooled output) */
  readonly pooledText?: RowTensor;
  /** [R] guidance scale of guidance-distilled models (FLUX.1-dev's guidance embedding) */
  readonly guidance?: readonly number[];
}

/** A per-row tensor: rows × `perRow` values, flat; `shape` is one row's shape (e.g. [tokens, width]). */
export interface RowTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/**
 * What a text-conditioned model needs from its caller, who owns the text encoders (the model does not):
 * the widths of the embeddings it reads, and the family pipeline's conventions, so a pipeline or the CLI
 * can build and check a `Conditioning` without naming the family.
 */
export interface TextConditioning {
  /** width of each text token embedding (FLUX: joint_attention_dim, T5's 4096; Wan: text_dim, umT5's 4096) */
  readonly textWidth: number;
  /** width of the pooled text vector, when the model reads one (FLUX: pooled_projection_dim, CLIP's 768) */
  readonly pooledWidth?: number;
  /** the model embeds a guidance scale per row (FLUX.1-dev's distilled guidance); `Conditioning.guidance` is then required */
  readonly guidance: boolean;
  /**
   * The CFG unconditional branch is a negative-prompt embedding (Wan). False: the model is distilled to run
   * without classifier-free guidance (FLUX.1), so a CFG scale other than 1 only recomputes the same prediction.
   */
  readonly negativePrompt: boolean;
  /** the family pipeline's defaults: output size (frames present exactly for video models) and CFG scale */
  readonly defaults: { readonly heightPx: number; readonly widthPx: number; readonly frames?: number; readonly cfgScale: number };
}

/** An output size in pixels (and frames, for video models) with the prompt length in tokens. */
export interface OutputSize {
  readonly heightPx: number;
  readonly widthPx: number;
  /** video frames (video models only) */
  readonly frames?: number;
  /** text tokens per row (the prompt embedding's sequence length) */
  readonly textTokens: number;
}

/** A class-conditional model's label space. */
export interface ClassSpace {
  /** labels 0 … count − 1 */
  readonly count: number;
  /** the label of the unconditional (CFG) branch */
  readonly nullLabel: number;
  /** display names, index = label (e.g. ImageNet's from a pipeline folder's id2label); each may list synonyms "a, b" */
  readonly names?: readonly string[];
}

/** Output of the embed segment for R rows. */
export interface SegmentOut {
  /** [R, T, D] the block stack's input */
  tokens: Float32Array;
  /** [R, condSize] the conditioning vector every block and the head read */
  cond: Float32Array;
  /** [R, T, D] block 0's modulated attention input (TeaCache's signal), when asked for */
  modulatedInput0?: Float32Array;
}

/**
 * A diffusion transformer cut into segments: embed → blocks 0 … depth−1 (any contiguous range in one call)
 * → head. Segment state crossing calls is a token tensor [R, T, D] and a conditioning vector [R, condSize],
 * so caches extrapolate plain arrays and rows can be gathered, predicted or computed independently.
 * Every method rejects (never throws from a callback) with a clear message on bad input or engine failure.
 */
export interface Denoiser {
  readonly family: ModelFamily;
  readonly objective: Objective;
  /** blocks in the stack */
  readonly depth: number;
  /** T and D of the block stack's hidden state [R, T, D] */
  readonly tokens: number;
  readonly hiddenSize: number;
  /** width of the conditioning vector [R, condSize] */
  readonly condSize: number;
  /** one sample's latent (model input) shape, e.g. [C, H, W] */
  readonly latentShape: readonly number[];
  /** channels of the model output: latentShape[0], or twice that when a learned variance follows the prediction */
  readonly outputChannels: number;
  /** the output's channels after the first latentShape[0] are a learned variance (DiT's learn_sigma) */
  readonly learnedVariance: boolean;
  /** the label space of a class-conditional model */
  readonly classes?: ClassSpace;
  /** FLOPs of one block on one row (2 per multiply-add) */
  readonly blockFlops: number;
  /** wall time spent building graphs and sessions so far (ms); the pipeline's clocks leave it out */
  readonly compileMs: number;
  /**
   * The tokens [start, start + count) of the hidden state [R, T, D] that the head reads, when it reads
   * fewer than all T (FLUX: the image tokens after the text). Caches that forecast the whole stack's
   * output or measure block 0 (stack and first-block granularity) see only these tokens, as the released
   * TC-Padé and TeaCache code for FLUX do: the others never reach the output. Per-block caching keeps every
   * token (later blocks attend to them). Absent: all T tokens.
   */
  readonly outputTokens?: { readonly start: number; readonly count: number };
  /**
   * The kind of each stack block [depth] where a family has more than one (FLUX: 'double' stream blocks,
   * then 'single'); per-block caching never puts blocks of two kinds in one section. Absent: one kind.
   */
  readonly blockKinds?: readonly string[];

  /** the model output for `batch` rows: [batch, outputChannels, …latentShape.slice(1)] for channel-first latents (DiT, Wan); FLUX's packed, token-major latents give [batch, L_img, outputChannels] (diffusers' `.sample`) */
  outputShape(batch: number): number[];
  /** The conditioning of the CFG unconditional branch for the same rows. */
  unconditional(cond: Conditioning): Conditioning;

  /** Segment embed: x [R, …latentShape] at model timesteps t [R] → tokens and conditioning. */
  embed(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning, opts?: { withModulatedInput0?: boolean }): Promise<SegmentOut>;
  /** Blocks from … to − 1 on tokens [batch, T, D] → [batch, T, D]. */
  blocks(from: number, to: number, tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array>;
  /** Blocks from … ends.at(−1) − 1 in one call, returning the hidden state after block e − 1 for each e in ends. */
  blocksSplit(from: number, ends: readonly number[], tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array[]>;
  /** Segment head: tokens [batch, T, D] → model output [batch, outputChannels, …]. */
  head(tokens: Float32Array, cond: Float32Array, batch: number): Promise<Float32Array>;
  /** The head on forecast stack outputs, with the conditioning made from t and cond in the same call. */
  conditionedHead(tokens: Float32Array, t: readonly number[], cond: Conditioning, batch: number): Promise<Float32Array>;
  /** The whole network: x [R, …latentShape] → [R, outputChannels, …]. */
  forward(x: Float32Array, shape: readonly number[], t: readonly number[], cond: Conditioning): Promise<Float32Array>;
  /**
   * The forward of the family's reference implementation (diffusers), with its argument names and
   * conventions (DiT: hidden_states [B, C, H, W], timestep [B] float, class_labels [B] int64); returns its
   * `.sample`. Works at every model size (large models run segment by segment).
   */
  forwardRaw(inputs: Readonly<Record<string, Tensor>>): Promise<Tensor>;
  /** Frees every compiled session. */
  release(): Promise<void>;

  /** Present exactly for text-conditioned models: the embeddings they read and their pipeline's defaults. */
  readonly textConditioning?: TextConditioning;
  /**
   * The same model (weights, config, negative prompt) for another output size and prompt length: text-conditioned
   * models fix both per sampling run (the token count of the block stack depends on them), so a caller sizes the
   * model from its request. Sizes follow the family pipeline's conventions (FLUX: sides multiples of 16 px; Wan:
   * sides ÷ 8 then divisible by the patch, frames 4k + 1); a size that does not fit is refused with the nearest
   * valid values. Absent for models of one size (DiT).
   */
  atSize?(size: OutputSize): Denoiser;
  /**
   * Samples [batch, …latentShape] as the family's VAE takes them ([B, C, H, W] for images, [B, C, F, H, W] for
   * video): FLUX unpacks its 2 × 2-packed tokens. Absent when the samples already are VAE latents (DiT).
   */
  vaeLatent?(samples: Float32Array, batch: number): { data: Float32Array; shape: number[] };
}

function rowSize(t: RowTensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

function selectTensorRows(t: RowTensor, idx: readonly number[]): RowTensor {
  const n = rowSize(t);
  const out = new Float32Array(idx.length * n);
  idx.forEach((r, k) => out.set(t.data.subarray(r * n, (r + 1) * n), k * n));
  return { data: out, shape: t.shape };
}

function concatTensorRows(a: RowTensor, b: RowTensor, what: string): RowTensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ModelInputError(`concatRows: ${what} rows of shape [${a.shape.join(', ')}] and [${b.shape.join(', ')}] cannot be stacked`);
  }
  const out = new Float32Array(a.data.length + b.data.length);
  out.set(a.data, 0);
  out.set(b.data, a.data.length);
  return { data: out, shape: a.shape };
}

const FIELDS = ['classLabels', 'textEmbeddings', 'pooledText', 'guidance'] as const;

/** The rows `idx` of a conditioning (the rows a section's session call computes). */
export function selectRows(cond: Conditioning, idx: readonly number[]): Conditioning {
  return {
    ...(cond.classLabels ? { classLabels: idx.map((r) => cond.classLabels![r]) } : {}),
    ...(cond.textEmbeddings ? { textEmbeddings: selectTensorRows(cond.textEmbeddings, idx) } : {}),
    ...(cond.pooledText ? { pooledText: selectTensorRows(cond.pooledText, idx) } : {}),
    ...(cond.guidance ? { guidance: idx.map((r) => cond.guidance![r]) } : {}),
  };
}

/** Rows stacked: the first conditioning's rows, then the second's (CFG: cond then uncond). */
export function concatRows(a: Conditioning, b: Conditioning): Conditioning {
  for (const f of FIELDS) if (!!a[f] !== !!b[f]) throw new ModelInputError(`concatRows: both conditionings must carry ${f}, or neither`);
  return {
    ...(a.classLabels ? { classLabels: [...a.classLabels, ...b.classLabels!] } : {}),
    ...(a.textEmbeddings ? { textEmbeddings: concatTensorRows(a.textEmbeddings, b.textEmbeddings!, 'textEmbeddings') } : {}),
    ...(a.pooledText ? { pooledText: concatTensorRows(a.pooledText, b.pooledText!, 'pooledText') } : {}),
    ...(a.guidance ? { guidance: [...a.guidance, ...b.guidance!] } : {}),
  };
}

/** Rows in one conditioning. */
export function rowCount(cond: Conditioning): number {
  if (cond.classLabels) return cond.classLabels.length;
  if (cond.textEmbeddings) return cond.textEmbeddings.data.length / rowSize(cond.textEmbeddings);
  if (cond.pooledText) return cond.pooledText.data.length / rowSize(cond.pooledText);
  return cond.guidance?.length ?? 0;
}

/** The class count of a class-conditional model; a clear error for any other. */
export function classCount(m: Denoiser): number {
  if (!m.classes) throw new ModelInputError(`this ${m.family} model is not class-conditional`);
  return m.classes.count;
}
