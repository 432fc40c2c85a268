// Tokenizers read by @huggingface/tokenizers from small tokenizer folders shaped like the real ones
// (text-fixtures.ts): ids worked out by hand on tricky prompts, truncation to the pipelines' lengths with the
// number of dropped tokens reported, padding and masks, CLIP's vocab.json + merges.txt layout, and the errors.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTokenizer } from '../../src/models/text/index.js';
import { CLIP_BOS, CLIP_EOS, writeClipTokenizer, writeT5Tokenizer } from './text-fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'text-tokenizers-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rows = (t: { data: unknown; shape: number[] }): number[][] => {
  const flat = Array.from(t.data as BigInt64Array, Number);
  return Array.from({ length: t.shape[0] }, (_, r) => flat.slice(r * t.shape[1], (r + 1) * t.shape[1]));
};

describe('CLIP tokenizer (byte-level BPE, tokenizer.json)', () => {
  const tok = loadTokenizer(writeClipTokenizer(path.join(tmp, 'clip'), 'tokenizer.json'));

  it('ids worked out by hand', () => {
    const [B, E] = [CLIP_BOS, CLIP_EOS];
    // lowercased; "red" = r·e → re (merge 2), re·d</w> → red</w> (25); "cat" = c·a → ca, ca·t</w> → cat</w> (23);
    // "!!!" is one punctuation word: !·! → !! (27), !!·!</w> → !!!</w> (28)
    assert.deepEqual(tok.ids('A red cat!!!'), [B, 1, 25, 23, 28, E]);
    // the contraction 's is a word of its own: '·s</w> → 's</w> (26)
    assert.deepEqual(tok.ids("cat's"), [B, 23, 26, E]);
    // CLIP splits numbers into single digits: 2</w> 0</w> 2</w> 4</w>
    assert.deepEqual(tok.ids('2024'), [B, 12, 11, 12, 13, E]);
    // é is the bytes C3 A9 → "Ã" "©"; merges ca → caf → cafÃ → cafÃ©</w> (31); the decomposed form (e + U+0301) is NFC-normalised first
    assert.deepEqual(tok.ids('café'), [B, 31, E]);
    assert.deepEqual(tok.ids('cafe\u0301'), [B, 31, E]);
    // an emoji is four byte symbols (F0 9F 90 B1 → ð Ł Ĳ ±), no merges
    assert.deepEqual(tok.ids('🐱'), [B, 18, 19, 20, 21, E]);
    // tabs and newlines are whitespace, upper case is lowered; the comma is a word
    assert.deepEqual(tok.ids('RED\t\n  cat'), [B, 25, 23, E]);
    assert.deepEqual(tok.ids('red, cat'), [B, 25, 17, 23, E]);
    assert.deepEqual(tok.ids(''), [B, E]);
  });

  it('pads to 77 with the pad token (= EOS) and masks the padding; an empty prompt is BOS EOS', () => {
    const t = tok.encode(['A red cat!!!', ''], { maxLength: 77 });
    assert.deepEqual(t.input_ids.shape, [2, 77]);
    const [a, b] = rows(t.input_ids);
    assert.deepEqual(a, [CLIP_BOS, 1, 25, 23, 28, CLIP_EOS, ...new Array(71).fill(CLIP_EOS)]);
    assert.deepEqual(b, [CLIP_BOS, CLIP_EOS, ...new Array(75).fill(CLIP_EOS)]);
    assert.deepEqual(rows(t.attention_mask).map((r) => r.reduce((x, y) => x + y, 0)), [6, 2]);
    assert.deepEqual(t.lengths, [6, 2]);
    assert.deepEqual(t.dropped, [0, 0]);
    assert.equal(tok.modelMaxLength, 77);
    assert.equal(tok.padTokenId, CLIP_EOS);
  });

  it('truncates past 77 tokens keeping BOS and EOS, and warns with the number of tokens dropped', () => {
    const warnings: string[] = [];
    const t = tok.encode(['cat '.repeat(80).trim(), 'red cat'], { maxLength: 77, warn: (m) => warnings.push(m) });
    const [long] = rows(t.input_ids);
    assert.deepEqual(long, [CLIP_BOS, ...new Array(75).fill(23), CLIP_EOS]); // 80 cats, 75 kept
    assert.deepEqual(t.dropped, [5, 0]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^prompt 0 was truncated to 77 tokens: 5 tokens dropped \("cat cat cat cat cat"\)$/);
    assert.throws(() => tok.encode(['cat '.repeat(80)], { maxLength: 77, truncation: false }), /82 tokens, more than maxLength 77, and truncation is off/);
  });

  it('FLUX.1\'s layout (vocab.json + merges.txt, no tokenizer.json) reads as the same tokenizer', () => {
    const files = loadTokenizer(writeClipTokenizer(path.join(tmp, 'clip-files'), 'vocab+merges'));
    assert.equal(files.source, 'vocab.json+merges.txt');
    for (const p of ['A red cat!!!', "cat's", '2024', 'cafe\u0301', '🐱', 'RED\t\n  cat', 'red, cat', '']) assert.deepEqual(files.ids(p), tok.ids(p), p);
    assert.equal(files.padTokenId, CLIP_EOS);
  });
});

describe('T5 tokenizer (Unigram, tokenizer.json)', () => {
  const tok = loadTokenizer(writeT5Tokenizer(path.join(tmp, 't5')));

  it('ids worked out by hand (Viterbi over the piece scores)', () => {
    // "▁a▁red▁cat": ▁a (−3) ▁red (−4) ▁cat (−4), then </s> (1)
    assert.deepEqual(tok.ids('a red cat'), [4, 5, 6, 1]);
    // "▁cats": ▁cat + s (−4 − 5 = −9) beats the piece ▁cats (−10)
    assert.deepEqual(tok.ids('cats'), [6, 7, 1]);
    // "▁2024": ▁2 0 2 4 (−24) beats ▁ 2 0 2 4 (−26)
    assert.deepEqual(tok.ids('2024'), [11, 12, 10, 13, 1]);
    // NFKC (the Precompiled normalizer): the ligature ﬁ is "fi"; full-width １２ is "12" (no "1" piece: ▁, <unk>, 2)
    assert.deepEqual(tok.ids('ﬁne'), [8, 1]);
    assert.deepEqual(tok.ids('１２'), [3, 2, 10, 1]);
    assert.deepEqual(tok.ids('cafe\u0301'), [18, 1]);
    // unknown letters become one fused <unk> (2) after ▁
    assert.deepEqual(tok.ids('Hello'), [3, 2, 1]);
    assert.deepEqual(tok.ids('red, cat!'), [5, 14, 6, 15, 1]);
    // runs of spaces collapse to one; a no-break space is a space
    assert.deepEqual(tok.ids('a   red'), [4, 5, 1]);
    assert.deepEqual(tok.ids('a\u00a0red'), [4, 5, 1]);
    assert.deepEqual(tok.ids(''), [1]);
  });

  it('pads to 512 with <pad> (0); truncation keeps </s> and reports the dropped tokens', () => {
    const warnings: string[] = [];
    const t = tok.encode(['a '.repeat(600).trim(), 'cats', ''], { maxLength: 512, warn: (m) => warnings.push(m) });
    const [long, cats, empty] = rows(t.input_ids);
    assert.deepEqual(long, [...new Array(511).fill(4), 1]);
    assert.deepEqual(cats, [6, 7, 1, ...new Array(509).fill(0)]);
    assert.deepEqual(empty, [1, ...new Array(511).fill(0)]);
    assert.deepEqual(t.dropped, [89, 0, 0]);
    assert.deepEqual(t.lengths, [512, 3, 1]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^prompt 0 was truncated to 512 tokens: 89 tokens dropped/);
    // padding to the longest row instead
    const longest = tok.encode(['cats', 'a red cat'], { maxLength: 512, padding: 'longest' });
    assert.deepEqual(rows(longest.input_ids), [[6, 7, 1, 0], [4, 5, 6, 1]]);
    assert.deepEqual(rows(longest.attention_mask), [[1, 1, 1, 0], [1, 1, 1, 1]]);
  });

  it('the older pre-tokenizer (WhitespaceSplit + Metaspace) gives the same ids; byte-fallback vocabularies warn on <unk>', () => {
    const legacy = loadTokenizer(writeT5Tokenizer(path.join(tmp, 'umt5'), { legacyPreTokenizer: true, byteFallback: true }));
    for (const p of ['a red cat', 'cats', '2024', 'ﬁne', 'red, cat!', 'a   red']) assert.deepEqual(legacy.ids(p), tok.ids(p), p);
    const warnings: string[] = [];
    legacy.encode(['Hello', 'a red cat'], { maxLength: 16, warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /prompt 0 .* holds characters the vocabulary lacks: they became the unknown token, where the reference tokenizer \(byte_fallback\) would spell their UTF-8 bytes/);
  });
});

describe('tokenizer folders that cannot be read', () => {
  it('say which file was looked for and what to provide', () => {
    assert.throws(() => loadTokenizer(path.join(tmp, 'absent')), /absent: is not a folder/);
    const spiece = path.join(tmp, 'spiece-only');
    fs.mkdirSync(spiece);
    fs.writeFileSync(path.join(spiece, 'spiece.model'), 'x');
    assert.throws(() => loadTokenizer(spiece), /holds spiece\.model but no tokenizer\.json.*Provide tokenizer\.json/);
    const nothing = path.join(tmp, 'nothing');
    fs.mkdirSync(nothing);
    assert.throws(() => loadTokenizer(nothing), /holds no tokenizer\.json \(nor vocab\.json \+ merges\.txt\)/);
    const gpt2 = writeClipTokenizer(path.join(tmp, 'gpt2'), 'vocab+merges');
    fs.writeFileSync(path.join(gpt2, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'GPT2Tokenizer' }));
    assert.throws(() => loadTokenizer(gpt2), /vocab\.json \+ merges\.txt of a GPT2Tokenizer, which are read for CLIP tokenizers only/);
    const noPad = writeT5Tokenizer(path.join(tmp, 'nopad'));
    fs.writeFileSync(path.join(noPad, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>' }));
    const t = loadTokenizer(noPad);
    assert.deepEqual(rows(t.encode(['cats'], { maxLength: 3 }).input_ids), [[6, 7, 1]]); // no padding needed: fine
    assert.throws(() => t.encode(['cats'], { maxLength: 8 }), /names no pad token \(looked for pad_token in tokenizer_config\.json and padding\.pad_id in tokenizer\.json\)/);
  });
});

describe('settings from the tokenizer files', () => {
  it('tokenizer.json padding / truncation give the pad id and length when tokenizer_config.json is absent; the call overrides them', () => {
    const dir = path.join(tmp, 'settings');
    writeT5Tokenizer(dir);
    fs.rmSync(path.join(dir, 'tokenizer_config.json'));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    json.padding = { strategy: { Fixed: 6 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '<pad>' };
    json.truncation = { direction: 'Right', max_length: 6, strategy: 'LongestFirst', stride: 0 };
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    const tok = loadTokenizer(dir);
    assert.equal(tok.padTokenId, 0);
    assert.equal(tok.modelMaxLength, 6);
    assert.deepEqual(rows(tok.encode(['cats'], { maxLength: 8 }).input_ids), [[6, 7, 1, 0, 0, 0, 0, 0]]);
  });

  it('padding_side / truncation_side "left" from tokenizer_config.json', () => {
    const dir = writeT5Tokenizer(path.join(tmp, 'left'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: '<pad>', padding_side: 'left', truncation_side: 'left' }));
    const tok = loadTokenizer(dir);
    const warnings: string[] = [];
    const t = tok.encode(['cats', 'a red cat 2024'], { maxLength: 6, warn: (m) => warnings.push(m) });
    // "▁a ▁red ▁cat ▁2 0 2 4" is 7 pieces; 6 tokens leave room for 5 before </s>: "▁a ▁red" go from the left
    assert.deepEqual(rows(t.input_ids), [[0, 0, 0, 6, 7, 1], [6, 11, 12, 10, 13, 1]]);
    assert.deepEqual(rows(t.attention_mask), [[0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]]);
    assert.deepEqual(t.dropped, [0, 2]);
    assert.match(warnings[0], /2 tokens dropped \("a red"\)/);
  });
});
