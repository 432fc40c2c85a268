// The pipelines' prompt embeddings from tiny FLUX / Wan text folders (the encoder fixtures with the test
// tokenizers): FluxPipeline's prompt_embeds + pooled_prompt_embeds, WanPipeline's cleaned, cut and zero-padded
// prompt_embeds, and the on-disk cache that lets a repeated prompt skip its encoder.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EmbedCache, fluxPromptEmbeds, loadFluxTextParts, loadWanTextParts, wanPromptClean, wanPromptEmbeds, type FluxTextParts, type WanTextParts,
} from '../../src/models/text/index.js';
import type { TextEncoderModel } from '../../src/models/text/encoder.js';
import { writeClipTokenizer, writeT5Tokenizer } from './text-fixtures.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'text-prompt-embeds-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
}

/** A FLUX pipeline folder's text parts: CLIP + T5 fixtures, CLIP's tokenizer as FLUX.1 ships it (vocab + merges). */
function fluxFolder(): string {
  const dir = path.join(tmp, 'flux');
  copyDir(path.join(fixtures, 'clip_text_tiny/text_encoder'), path.join(dir, 'text_encoder'));
  copyDir(path.join(fixtures, 't5_encoder_tiny/text_encoder'), path.join(dir, 'text_encoder_2'));
  writeClipTokenizer(path.join(dir, 'tokenizer'), 'vocab+merges');
  writeT5Tokenizer(path.join(dir, 'tokenizer_2'));
  return dir;
}

function wanFolder(): string {
  const dir = path.join(tmp, 'wan');
  copyDir(path.join(fixtures, 'umt5_encoder_tiny/text_encoder'), path.join(dir, 'text_encoder'));
  writeT5Tokenizer(path.join(dir, 'tokenizer'), { byteFallback: true });
  return dir;
}

/** Counts the rows each encoder is asked to encode. */
function countRows(enc: TextEncoderModel): { rows: number } {
  const seen = { rows: 0 };
  const inner = enc.forwardRaw.bind(enc);
  enc.forwardRaw = (inputs, opts) => {
    seen.rows += inputs.input_ids.shape[0];
    return inner(inputs, opts);
  };
  return seen;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const prompts = ['A red cat!!!', 'café', ''];

describe('FLUX prompt embeddings', () => {
  let parts: FluxTextParts;
  const folder = fluxFolder();
  after(async () => {
    await parts?.clip.release();
    await parts?.t5.release();
  });

  it('prompt_embeds = T5 hidden states at 512 tokens (no mask), pooled = CLIP pooler at 77 — as the encoders give them', async () => {
    parts = await loadFluxTextParts(folder, { threads: 1 });
    const e = await fluxPromptEmbeds(parts, prompts);
    assert.deepEqual(e.prompt_embeds.shape, [3, 512, 32]);
    assert.deepEqual(e.pooled_prompt_embeds.shape, [3, 32]);
    const t5Ids = parts.t5Tokenizer.encode(prompts, { maxLength: 512 }).input_ids;
    const clipIds = parts.clipTokenizer.encode(prompts, { maxLength: 77 }).input_ids;
    assert.deepEqual(clipIds.shape, [3, 77]);
    const t5 = await parts.t5.forwardRaw({ input_ids: t5Ids });
    const clip = await parts.clip.forwardRaw({ input_ids: clipIds });
    assert.ok(maxAbsDiff(e.prompt_embeds.data as Float32Array, t5.last_hidden_state.data as Float32Array) < 1e-6);
    assert.ok(maxAbsDiff(e.pooled_prompt_embeds.data as Float32Array, clip.pooler_output!.data as Float32Array) < 1e-6);
    // the pooled row is CLIP's hidden state at the first EOS (argmax of the ids: EOS 33 is the largest)
    const D = 32;
    const last = clip.last_hidden_state.data as Float32Array;
    assert.deepEqual(Array.from(e.pooled_prompt_embeds.data.slice(D, 2 * D) as Float32Array), Array.from(last.subarray((77 + 2) * D, (77 + 3) * D)));
    // padding tokens are attended (FLUX passes no mask): their rows are not zero
    assert.ok((e.prompt_embeds.data as Float32Array).subarray(2 * 512 * 32 + 100 * 32, 2 * 512 * 32 + 101 * 32).some((v) => v !== 0));
  });

  it('long prompts are truncated with each tokenizer\'s warning and count; max_sequence_length 256 as schnell uses', async () => {
    parts ??= await loadFluxTextParts(folder, { threads: 1 });
    const warnings: string[] = [];
    const e = await fluxPromptEmbeds(parts, ['cat '.repeat(300).trim()], { maxSequenceLength: 256, warn: (m) => warnings.push(m) });
    assert.deepEqual(e.prompt_embeds.shape, [1, 256, 32]);
    assert.deepEqual(e.dropped, { clip: [225], t5: [45] }); // CLIP keeps 75 of 300 "cat"s; T5 255 of 300 "▁cat"s
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /^CLIP: prompt 0 was truncated to 77 tokens: 225 tokens dropped/);
    assert.match(warnings[1], /^T5: prompt 0 was truncated to 256 tokens: 45 tokens dropped/);
  });
});

describe('Wan prompt embeddings', () => {
  let parts: WanTextParts;
  after(async () => parts?.umt5.release());

  it('prompt_clean unescapes HTML twice and collapses whitespace', () => {
    assert.equal(wanPromptClean('  a &amp;amp; red\n\n\tcat  '), 'a & red cat');
    assert.equal(wanPromptClean('&lt;b&gt; caf&eacute;'), '<b> café');
    assert.equal(wanPromptClean(''), '');
  });

  it('umT5 with the mask, rows cut at each prompt\'s length and zero-filled to 512', async () => {
    parts = await loadWanTextParts(wanFolder(), { threads: 1 });
    const e = await wanPromptEmbeds(parts, ['a red   cat', '']);
    assert.deepEqual(e.prompt_embeds.shape, [2, 512, 32]);
    assert.deepEqual(e.lengths, [4, 1]); // ▁a ▁red ▁cat </s>; </s>
    const tokens = parts.tokenizer.encode(['a red cat', ''], { maxLength: 512 });
    const ref = (await parts.umt5.forwardRaw({ input_ids: tokens.input_ids, attention_mask: tokens.attention_mask })).last_hidden_state.data as Float32Array;
    const got = e.prompt_embeds.data as Float32Array;
    const D = 32;
    assert.ok(maxAbsDiff(got.subarray(0, 4 * D), ref.subarray(0, 4 * D)) < 1e-6);
    assert.ok(maxAbsDiff(got.subarray(512 * D, 513 * D), ref.subarray(512 * D, 513 * D)) < 1e-6);
    assert.ok(got.subarray(4 * D, 512 * D).every((v) => v === 0) && got.subarray(513 * D).every((v) => v === 0));
    assert.ok(ref.subarray(4 * D, 5 * D).some((v) => v !== 0), 'the encoder does output padding rows; the cut removes them');
  });
});

describe('prompt-embedding cache', () => {
  const folder = path.join(tmp, 'flux');

  it('a repeated prompt skips the encoder and gives the same tensors; a new prompt encodes only its row', async () => {
    const parts = await loadFluxTextParts(folder, { threads: 1 });
    const cache = new EmbedCache({ dir: path.join(tmp, 'cache-a') });
    const [clipCalls, t5Calls] = [countRows(parts.clip), countRows(parts.t5)];
    const first = await fluxPromptEmbeds(parts, prompts, { cache });
    assert.deepEqual([clipCalls.rows, t5Calls.rows], [3, 3]);
    const again = await fluxPromptEmbeds(parts, prompts, { cache });
    assert.deepEqual([clipCalls.rows, t5Calls.rows], [3, 3], 'no encoder ran');
    assert.deepEqual(again.prompt_embeds, first.prompt_embeds);
    assert.deepEqual(again.pooled_prompt_embeds, first.pooled_prompt_embeds);
    await fluxPromptEmbeds(parts, ['red, cat', 'café'], { cache });
    assert.deepEqual([clipCalls.rows, t5Calls.rows], [4, 4], 'only the new prompt was encoded');
    const files = fs.readdirSync(cache.dir);
    assert.equal(files.length, 8, 'one entry per prompt and encoder, no temporary files left');
    assert.ok(files.every((f) => /^[0-9a-f]{64}\.safetensors$/.test(f)));
    await parts.clip.release();
    await parts.t5.release();
  });

  it('keys change with the weights file (size or mtime) and the ids; --no-embed-cache reads and writes nothing', async () => {
    const parts = await loadFluxTextParts(folder, { threads: 1 });
    const dir = path.join(tmp, 'cache-b');
    const cache = new EmbedCache({ dir });
    const t5Calls = countRows(parts.t5);
    await fluxPromptEmbeds(parts, ['cats'], { cache });
    const id1 = parts.t5.identity();
    const weights = path.join(folder, 'text_encoder_2/model.safetensors');
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(weights, later, later);
    assert.notEqual(parts.t5.identity(), id1);
    await fluxPromptEmbeds(parts, ['cats'], { cache });
    assert.equal(t5Calls.rows, 2, 'touched weights: the entry no longer matches');
    assert.notEqual(cache.key(id1, 'x', [1, 2]), cache.key(id1, 'x', [1, 3]));
    assert.notEqual(cache.key(id1, 'x', [1, 2]), cache.key(id1, 'x', [1, 2], [1, 0]));
    const off = new EmbedCache({ dir: path.join(tmp, 'cache-off'), enabled: false });
    await fluxPromptEmbeds(parts, ['cats'], { cache: off });
    await fluxPromptEmbeds(parts, ['cats'], { cache: off });
    assert.equal(t5Calls.rows, 4);
    assert.equal(fs.existsSync(off.dir), false);
    await parts.clip.release();
    await parts.t5.release();
  });

  it('an unreadable entry is a miss (removed and rewritten); the folder is trimmed to maxBytes, least recently used first', async () => {
    const parts = await loadWanTextParts(path.join(tmp, 'wan'), { threads: 1 });
    const calls = countRows(parts.umt5);
    const dir = path.join(tmp, 'cache-c');
    const cache = new EmbedCache({ dir });
    const want = await wanPromptEmbeds(parts, ['a red cat'], { cache });
    const [entry] = fs.readdirSync(dir);
    fs.writeFileSync(path.join(dir, entry), 'torn');
    const got = await wanPromptEmbeds(parts, ['a red cat'], { cache });
    assert.equal(calls.rows, 2);
    assert.deepEqual(got.prompt_embeds, want.prompt_embeds);
    assert.ok(fs.statSync(path.join(dir, entry)).size > 100, 'rewritten');
    // each entry holds the kept rows only: 4 × 32 float32 + header
    const small = new EmbedCache({ dir: path.join(tmp, 'cache-d'), maxBytes: 2 * fs.statSync(path.join(dir, entry)).size + 10 });
    for (const p of ['a red cat', 'cats!', 'red, cat', 'a red cat']) await wanPromptEmbeds(parts, [p], { cache: small });
    assert.equal(fs.readdirSync(small.dir).length, 2, 'two entries fit');
    const before = calls.rows;
    await wanPromptEmbeds(parts, ['a red cat'], { cache: small });
    assert.equal(calls.rows, before, 'the most recently used entry was kept');
    await parts.umt5.release();
  });
});
