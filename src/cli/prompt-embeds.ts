// `tcpade generate --prompt-embeds`: a safetensors file of text-encoder outputs (the names diffusers'
// pipelines return from encode_prompt) → the per-sample conditioning of a text-conditioned model, checked
// against what the model reads (Denoiser.textConditioning), and the output size it is sampled at.
import { InvalidArgumentError, type OptionValues } from 'commander';
import type { Conditioning, Denoiser, OutputSize, TextConditioning } from '../models/denoiser.js';
import type { Tensor } from '../models/tensor.js';
import { readSafetensorsSync, toFloat32 } from '../io/safetensors.js';
import { encodePrompts } from './prompts.js';

export const PROMPT_EMBEDS = 'prompt_embeds';
export const POOLED_PROMPT_EMBEDS = 'pooled_prompt_embeds';
export const NEGATIVE_PROMPT_EMBEDS = 'negative_prompt_embeds';
export const NEGATIVE_POOLED_PROMPT_EMBEDS = 'negative_pooled_prompt_embeds';

export interface PromptEmbedsRequest {
  /** samples per prompt (rows of one prompt are consecutive) */
  perPrompt: number;
  /** the guidance scale embedded per row (models with a guidance embedding only) */
  guidance?: number;
  /** the run uses classifier-free guidance against the negative embeddings */
  withNegative: boolean;
}

export interface PromptConditioning {
  /** P prompts in the file */
  prompts: number;
  /** L text tokens per prompt */
  textTokens: number;
  /** P · perPrompt rows, prompt by prompt */
  conditioning: Conditioning;
  /** 1 row (one negative for all) or P · perPrompt rows; present with `withNegative` */
  negative?: Conditioning;
  /** tensors in the file this run does not read, with why */
  notes: string[];
}

/** Named embedding tensors: a --prompt-embeds file's, or what the text encoders made of --prompt. */
export interface EmbedSource {
  /** the file, or "the --prompt embeddings", for messages */
  readonly label: string;
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; float32(): Float32Array }>;
}

/** A --prompt-embeds safetensors file as an EmbedSource (tensors widened to float32 when read). */
export function fileEmbedSource(file: string): EmbedSource {
  const stored = readSafetensorsSync(file).tensors;
  return { label: file, tensors: new Map([...stored].map(([name, t]) => [name, { shape: t.shape, float32: () => toFloat32(t, file, name) }])) };
}

/** Encoder outputs as an EmbedSource. */
export function encodedEmbedSource(label: string, tensors: ReadonlyMap<string, Tensor>): EmbedSource {
  return { label, tensors: new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, float32: () => t.data as Float32Array }])) };
}

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/** Tensor `name` as float32, its shape checked against `expected` (numbers must match, strings name free axes). */
function tensorOf(src: EmbedSource, name: string, expected: readonly (number | string)[], need: string): { data: Float32Array; shape: number[] } {
  const { label: file, tensors } = src;
  const t = tensors.get(name);
  if (!t) {
    const have = [...tensors.keys()].map((k) => `${k} ${shapeText(tensors.get(k)!.shape)}`).join(', ') || 'none';
    throw new InvalidArgumentError(`${file} has no tensor "${name}": ${need} needs it, shaped ${shapeText(expected)} (tensors in the file: ${have})`);
  }
  const bad = t.shape.length !== expected.length || expected.some((d, i) => typeof d === 'number' && t.shape[i] !== d);
  if (bad) throw new InvalidArgumentError(`${file}: "${name}" is ${shapeText(t.shape)} but ${need} needs ${shapeText(expected)}`);
  const data = t.float32();
  if (!data.every(Number.isFinite)) throw new InvalidArgumentError(`${file}: "${name}" holds NaN or infinite values`);
  return { data, shape: [...t.shape] };
}

/** Each row of `data` (`rows` × `per` values) repeated `times` times, in order. */
function repeatRows(data: Float32Array, rows: number, per: number, times: number): Float32Array {
  const out = new Float32Array(rows * times * per);
  for (let r = 0; r < rows; r++) for (let k = 0; k < times; k++) out.set(data.subarray(r * per, (r + 1) * per), (r * times + k) * per);
  return out;
}

/**
 * The conditioning in `src`: prompt_embeds [P, L, textWidth]; pooled_prompt_embeds [P, pooledWidth] for models
 * that read a pooled vector; negative_prompt_embeds [1 or P, L, textWidth] (and negative_pooled_prompt_embeds)
 * when the run uses classifier-free guidance against a negative prompt.
 */
export function promptConditioning(src: EmbedSource, tc: TextConditioning, req: PromptEmbedsRequest): PromptConditioning {
  const { label: file, tensors } = src;
  const D = tc.textWidth;
  const text = tensorOf(src, PROMPT_EMBEDS, ['P', 'L', D], `this model (text width ${D})`);
  const [P, L] = text.shape;
  if (P < 1 || L < 1) throw new InvalidArgumentError(`${file}: "${PROMPT_EMBEDS}" ${shapeText(text.shape)} holds no prompt or no token`);
  const n = req.perPrompt;
  const rows = P * n;
  const guidance = tc.guidance ? { guidance: new Array<number>(rows).fill(req.guidance!) } : {};
  const pooledOf = (name: string, count: number, times: number) => {
    const p = tensorOf(src, name, [count, tc.pooledWidth!], `this model (pooled width ${tc.pooledWidth})`);
    return { pooledText: { data: repeatRows(p.data, count, tc.pooledWidth!, times), shape: [tc.pooledWidth!] } };
  };
  const conditioning: Conditioning = {
    textEmbeddings: { data: repeatRows(text.data, P, L * D, n), shape: [L, D] },
    ...(tc.pooledWidth !== undefined ? pooledOf(POOLED_PROMPT_EMBEDS, P, n) : {}),
    ...guidance,
  };
  const notes: string[] = [];
  let negative: Conditioning | undefined;
  if (req.withNegative) {
    const need = `classifier-free guidance (--cfg > 1) against a negative prompt`;
    const t = tensors.get(NEGATIVE_PROMPT_EMBEDS);
    const negRows = t && t.shape.length === 3 && t.shape[0] === 1 ? 1 : P;
    const neg = tensorOf(src, NEGATIVE_PROMPT_EMBEDS, [negRows === 1 ? 1 : P, L, D], `${need} (one negative for all prompts, or one per prompt; L as prompt_embeds)`);
    const negRowCount = negRows === 1 ? 1 : rows;
    negative = {
      textEmbeddings: { data: negRows === 1 ? neg.data : repeatRows(neg.data, P, L * D, n), shape: [L, D] },
      ...(tc.pooledWidth !== undefined ? pooledOf(NEGATIVE_POOLED_PROMPT_EMBEDS, negRows, negRows === 1 ? 1 : n) : {}),
      ...(tc.guidance ? { guidance: new Array<number>(negRowCount).fill(req.guidance!) } : {}),
    };
  } else {
    for (const name of [NEGATIVE_PROMPT_EMBEDS, NEGATIVE_POOLED_PROMPT_EMBEDS]) {
      if (tensors.has(name)) notes.push(`${name} is not used: ${tc.negativePrompt ? 'this run has --cfg 1 (no guidance)' : 'this model runs without classifier-free guidance'}`);
    }
  }
  if (tc.pooledWidth === undefined && tensors.has(POOLED_PROMPT_EMBEDS)) notes.push(`${POOLED_PROMPT_EMBEDS} is not used: this model reads no pooled text vector`);
  return { prompts: P, textTokens: L, conditioning, negative, notes };
}

/** The output size of a run: --height/--width/--frames or the model pipeline's defaults, with the prompt length. */
export function outputSizeOf(tc: TextConditioning, o: { height?: number; width?: number; frames?: number }, textTokens: number): OutputSize {
  const video = tc.defaults.frames !== undefined;
  if (!video && o.frames !== undefined) throw new InvalidArgumentError('--frames applies to video models only; this model makes images');
  return {
    heightPx: o.height ?? tc.defaults.heightPx,
    widthPx: o.width ?? tc.defaults.widthPx,
    ...(video ? { frames: o.frames ?? tc.defaults.frames } : {}),
    textTokens,
  };
}

/** What a text-conditioned run samples: rows prompt by prompt, the model sized for the request. */
export interface TextRun {
  model: Denoiser;
  tc: TextConditioning;
  prompts: number;
  textTokens: number;
  conditioning: Conditioning;
  negative?: Conditioning;
  cfg: number;
  guidance?: number;
}

/**
 * Checks a text-conditioned request (--prompt or --prompt-embeds, and their options), encodes the prompts with
 * the pipeline folder's text encoders, and sizes the model for the request.
 */
export async function textRun(loaded: Denoiser, tc: TextConditioning, o: OptionValues, modelPath: string): Promise<TextRun> {
  const D = tc.textWidth;
  const prompts: string[] = o.prompt ?? [];
  if (prompts.length && o.promptEmbeds !== undefined) throw new InvalidArgumentError('give --prompt or --prompt-embeds, not both');
  if (!prompts.length && o.promptEmbeds === undefined) {
    const pooled = tc.pooledWidth !== undefined ? ` and ${POOLED_PROMPT_EMBEDS} [P, ${tc.pooledWidth}]` : '';
    throw new InvalidArgumentError(`this ${loaded.family} model is text-conditioned: pass --prompt "…" (with the pipeline folder's text encoders) or --prompt-embeds <file.safetensors> holding ${PROMPT_EMBEDS} [P, L, ${D}]${pooled} (see README)`);
  }
  for (const opt of ['classes', 'perClass'] as const) if (o[opt] !== undefined) throw new InvalidArgumentError(`--${opt === 'classes' ? 'classes' : 'per-class'} is for class-conditional models; this one is text-conditioned (use --per-prompt)`);
  if (o.cfgChannels === 'dit') throw new InvalidArgumentError('--cfg-channels dit is DiT\'s convention; text-conditioned models guide every channel');
  const cfg: number = o.cfg ?? tc.defaults.cfgScale;
  if (!tc.negativePrompt && cfg !== 1) {
    throw new InvalidArgumentError(`this ${loaded.family} model runs without classifier-free guidance (it is guidance- or timestep-distilled): leave --cfg at 1${tc.guidance ? ' and set the embedded guidance with --guidance' : ''}`);
  }
  if (o.guidance !== undefined && !tc.guidance) throw new InvalidArgumentError(`this ${loaded.family} model has no guidance embedding (e.g. FLUX.1-schnell): leave out --guidance${tc.negativePrompt ? ' (use --cfg for classifier-free guidance)' : ''}`);
  const guidance: number | undefined = tc.guidance ? (o.guidance ?? 3.5) : undefined;
  const withNegative = tc.negativePrompt && cfg !== 1;
  if (o.negativePrompt !== undefined && !prompts.length) throw new InvalidArgumentError('--negative-prompt goes with --prompt; with --prompt-embeds, put negative_prompt_embeds in the file');
  if (o.negativePrompt !== undefined && tc.negativePrompt && !withNegative) throw new InvalidArgumentError('--negative-prompt needs classifier-free guidance: set --cfg above 1');
  let src: EmbedSource;
  if (prompts.length) {
    // WanPipeline's negative prompt defaults to "" (encoded like any prompt)
    const enc = await encodePrompts(loaded, modelPath, {
      prompts,
      negativePrompt: withNegative ? (o.negativePrompt ?? '') : o.negativePrompt,
      threads: o.threads,
      embedCache: o.embedCache !== false,
      ...(o.maxSequenceLength ? { maxSequenceLength: o.maxSequenceLength } : {}),
    });
    console.log(enc.summary);
    src = encodedEmbedSource('the --prompt embeddings', enc.tensors);
  } else {
    src = fileEmbedSource(o.promptEmbeds);
  }
  const pe = promptConditioning(src, tc, { perPrompt: o.perPrompt, guidance, withNegative });
  for (const n of pe.notes) console.log(`note: ${n}`);
  if (!loaded.atSize) throw new InvalidArgumentError(`this ${loaded.family} model cannot be sized for a request`);
  const model = loaded.atSize(outputSizeOf(tc, o, pe.textTokens));
  return { model, tc, prompts: pe.prompts, textTokens: pe.textTokens, conditioning: pe.conditioning, negative: pe.negative, cfg, guidance };
}
