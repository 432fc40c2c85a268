// `tcpade generate --prompt "…"`: the pipeline folder's own text encoders turn prompts into the tensors a
// diffusers pipeline hands its transformer (FLUX: T5 prompt_embeds + CLIP pooled_prompt_embeds; Wan: umT5
// prompt_embeds, and the negative prompt's for classifier-free guidance), with the on-disk prompt-embedding
// cache; the encoders are released before sampling starts. The result has the names and shapes of a
// --prompt-embeds file, so both paths share every check after this.
import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { Denoiser } from '../models/denoiser.js';
import { isPipelineFolder } from '../models/folders.js';
import { EmbedCache, fluxPromptEmbeds, loadFluxTextParts, loadWanTextParts, wanPromptEmbeds } from '../models/text/index.js';
import type { Tensor } from '../models/tensor.js';
import { NEGATIVE_PROMPT_EMBEDS, POOLED_PROMPT_EMBEDS, PROMPT_EMBEDS } from './prompt-embeds.js';

export interface PromptRequest {
  readonly prompts: readonly string[];
  /** the CFG branch's prompt (Wan); undefined without guidance */
  readonly negativePrompt?: string;
  readonly threads: number;
  readonly embedCache: boolean;
  /** T5 / umT5 tokens per prompt (the pipelines' max_sequence_length) */
  readonly maxSequenceLength?: number;
}

export interface EncodedPrompts {
  /** prompt_embeds, pooled_prompt_embeds (FLUX), negative_prompt_embeds (with a negative prompt) */
  readonly tensors: Map<string, Tensor>;
  /** "3 of 4 prompt rows from the embedding cache, 1.2 s encoding" */
  readonly summary: string;
}

/** Encodes prompts with the encoders of the pipeline folder `modelPath` (FLUX.1 or Wan2.1 layout). */
export async function encodePrompts(model: Denoiser, modelPath: string, req: PromptRequest): Promise<EncodedPrompts> {
  if (!fs.statSync(modelPath).isDirectory() || !isPipelineFolder(modelPath)) {
    throw new InvalidArgumentError(`--prompt needs the model's text encoders: pass the whole diffusers pipeline folder (model_index.json, text_encoder/, tokenizer/ …) as --model, not ${modelPath}; or pass --prompt-embeds`);
  }
  const cache = new EmbedCache({ enabled: req.embedCache });
  const t0 = performance.now();
  const opts = { cache, ...(req.maxSequenceLength ? { maxSequenceLength: req.maxSequenceLength } : {}), warn: (m: string) => console.warn(`warning: ${m}`) };
  const tensors = new Map<string, Tensor>();
  if (model.family === 'flux') {
    if (req.negativePrompt !== undefined) throw new InvalidArgumentError('--negative-prompt needs classifier-free guidance, which FLUX.1 runs without (it is guidance- or timestep-distilled)');
    const parts = await loadFluxTextParts(modelPath, { threads: req.threads });
    try {
      const e = await fluxPromptEmbeds(parts, req.prompts, opts);
      tensors.set(PROMPT_EMBEDS, e.prompt_embeds);
      tensors.set(POOLED_PROMPT_EMBEDS, e.pooled_prompt_embeds);
    } finally {
      await Promise.all([parts.clip.release(), parts.t5.release()]);
    }
  } else if (model.family === 'wan') {
    const parts = await loadWanTextParts(modelPath, { threads: req.threads });
    try {
      const texts = req.negativePrompt !== undefined ? [...req.prompts, req.negativePrompt] : [...req.prompts];
      const e = await wanPromptEmbeds(parts, texts, opts);
      const [N, L, D] = e.prompt_embeds.shape;
      const data = e.prompt_embeds.data as Float32Array;
      const P = req.prompts.length;
      tensors.set(PROMPT_EMBEDS, { data: data.subarray(0, P * L * D), shape: [P, L, D] });
      if (N > P) tensors.set(NEGATIVE_PROMPT_EMBEDS, { data: data.subarray(P * L * D), shape: [1, L, D] });
    } finally {
      await parts.umt5.release();
    }
  } else {
    throw new InvalidArgumentError(`--prompt is for text-conditioned pipelines (FLUX.1, Wan2.1); this ${model.family} model is class-conditional (use --classes)`);
  }
  const looked = cache.hits + cache.misses;
  const cached = cache.enabled && looked ? `, ${cache.hits} of ${looked} encoder rows from the embedding cache (${cache.dir})` : '';
  return { tensors, summary: `encoded ${req.prompts.length} prompt${req.prompts.length > 1 ? 's' : ''} in ${((performance.now() - t0) / 1000).toFixed(2)} s${cached}` };
}
