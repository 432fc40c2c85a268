// What FluxPipeline and WanPipeline do with their text encoders, so the CLI gets the tensors a diffusers
// pipeline would hand its transformer:
// - FLUX (encode_prompt): prompt_embeds = T5 last_hidden_state of the prompt padded to max_sequence_length (512)
//   with no attention mask; pooled_prompt_embeds = CLIP's pooler_output of the prompt padded to 77, no mask.
// - Wan (_get_t5_prompt_embeds): the prompt cleaned (HTML entities unescaped twice, whitespace collapsed),
//   padded to max_sequence_length (512 in __call__) with its attention mask; umT5's last_hidden_state cut at the
//   mask's length and zero-filled back to max_sequence_length.
// Rows are cached per prompt (embed-cache.ts) when a cache is given; rows not in it are encoded in one batch.
import path from 'node:path';
import { decodeHTML } from 'entities';
import { ModelInputError } from '../denoiser.js';
import type { Tensor } from '../tensor.js';
import type { EmbedCache } from './embed-cache.js';
import type { TextEncoderModel, TextEncoderOptions } from './encoder.js';
import { loadTextEncoder } from './load.js';
import { type PromptTokenizer, loadTokenizer } from './tokenizer.js';

/** FluxPipeline's and WanPipeline's max_sequence_length default in __call__. */
export const DEFAULT_MAX_SEQUENCE_LENGTH = 512;

export interface PromptEmbedOptions {
  /** T5 / umT5 tokens per prompt (default 512; FLUX.1-schnell's pipeline uses 256) */
  maxSequenceLength?: number;
  /** where rows are looked up and stored; none: always encode */
  cache?: EmbedCache;
  /** receives truncation warnings (default console.warn) */
  warn?: (message: string) => void;
}

/** FLUX's text parts: CLIP (text_encoder/, tokenizer/) and T5 (text_encoder_2/, tokenizer_2/). */
export interface FluxTextParts {
  readonly clip: TextEncoderModel;
  readonly clipTokenizer: PromptTokenizer;
  readonly t5: TextEncoderModel;
  readonly t5Tokenizer: PromptTokenizer;
}

/** Wan's text parts: umT5 (text_encoder/, tokenizer/). */
export interface WanTextParts {
  readonly umt5: TextEncoderModel;
  readonly tokenizer: PromptTokenizer;
}

export interface FluxPromptEmbeds {
  /** [P, maxSequenceLength, T5 d_model] */
  readonly prompt_embeds: Tensor;
  /** [P, CLIP hidden] */
  readonly pooled_prompt_embeds: Tensor;
  /** tokens truncation dropped per prompt, for each tokenizer */
  readonly dropped: { readonly clip: readonly number[]; readonly t5: readonly number[] };
}

export interface WanPromptEmbeds {
  /** [P, maxSequenceLength, umT5 d_model], rows past each prompt's length zero */
  readonly prompt_embeds: Tensor;
  /** real tokens per prompt (EOS included): the rows kept */
  readonly lengths: readonly number[];
  readonly dropped: readonly number[];
}

function expectKind(enc: TextEncoderModel, kinds: readonly string[], where: string): void {
  if (!kinds.includes(enc.kind)) throw new ModelInputError(`${where} holds a ${enc.kind} encoder (${enc.folder}); expected ${kinds.join(' or ')}`);
}

/** The text encoders and tokenizers of a FLUX pipeline folder. */
export async function loadFluxTextParts(pipelineFolder: string, opts: TextEncoderOptions = {}): Promise<FluxTextParts> {
  const clip = await loadTextEncoder(path.join(pipelineFolder, 'text_encoder'), opts);
  expectKind(clip, ['clip'], 'text_encoder/');
  const t5 = await loadTextEncoder(path.join(pipelineFolder, 'text_encoder_2'), opts);
  expectKind(t5, ['t5'], 'text_encoder_2/');
  return { clip, clipTokenizer: loadTokenizer(path.join(pipelineFolder, 'tokenizer')), t5, t5Tokenizer: loadTokenizer(path.join(pipelineFolder, 'tokenizer_2')) };
}

/** The text encoder and tokenizer of a Wan pipeline folder. */
export async function loadWanTextParts(pipelineFolder: string, opts: TextEncoderOptions = {}): Promise<WanTextParts> {
  const umt5 = await loadTextEncoder(path.join(pipelineFolder, 'text_encoder'), opts);
  expectKind(umt5, ['umt5', 't5'], 'text_encoder/');
  return { umt5, tokenizer: loadTokenizer(path.join(pipelineFolder, 'tokenizer')) };
}

/**
 * Per-row outputs of `enc` for the rows of ids [P, L] (and mask), from the cache where present; the others are
 * encoded in one forwardRaw call. `pick` takes what is kept of prompt row `promptRow` from the batch output, where it
 * is row `batchRow`.
 */
async function encodeRows(
  enc: TextEncoderModel,
  what: string,
  ids: Tensor,
  mask: Tensor | undefined,
  cache: EmbedCache | undefined,
  pick: (out: Awaited<ReturnType<TextEncoderModel['forwardRaw']>>, batchRow: number, promptRow: number) => { data: Float32Array; shape: number[] },
): Promise<{ data: Float32Array; shape: readonly number[] }[]> {
  const [P, L] = ids.shape;
  const rowOf = (t: Tensor, r: number) => (t.data as BigInt64Array).subarray(r * L, (r + 1) * L);
  const identity = cache?.enabled ? enc.identity() : '';
  const keys = Array.from({ length: P }, (_, r) => (cache?.enabled ? cache.key(identity, what, rowOf(ids, r), mask && rowOf(mask, r)) : ''));
  const rows: ({ data: Float32Array; shape: readonly number[] } | undefined)[] = keys.map((k) => (cache?.enabled ? cache.get(k)?.[what] : undefined));
  const todo = rows.flatMap((r, i) => (r ? [] : [i]));
  if (todo.length) {
    const gather = (t: Tensor): Tensor => {
      const out = new BigInt64Array(todo.length * L);
      todo.forEach((r, k) => out.set(rowOf(t, r), k * L));
      return { data: out, shape: [todo.length, L] };
    };
    const out = await enc.forwardRaw({ input_ids: gather(ids), attention_mask: mask && gather(mask) });
    todo.forEach((r, k) => {
      const row = pick(out, k, r);
      rows[r] = row;
      cache?.put(keys[r], { [what]: row }, what);
    });
  }
  return rows as { data: Float32Array; shape: readonly number[] }[];
}

function stack(rows: readonly { data: Float32Array; shape: readonly number[] }[], shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * n);
  rows.forEach((r, i) => data.set(r.data, i * n));
  return { data, shape: [rows.length, ...shape] };
}

/**
 * FluxPipeline.encode_prompt's prompt_embeds and pooled_prompt_embeds for `prompts` (one row each; repeat rows
 * for several images per prompt). An empty prompt is allowed.
 */
export async function fluxPromptEmbeds(parts: FluxTextParts, prompts: readonly string[], opts: PromptEmbedOptions = {}): Promise<FluxPromptEmbeds> {
  if (prompts.length === 0) throw new ModelInputError('fluxPromptEmbeds needs at least one prompt');
  const { clip, clipTokenizer, t5, t5Tokenizer } = parts;
  expectKind(clip, ['clip'], 'FLUX text_encoder');
  expectKind(t5, ['t5'], 'FLUX text_encoder_2');
  const maxT5 = opts.maxSequenceLength ?? DEFAULT_MAX_SEQUENCE_LENGTH;
  // FluxPipeline pads CLIP prompts to tokenizer.model_max_length (77, CLIP's position count)
  const maxClip = clipTokenizer.modelMaxLength ?? (clip.config.kind === 'clip' ? clip.config.maxPositions : 77);
  const warnAs = (who: string) => (m: string) => (opts.warn ?? ((x: string) => console.warn(x)))(`${who}: ${m}`);
  const clipTokens = clipTokenizer.encode(prompts, { maxLength: maxClip, warn: warnAs('CLIP') });
  const t5Tokens = t5Tokenizer.encode(prompts, { maxLength: maxT5, warn: warnAs('T5') });
  // Both encoders run without an attention mask, as FluxPipeline calls them.
  const pooled = await encodeRows(clip, 'clip.pooler_output', clipTokens.input_ids, undefined, opts.cache, (o, r) => {
    const D = clip.hiddenSize;
    return { data: (o.pooler_output!.data as Float32Array).slice(r * D, (r + 1) * D), shape: [D] };
  });
  const embeds = await encodeRows(t5, 't5.last_hidden_state', t5Tokens.input_ids, undefined, opts.cache, (o, r) => {
    const n = maxT5 * t5.hiddenSize;
    return { data: (o.last_hidden_state.data as Float32Array).slice(r * n, (r + 1) * n), shape: [maxT5, t5.hiddenSize] };
  });
  return {
    prompt_embeds: stack(embeds, [maxT5, t5.hiddenSize]),
    pooled_prompt_embeds: stack(pooled, [clip.hiddenSize]),
    dropped: { clip: clipTokens.dropped, t5: t5Tokens.dropped },
  };
}

/**
 * WanPipeline's prompt_clean: HTML entities unescaped twice, outer whitespace stripped, runs of whitespace made one
 * space. (The pipeline also applies ftfy.fix_text when ftfy is installed; it is not applied here.)
 */
export function wanPromptClean(text: string): string {
  return decodeHTML(decodeHTML(text)).trim().replace(/\s+/g, ' ').trim();
}

/**
 * WanPipeline's prompt_embeds for `prompts`: umT5 with the attention mask, each row cut at its token count and
 * zero-filled to maxSequenceLength. The negative prompt (default "") is encoded the same way.
 */
export async function wanPromptEmbeds(parts: WanTextParts, prompts: readonly string[], opts: PromptEmbedOptions = {}): Promise<WanPromptEmbeds> {
  if (prompts.length === 0) throw new ModelInputError('wanPromptEmbeds needs at least one prompt');
  const { umt5, tokenizer } = parts;
  const L = opts.maxSequenceLength ?? DEFAULT_MAX_SEQUENCE_LENGTH;
  const D = umt5.hiddenSize;
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const tokens = tokenizer.encode(prompts.map(wanPromptClean), { maxLength: L, warn: (m) => warn(`umT5: ${m}`) });
  // Only the rows up to the prompt's length survive the pipeline's cut, so only those are kept (and cached).
  const kept = await encodeRows(umt5, 'umt5.last_hidden_state.cut', tokens.input_ids, tokens.attention_mask, opts.cache, (o, k, p) => {
    const n = tokens.lengths[p]; // seq_len = mask.sum()
    return { data: (o.last_hidden_state.data as Float32Array).slice(k * L * D, (k * L + n) * D), shape: [n, D] };
  });
  return { prompt_embeds: wanCutAndPad(kept, L, D), lengths: tokens.lengths, dropped: tokens.dropped };
}

/**
 * WanPipeline's cut: `[u[:v] for u, v in zip(embeds, seq_lens)]`, each zero-padded to `L` rows. `rows` are the
 * kept rows per prompt ([n_p, D]).
 */
export function wanCutAndPad(rows: readonly { data: Float32Array; shape: readonly number[] }[], L: number, D: number): Tensor {
  const data = new Float32Array(rows.length * L * D);
  rows.forEach((r, p) => {
    if (r.shape[0] > L || r.shape[1] !== D) throw new ModelInputError(`a kept row block of shape [${r.shape.join(', ')}] does not fit [${L}, ${D}]`);
    data.set(r.data, p * L * D);
  });
  return { data, shape: [rows.length, L, D] };
}
