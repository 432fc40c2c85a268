// Prompt tokenizers read from a model folder by @huggingface/tokenizers (the pure-JS library transformers.js
// uses): the folder's tokenizer.json, or — for CLIP tokenizers shipped as vocab.json + merges.txt only, as in
// FLUX.1's tokenizer/ — the same byte-level BPE pipeline transformers' CLIP converter builds from those files.
// On top of the library's encode this module does what the pipelines ask of transformers' __call__:
// truncation to max_length keeping the special tokens (reporting how many tokens were dropped, as diffusers
// warns), padding with the tokenizer's pad token, and the attention mask.
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from '../../io/errors.js';
import { readJsonObject } from '../../io/json.js';
import { ModelInputError } from '../denoiser.js';
import type { Tensor } from '../tensor.js';

export type TokenizerSource = 'tokenizer.json' | 'vocab.json+merges.txt';

export interface TokenizeOptions {
  /** the longest row, special tokens included (FLUX: 77 for CLIP, 512 for T5; Wan: 512) */
  maxLength: number;
  /** pad every row to maxLength (default, as the pipelines call it), to the longest row, or not at all */
  padding?: 'max_length' | 'longest' | 'none';
  /** cut rows longer than maxLength (default true); false refuses them */
  truncation?: boolean;
  /** add the post-processor's special tokens (CLIP: BOS … EOS; T5: … EOS); default true */
  addSpecialTokens?: boolean;
  /** receives the truncation warnings (default console.warn) */
  warn?: (message: string) => void;
}

export interface TokenizedBatch {
  /** [P, N] int64 */
  readonly input_ids: Tensor;
  /** [P, N] int64: 1 on tokens (specials included), 0 on padding */
  readonly attention_mask: Tensor;
  /** real tokens per row, specials included */
  readonly lengths: readonly number[];
  /** tokens truncation dropped from each row (0 when the prompt fit) */
  readonly dropped: readonly number[];
}

/** Special tokens the post-processor puts around a single sequence. */
interface SpecialTemplate {
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
}

/** A tokenizer.json's top-level fields this module reads besides what the library does. */
interface TokenizerJson {
  model?: { type?: string; byte_fallback?: boolean; unk_id?: number; [k: string]: unknown } | null;
  padding?: { pad_id?: number; pad_token?: string } | null;
  truncation?: { max_length?: number } | null;
  added_tokens?: { id: number; content: string }[];
  [k: string]: unknown;
}

const TOKENIZER_JSON = 'tokenizer.json';
const TOKENIZER_CONFIG = 'tokenizer_config.json';
const SPECIAL_TOKENS_MAP = 'special_tokens_map.json';
/** transformers' "no limit" model_max_length (VERY_LARGE_INTEGER) and anything like it */
const NO_LIMIT = 1e15;
/** how much of the dropped text a truncation warning quotes */
const MAX_SHOWN_CHARS = 120;

/** A token named in tokenizer_config.json: a string or an AddedToken dict {content: …}. */
function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class PromptTokenizer {
  /** the longest input the tokenizer's config allows (tokenizer_config.json model_max_length), if it names one */
  readonly modelMaxLength?: number;
  /** the id padding uses, if the tokenizer names a pad token */
  readonly padTokenId?: number;
  /** the tokenizer model ('BPE', 'Unigram', …) */
  readonly modelType: string;
  /** which end truncation cuts and padding fills (tokenizer_config.json truncation_side / padding_side; default right) */
  readonly truncationSide: 'left' | 'right';
  readonly paddingSide: 'left' | 'right';
  private readonly specials: SpecialTemplate;
  private readonly byteFallbackUnk?: number;

  constructor(
    /** the folder it was read from */
    readonly folder: string,
    readonly source: TokenizerSource,
    private readonly tokenizer: Tokenizer,
    json: TokenizerJson,
    config: Record<string, unknown>,
  ) {
    this.modelType = json.model?.type ?? 'unknown';
    const maxLen = config.model_max_length ?? json.truncation?.max_length;
    if (typeof maxLen === 'number' && Number.isInteger(maxLen) && maxLen > 0 && maxLen < NO_LIMIT) this.modelMaxLength = maxLen;
    const padName = tokenName(config.pad_token);
    const padId = padName !== undefined ? tokenizer.token_to_id(padName) : json.padding?.pad_id;
    if (padName !== undefined && padId === undefined) throw new CheckpointError(path.join(folder, TOKENIZER_CONFIG), `names pad_token "${padName}", which the vocabulary does not hold`);
    this.padTokenId = padId;
    const side = (key: string): 'left' | 'right' => {
      const v = config[key] ?? 'right';
      if (v !== 'left' && v !== 'right') throw new CheckpointError(path.join(folder, TOKENIZER_CONFIG), `"${key}" is ${JSON.stringify(v)}, expected "left" or "right"`);
      return v;
    };
    this.truncationSide = side('truncation_side');
    this.paddingSide = side('padding_side');
    this.specials = this.specialTemplate();
    // The library's Unigram has no byte fallback: characters the vocabulary lacks become <unk> where
    // sentencepiece would spell their UTF-8 bytes (umT5's tokenizer does). Such prompts are warned about.
    if (json.model?.type === 'Unigram' && json.model.byte_fallback) this.byteFallbackUnk = json.model.unk_id;
  }

  /** The special tokens around one sequence, learnt by post-processing a placeholder (TemplateProcessing, RobertaProcessing, …). */
  private specialTemplate(): SpecialTemplate {
    const pp = this.tokenizer.post_processor;
    if (!pp) return { prefix: [], suffix: [] };
    const placeholder = '\u0000placeholder\u0000';
    const tokens = pp(([placeholder] as string[]), null, true).tokens;
    const at = tokens.indexOf(placeholder);
    if (at < 0) throw new CheckpointError(path.join(this.folder, TOKENIZER_JSON), 'has a post_processor whose single-sequence template holds no sequence');
    const id = (t: string): number => {
      const v = this.tokenizer.token_to_id(t);
      if (v === undefined) throw new CheckpointError(path.join(this.folder, TOKENIZER_JSON), `post_processor adds the token "${t}", which the vocabulary does not hold`);
      return v;
    };
    return { prefix: tokens.slice(0, at).map(id), suffix: tokens.slice(at + 1).map(id) };
  }

  /** Special tokens added to one sequence (CLIP 2, T5 1). */
  get specialTokenCount(): number {
    return this.specials.prefix.length + this.specials.suffix.length;
  }

  /** The ids of one prompt without special tokens, untruncated. */
  contentIds(prompt: string): number[] {
    return this.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  }

  /** The ids of one prompt with the special tokens, untruncated (what `tokenizer(prompt).input_ids` gives). */
  ids(prompt: string): number[] {
    return [...this.specials.prefix, ...this.contentIds(prompt), ...this.specials.suffix];
  }

  /** Text of some ids (special tokens skipped). */
  decode(ids: readonly number[]): string {
    return ids.length ? this.tokenizer.decode([...ids], { skip_special_tokens: true }) : '';
  }

  /**
   * Tokenizes prompts as `tokenizer(prompts, padding, max_length, truncation)` does: each row's content is cut
   * to maxLength minus the special tokens (at the truncation side, right by default), the specials are added,
   * and rows are padded with the pad token (at the padding side). Every truncated prompt is reported through
   * `warn` with the number of tokens dropped. The tokenizer.json's own padding / truncation settings are
   * overridden by these arguments, as transformers' call overrides them.
   */
  encode(prompts: readonly string[], opts: TokenizeOptions): TokenizedBatch {
    const { maxLength } = opts;
    const padding = opts.padding ?? 'max_length';
    const truncation = opts.truncation ?? true;
    const withSpecials = opts.addSpecialTokens ?? true;
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new ModelInputError(`maxLength must be a positive integer, got ${maxLength}`);
    const prefix = withSpecials ? this.specials.prefix : [];
    const suffix = withSpecials ? this.specials.suffix : [];
    const room = maxLength - prefix.length - suffix.length;
    if (room < 0) throw new ModelInputError(`maxLength ${maxLength} leaves no room for the ${prefix.length + suffix.length} special tokens`);
    const rows: number[][] = [];
    const dropped: number[] = [];
    prompts.forEach((prompt, p) => {
      if (typeof prompt !== 'string') throw new ModelInputError(`prompt ${p} is ${typeof prompt}, expected a string`);
      const content = this.contentIds(prompt);
      this.checkByteFallback(content, prompt, p, warn);
      const cut = Math.max(0, content.length - room);
      const left = this.truncationSide === 'left';
      if (cut > 0) {
        if (!truncation) throw new ModelInputError(`prompt ${p} is ${content.length + prefix.length + suffix.length} tokens, more than maxLength ${maxLength}, and truncation is off`);
        const removed = this.decode(left ? content.slice(0, cut) : content.slice(room));
        const shown = removed.length > MAX_SHOWN_CHARS ? `${removed.slice(0, MAX_SHOWN_CHARS)}…` : removed;
        warn(`prompt ${p} was truncated to ${maxLength} tokens: ${cut} token${cut === 1 ? '' : 's'} dropped (${JSON.stringify(shown)})`);
      }
      dropped.push(cut);
      rows.push([...prefix, ...(left ? content.slice(cut) : content.slice(0, content.length - cut)), ...suffix]);
    });
    const lengths = rows.map((r) => r.length);
    const width = padding === 'max_length' ? maxLength : Math.max(0, ...lengths);
    if (padding === 'none' && lengths.some((n) => n !== width)) throw new ModelInputError(`padding 'none' needs prompts of one length; got ${lengths.join(', ')} tokens`);
    if (lengths.some((n) => n < width) && this.padTokenId === undefined) {
      throw new CheckpointError(this.folder, `the tokenizer names no pad token (looked for pad_token in ${TOKENIZER_CONFIG} and padding.pad_id in ${TOKENIZER_JSON}), so prompts cannot be padded`, `Add "pad_token" to ${TOKENIZER_CONFIG}.`);
    }
    const ids = new BigInt64Array(rows.length * width);
    const mask = new BigInt64Array(rows.length * width);
    rows.forEach((r, p) => {
      const start = this.paddingSide === 'left' ? width - r.length : 0; // where the tokens begin in the padded row
      for (let j = 0; j < width; j++) {
        const k = j - start;
        const real = k >= 0 && k < r.length;
        ids[p * width + j] = BigInt(real ? r[k] : this.padTokenId!);
        mask[p * width + j] = real ? 1n : 0n;
      }
    });
    return { input_ids: { data: ids, shape: [rows.length, width] }, attention_mask: { data: mask, shape: [rows.length, width] }, lengths, dropped };
  }

  private checkByteFallback(content: readonly number[], prompt: string, p: number, warn: (m: string) => void): void {
    if (this.byteFallbackUnk === undefined || !content.includes(this.byteFallbackUnk)) return;
    warn(`prompt ${p} (${JSON.stringify(prompt.slice(0, 40))}…) holds characters the vocabulary lacks: they became the unknown token, where the reference tokenizer (byte_fallback) would spell their UTF-8 bytes`);
  }
}

// ------------------------------------------------------------------------------------------------
// Loading

function readOptionalJson(file: string): Record<string, unknown> {
  return fs.existsSync(file) ? readJsonObject(file) : {};
}

/**
 * transformers' CLIPTokenizer as its fast converter describes it, from vocab.json + merges.txt: NFC, runs of
 * whitespace → one space, lowercase; split into CLIP's word pattern (special tokens, English contractions,
 * letter runs, single digits, punctuation runs), byte-level BPE with "</w>" ending each word; BOS … EOS.
 */
function clipTokenizerJson(folder: string, config: Record<string, unknown>): TokenizerJson {
  const vocabFile = path.join(folder, 'vocab.json');
  const mergesFile = path.join(folder, 'merges.txt');
  const vocab = readJsonObject(vocabFile) as Record<string, number>;
  const merges = fs.readFileSync(mergesFile, 'utf8').split(/\r?\n/).filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
  const bos = tokenName(config.bos_token) ?? '<|startoftext|>';
  const eos = tokenName(config.eos_token) ?? '<|endoftext|>';
  const unk = tokenName(config.unk_token) ?? eos;
  for (const t of [bos, eos, unk]) if (typeof vocab[t] !== 'number') throw new CheckpointError(vocabFile, `holds no "${t}", which ${TOKENIZER_CONFIG} names as a special token`);
  const special = (t: string) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    added_tokens: [...new Set([bos, eos])].map(special),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [eos, vocab[eos]], cls: [bos, vocab[bos]], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab, merges, dropout: null, continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, unk_token: unk, byte_fallback: false },
  };
}

/**
 * The tokenizer of `folder` (a pipeline's tokenizer/ or tokenizer_2/): tokenizer.json (with tokenizer_config.json
 * for the pad token and model_max_length), or vocab.json + merges.txt of a CLIP tokenizer. A folder holding only a
 * sentencepiece model (spiece.model) is refused with what to provide: the library reads no sentencepiece files.
 */
export function loadTokenizer(folder: string): PromptTokenizer {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new CheckpointError(folder, 'is not a folder', `Pass the tokenizer folder (holding ${TOKENIZER_JSON}), e.g. a pipeline's tokenizer/.`);
  const config = { ...readOptionalJson(path.join(folder, SPECIAL_TOKENS_MAP)), ...readOptionalJson(path.join(folder, TOKENIZER_CONFIG)) };
  const jsonFile = path.join(folder, TOKENIZER_JSON);
  let json: TokenizerJson;
  let source: TokenizerSource;
  if (fs.existsSync(jsonFile)) {
    json = readJsonObject(jsonFile) as TokenizerJson;
    source = 'tokenizer.json';
  } else if (fs.existsSync(path.join(folder, 'vocab.json')) && fs.existsSync(path.join(folder, 'merges.txt'))) {
    const cls = typeof config.tokenizer_class === 'string' ? config.tokenizer_class : undefined;
    if (cls !== undefined && !/^CLIPTokenizer(Fast)?$/.test(cls)) {
      throw new CheckpointError(folder, `holds vocab.json + merges.txt of a ${cls}, which are read for CLIP tokenizers only`, `Provide ${TOKENIZER_JSON} (transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder) writes it).`);
    }
    json = clipTokenizerJson(folder, config);
    source = 'vocab.json+merges.txt';
  } else {
    const spiece = ['spiece.model', 'tokenizer.model'].find((f) => fs.existsSync(path.join(folder, f)));
    throw new CheckpointError(
      folder,
      spiece ? `holds ${spiece} but no ${TOKENIZER_JSON}: sentencepiece models are not read by the tokenizer library` : `holds no ${TOKENIZER_JSON} (nor vocab.json + merges.txt)`,
      `Provide ${TOKENIZER_JSON} — the model repository ships it beside ${spiece ?? 'the tokenizer config'}, or transformers writes it: AutoTokenizer.from_pretrained(folder).save_pretrained(folder).`,
    );
  }
  for (const k of ['model', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const) if (!(k in json)) json[k] = null;
  json.added_tokens ??= [];
  if (!json.model) throw new CheckpointError(jsonFile, 'has no "model"', 'Is this a tokenizers-library tokenizer.json?');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (e) {
    throw new CheckpointError(source === 'tokenizer.json' ? jsonFile : folder, `cannot be read by @huggingface/tokenizers (${(e as Error).message})`);
  }
  return new PromptTokenizer(folder, source, tokenizer, json, config);
}
