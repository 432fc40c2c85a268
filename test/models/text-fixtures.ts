// Small tokenizer folders built for the text-encoder tests, shaped like the real ones: CLIP's byte-level BPE
// (FLUX.1 tokenizer/: NFC + whitespace + lowercase normalizer, CLIP's split pattern + ByteLevel pre-tokenizer,
// "</w>" word ends, BOS … EOS post-processor, pad = EOS, 77 tokens) and T5's Unigram (FLUX.1 tokenizer_2/ and
// Wan's umT5 tokenizer/: Precompiled normalizer + collapse of repeated spaces, Metaspace "▁" pre-tokenizer,
// "… </s>" post-processor, pad <pad> = 0). Vocabularies are tiny and chosen so every id in the tests can be
// worked out by hand.
import fs from 'node:fs';
import path from 'node:path';

/** CLIP-like vocabulary: byte-level symbols (bytes_to_unicode: 0xC3 → "Ã", 0xA9 → "©", 0xF0 → "ð", 0x9F → "Ł", 0x90 → "Ĳ", 0xB1 → "±"). */
export const CLIP_VOCAB: Record<string, number> = {
  a: 0, 'a</w>': 1, c: 2, 'd</w>': 3, e: 4, r: 5, 't</w>': 6, "'": 7, 's</w>': 8, '!': 9, '!</w>': 10, '0</w>': 11, '2</w>': 12, '4</w>': 13,
  f: 14, 'Ã': 15, '©</w>': 16, ',</w>': 17, 'ð': 18, 'Ł': 19, 'Ĳ': 20, '±</w>': 21,
  ca: 22, 'cat</w>': 23, re: 24, 'red</w>': 25, "'s</w>": 26, '!!': 27, '!!!</w>': 28, caf: 29, 'cafÃ': 30, 'cafÃ©</w>': 31,
  '<|startoftext|>': 32, '<|endoftext|>': 33,
};
/** merges in rank order: each makes the entry 22 + rank */
export const CLIP_MERGES = ['c a', 'ca t</w>', 'r e', 're d</w>', "' s</w>", '! !', '!! !</w>', 'ca f', 'caf Ã', 'cafÃ ©</w>'];
export const CLIP_BOS = 32;
export const CLIP_EOS = 33;

const CLIP_SPLIT = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** tokenizer.json of a CLIP tokenizer as the tokenizers library saves it. */
export function clipTokenizerJson(): object {
  const special = (content: string) => ({ id: CLIP_VOCAB[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<|startoftext|>'), special('<|endoftext|>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', CLIP_EOS], cls: ['<|startoftext|>', CLIP_BOS], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: CLIP_VOCAB, merges: CLIP_MERGES },
  };
}

export const CLIP_TOKENIZER_CONFIG = {
  bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>',
  model_max_length: 77, do_lower_case: true, tokenizer_class: 'CLIPTokenizer', clean_up_tokenization_spaces: true,
};

/** A CLIP tokenizer folder: tokenizer.json, or (FLUX.1's layout) vocab.json + merges.txt only. */
export function writeClipTokenizer(dir: string, layout: 'tokenizer.json' | 'vocab+merges'): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(CLIP_TOKENIZER_CONFIG));
  if (layout === 'tokenizer.json') fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(clipTokenizerJson()));
  else {
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(CLIP_VOCAB));
    fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${CLIP_MERGES.join('\n')}\n`);
  }
  return dir;
}

/** T5-like Unigram vocabulary [piece, log-probability]; index = id. */
export const T5_VOCAB: [string, number][] = [
  ['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁', -2], ['▁a', -3], ['▁red', -4], ['▁cat', -4], ['s', -5], ['▁fine', -5], ['▁cats', -10],
  ['2', -6], ['▁2', -6], ['0', -6], ['4', -6], [',', -5], ['!', -5], ['▁ca', -8], ['t', -7], ['▁café', -6], ['▁caf', -9],
];

/** tokenizer.json of a T5 / umT5 tokenizer (the Precompiled charsmap's bytes are not read by the library, which applies NFKC). */
export function t5TokenizerJson(opts: { byteFallback?: boolean; legacyPreTokenizer?: boolean } = {}): object {
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  const special = (id: number) => ({ id, content: T5_VOCAB[id][0], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0), special(1), special(2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Precompiled', precompiled_charsmap: 'ALQCAACEAAAAAACAAQAAgMz8AgC4BQAAhyIAgMzkAgC4PQAA' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: opts.legacyPreTokenizer ? { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', add_prefix_space: true }] } : metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab: T5_VOCAB, byte_fallback: !!opts.byteFallback },
  };
}

export const T5_TOKENIZER_CONFIG = { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', model_max_length: 512, tokenizer_class: 'T5Tokenizer', extra_ids: 0 };

export function writeT5Tokenizer(dir: string, opts: { byteFallback?: boolean; legacyPreTokenizer?: boolean } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(t5TokenizerJson(opts)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(T5_TOKENIZER_CONFIG));
  return dir;
}
