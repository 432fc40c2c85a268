// `tcpade generate`: sample a class grid (class-conditional models) or a prompt grid (text-conditioned models from
// --prompt with the pipeline folder's text encoders, prompts.ts, or --prompt-embeds, prompt-embeds.ts) with any cache method — pixel models directly, latent models through
// their VAE — writing grid.png, samples/NNN.png, samples.safetensors and stats.json atomically, with a
// progress bar and a one-line speed/compute summary.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import type { Denoiser } from '../models/denoiser.js';
import { classCount } from '../models/denoiser.js';
import { DiffusionConfigError } from '../diffusion/errors.js';
import { outputSizeOf, textRun, PROMPT_EMBEDS, POOLED_PROMPT_EMBEDS } from './prompt-embeds.js';
import { loadDenoiser } from '../models/load.js';
import { isPipelineFolder, readPipelineFolder, schedulerConfigFile } from '../models/folders.js';
import { labelDisplayName, parseClassList } from '../models/labels.js';
import { loadVAE } from '../models/vae/index.js';
import { generate, type GuidanceChannels, type SamplerName } from '../pipeline/generate.js';
import { parseSchedulerConfigJson, planSpecFromSchedulerConfig } from '../diffusion/scheduler-config.js';
import { planObjective } from '../diffusion/sampler.js';
import type { SamplerKind } from '../diffusion/plan.js';
import { summaryLine } from '../pipeline/stats.js';
import { decodeLatents, type LatentDecoder } from '../pipeline/decode.js';
import { toUnitRange, writeClassGrid, writeSamplePngs } from '../pipeline/images.js';
import { writeSafetensorsSync } from '../io/safetensors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { defaultThreads } from '../runtime/session.js';
import { floatArg, intArg, threadsArg } from './args.js';
import { resolveModelPath } from '../models/shipped.js';
import { resolveCacheChoice } from './cache-choice.js';
import { resolveVideoVae, writeVideos } from './video-output.js';

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

interface LastFull {
  [key: string]: number;
}

function lastFullFile(): string {
  return path.join(os.homedir(), '.cache', 'tcpade', 'last-full.json');
}

function readLastFull(): LastFull {
  try {
    return JSON.parse(fs.readFileSync(lastFullFile(), 'utf8')) as LastFull;
  } catch {
    return {};
  }
}

/** A latent model's VAE: --vae, else the pipeline folder's vae/; checked against the model's latent channels. */
async function resolveVae(latentChannels: number, modelPath: string, vaeOpt: string | undefined, threads: number): Promise<{ vae?: LatentDecoder & { release(): Promise<void> }; from?: string }> {
  const pipelineVae = fs.statSync(modelPath).isDirectory() && isPipelineFolder(modelPath) ? readPipelineFolder(modelPath).components.vae : undefined;
  const from = vaeOpt ?? pipelineVae;
  if (!from) return {};
  const vae = await loadVAE(from, { threads, expect: 'image' });
  if (vae.latentChannels !== latentChannels) {
    await vae.release();
    throw new InvalidArgumentError(`the VAE ${from} has ${vae.latentChannels} latent channels but the model ${modelPath} takes ${latentChannels}-channel latents; pass the VAE the model was trained with`);
  }
  return { vae, from };
}

/** One sample's latent as the model's VAE takes it ([C, H, W] for images, [C, F, H, W] for video). */
function vaeLatentShape(model: Denoiser): number[] {
  const px = model.latentShape.reduce((a, b) => a * b, 1);
  return model.vaeLatent ? model.vaeLatent(new Float32Array(px), 1).shape.slice(1) : [...model.latentShape];
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('sample images class by class (or prompt by prompt from --prompt / --prompt-embeds), optionally with feature caching')
    .requiredOption('--model <name|path>', 'shipped model name (mnist-dit, mnist-dit-flow), a checkpoint file/folder, or a diffusers pipeline folder')
    .option('--vae <folder>', 'AutoencoderKL folder (or pipeline folder with vae/) to decode a latent model\'s samples; default: the pipeline folder\'s vae/')
    .option('--steps <n>', 'sampling steps', intArg(1, 10000), 20)
    .option('--sampler <name>', 'ddim | dpmpp-2m | ddpm | flow-euler (default: the pipeline folder\'s scheduler config, else from the model objective)')
    .option('--ddpm-variance <v>', 'ancestral DDPM variance: learned-range | fixed-small | fixed-large (default: learned-range for learn_sigma models)')
    .option('--cfg-channels <c>', 'channels guidance mixes: all (diffusers\' DiTPipeline) | dit (the first 3, as DiT\'s sample.py); default dit with --sampler ddpm, else all')
    .option('--cache <method>', 'none | fewer-steps | fora | delta-dit | taylorseer | teacache | fbcache | tcpade', 'none')
    .option('--preset <p>', 'cache preset (see `tcpade methods`)')
    .option('--set <key=value>', 'override one cache setting (repeatable)', collect, [])
    .option('--seed <n>', 'seed (sample k gets the same noise alone or in any batch)', intArg(0), 0)
    .option('--classes <list>', 'comma-separated class ids or names (names from the pipeline\'s id2label, case-insensitive); default: the first 10')
    .option('--per-class <k>', 'samples per class (default 4)', intArg(1, 10000))
    .option('--prompt <text>', 'text-conditioned pipeline folders (FLUX.1, Wan2.1): a prompt, encoded by the folder\'s own text encoders (repeatable: one grid row per prompt)', collect, undefined)
    .option('--negative-prompt <text>', 'the CFG branch\'s prompt (Wan2.1, with --cfg > 1; default "" as WanPipeline)')
    .option('--max-sequence-length <n>', 'T5 / umT5 tokens per prompt (default 512, as the pipelines)', intArg(1, 4096))
    .option('--no-embed-cache', 'always run the text encoders (default: prompt embeddings are cached on disk by prompt, in ~/.cache/tcpade/prompt-embeds)')
    .option('--prompt-embeds <file>', `text-conditioned models (FLUX.1, Wan2.1): safetensors with ${PROMPT_EMBEDS} [P, L, D] (FLUX also ${POOLED_PROMPT_EMBEDS} [P, Dp]; optional negative_prompt_embeds [1|P, L, D] for CFG)`)
    .option('--per-prompt <k>', 'samples per prompt (text-conditioned models)', intArg(1, 10000), 1)
    .option('--width <px>', 'output width in pixels (text-conditioned models; default: the pipeline\'s, FLUX 1024, Wan 832)', intArg(1, 100000))
    .option('--height <px>', 'output height in pixels (text-conditioned models; default: FLUX 1024, Wan 480)', intArg(1, 100000))
    .option('--video-format <f>', 'video models: webp (default) or gif', 'webp')
    .option('--frames <n>', 'video frames, 4k + 1 (video models; default 81)', intArg(1, 100000))
    .option('--guidance <g>', 'embedded guidance scale of guidance-distilled models (FLUX.1-dev; default 3.5)', floatArg(0, 100))
    .option('--cfg <scale>', 'classifier-free guidance scale (1 = off); default 1.5 for class-conditional models, the pipeline\'s for text-conditioned ones (FLUX 1, Wan 5)', floatArg(0, 100))
    .option('--eta <x>', 'DDIM η (0 = deterministic)', floatArg(0, 1), 0)
    .option('--spacing <s>', 'DDPM timestep spacing: leading | trailing | linspace (diffusers conventions) | dit (DiT\'s respacing, ddpm only); default leading, dit for ddpm')
    .option('--flow-shift <x>', 'flow-matching timestep shift (1 = none; SD3 uses 3)', floatArg(0.01, 100), 1)
    .option('--batch-size <n>', 'samples per model batch', intArg(1, 4096), 20)
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .option('--config <name>', 'named DiT config for a checkpoint without config.json')
    .requiredOption('--out <dir>', 'output folder (grid.png, samples/, samples.safetensors, stats.json)')
    .option('--no-progress', 'no progress bar')
    .action(async (o) => {
      const modelPath = resolveModelPath(o.model);
      if (o.spacing !== undefined && !['leading', 'trailing', 'linspace', 'dit'].includes(o.spacing)) throw new InvalidArgumentError(`--spacing must be leading, trailing, linspace or dit, got ${o.spacing}`);
      if (o.ddpmVariance !== undefined && !['learned-range', 'fixed-small', 'fixed-large'].includes(o.ddpmVariance)) throw new InvalidArgumentError(`--ddpm-variance must be learned-range, fixed-small or fixed-large, got ${o.ddpmVariance}`);
      if (o.cfgChannels !== undefined && !['all', 'dit'].includes(o.cfgChannels)) throw new InvalidArgumentError(`--cfg-channels must be all or dit, got ${o.cfgChannels}`);
      const { namedConfig } = await import('../models/dit/dit-config.js');
      const loaded = await loadDenoiser(modelPath, { threads: o.threads, config: o.config ? namedConfig(o.config) : undefined });
      const tc = loaded.textConditioning && !loaded.classes ? loaded.textConditioning : undefined;
      if (!tc) {
        const textOnly = [['prompt', '--prompt'], ['negativePrompt', '--negative-prompt'], ['promptEmbeds', '--prompt-embeds'], ['width', '--width'], ['height', '--height'], ['frames', '--frames'], ['guidance', '--guidance']] as const;
        for (const [k, flag] of textOnly) if (o[k] !== undefined) throw new InvalidArgumentError(`${flag} is for text-conditioned models (FLUX.1, Wan2.1); this ${loaded.family} model is class-conditional (use --classes)`);
      }
      const text = tc ? await textRun(loaded, tc, o, modelPath) : undefined;
      const model = text?.model ?? loaded;
      const cfg: number = text?.cfg ?? o.cfg ?? 1.5;
      const perClass: number = o.perClass ?? 4;
      const objective = model.objective;
      // A pipeline folder's scheduler config decides the sampler unless --sampler is given.
      const schedulerFile = o.sampler === undefined ? schedulerConfigFile(modelPath) : undefined;
      const choice = resolveCacheChoice(o.cache, o.preset, o.set, o.steps, modelPath);
      let schedulerPlan: ReturnType<typeof planSpecFromSchedulerConfig> | undefined;
      try {
        // FLUX: FluxPipeline's σ and resolution shift, from the packed image token count (latentShape [L_img, C])
        const imageSeqLen = model.family === 'flux' ? model.latentShape[0] : undefined;
        schedulerPlan = schedulerFile ? planSpecFromSchedulerConfig(parseSchedulerConfigJson(fs.readFileSync(schedulerFile, 'utf8'), schedulerFile), choice.steps, schedulerFile, { imageSeqLen }) : undefined;
      } catch (e) {
        // Text-conditioned pipelines may ship schedulers not implemented here:
        // sample with flow-matching Euler at --flow-shift instead, and say so.
        if (!(text && e instanceof DiffusionConfigError)) throw e;
        console.log(`note: ${(e as Error).message}; sampling with flow-euler at --flow-shift ${o.flowShift} instead`);
      }
      const sampler = (schedulerPlan?.spec.kind ?? o.sampler ?? (objective === 'flow' ? 'flow-euler' : 'ddim')) as SamplerName;
      // 'unipc' comes only from a scheduler config (Wan's UniPCMultistepScheduler)
      if (![...['ddim', 'dpmpp-2m', 'ddpm', 'flow-euler'], ...(schedulerPlan ? ['unipc'] : [])].includes(sampler)) throw new InvalidArgumentError(`--sampler must be ddim, dpmpp-2m, ddpm or flow-euler, got ${sampler}`);
      if ((planObjective({ kind: sampler as SamplerKind }) === 'flow') !== (objective === 'flow')) {
        throw new InvalidArgumentError(`--sampler ${sampler} does not fit a model trained with the ${objective} objective`);
      }
      if (schedulerPlan) console.log(`sampler from ${schedulerFile}: ${sampler}${'spacing' in schedulerPlan.spec && schedulerPlan.spec.spacing ? ` (${schedulerPlan.spec.spacing} spacing)` : ''}; pass --sampler to choose another`);
      const spacing = o.spacing ?? (sampler === 'ddpm' ? 'dit' : 'leading');
      const guidanceChannels = (o.cfgChannels ?? (sampler === 'ddpm' ? 'dit' : 'all')) as GuidanceChannels;
      const classSpace = text ? undefined : model.classes!;
      const classes = classSpace ? parseClassList(o.classes ?? Array.from({ length: Math.min(10, classCount(model)) }, (_, k) => k).join(','), classSpace) : [];
      const labels = classSpace ? classes.flatMap((k) => new Array<number>(perClass).fill(k)) : [];
      // Rows of the output grid: classes, or prompts (samples of prompt k are rows k·perPrompt …).
      const rows = text ? Array.from({ length: text.prompts }, (_, k) => k) : classes;
      const perRow: number = text ? o.perPrompt : perClass;
      // grid rows are labelled with the prompt itself (shortened), or its index for --prompt-embeds
      const promptLabel = (k: number): string => {
        const p: string | undefined = o.prompt?.[k];
        if (p === undefined) return `prompt ${k}`;
        return p.length > 40 ? `${p.slice(0, 39)}…` : p || '(empty prompt)';
      };
      const rowName = (k: number): string => (text ? promptLabel(k) : labelDisplayName(classSpace!, k));
      const samplesTotal = rows.length * perRow;
      const vaeShape = vaeLatentShape(model);
      const video = vaeShape.length === 4;
      const pixelSpace = !text && (model.latentShape[0] === 1 || model.latentShape[0] === 3);
      if (!['webp', 'gif'].includes(o.videoFormat)) throw new InvalidArgumentError(`--video-format must be webp or gif, got ${o.videoFormat}`);
      const { vae, from: imageVaePath } = pixelSpace || video ? {} : await resolveVae(vaeShape[0], modelPath, o.vae, o.threads);
      const { vae: videoVae, from: videoVaePath } = video ? await resolveVideoVae(vaeShape[0], modelPath, o.vae, o.threads) : {};
      const vaePath = imageVaePath ?? videoVaePath;
      const bar = o.progress ? new cliProgress.SingleBar({ format: 'generate |{bar}| {percentage}% | {value}/{total} steps | {speed} steps/s | ETA {eta_formatted}' }, cliProgress.Presets.shades_classic) : undefined;
      const totalSteps = Math.ceil(samplesTotal / o.batchSize) * choice.steps;
      bar?.start(totalSteps, 0, { speed: '-' });
      const t0 = performance.now();
      let done = 0;
      const r = await generate(model, {
        ...(text ? { conditioning: text.conditioning, negativeConditioning: text.negative } : { labels }),
        seed: o.seed,
        steps: choice.steps,
        sampler,
        schedulerPlan: schedulerPlan && { spec: schedulerPlan.spec, schedule: schedulerPlan.schedule },
        ddpmVariance: o.ddpmVariance,
        guidanceChannels,
        cfgScale: cfg,
        cache: choice.method,
        batchSize: o.batchSize,
        eta: o.eta,
        spacing,
        flowShift: o.flowShift,
        onStep: () => {
          done++;
          bar?.update(done, { speed: (done / ((performance.now() - t0) / 1000)).toFixed(2) });
        },
      });
      bar?.stop();
      // The samples as the VAE takes them (FLUX: unpacked from its 2 × 2 token packing).
      const latents = model.vaeLatent ? model.vaeLatent(r.samples, samplesTotal) : { data: r.samples, shape: r.shape };
      // fewer-steps computes a fraction of the requested steps: count its block compute against the request.
      const blockComputeRatio = (r.stats.blockComputeRatio * choice.steps) / o.steps;
      const decoded = vae ? await decodeLatents(vae, latents.data, latents.shape) : undefined;
      fs.mkdirSync(o.out, { recursive: true });
      const rowOfSample = rows.flatMap((k) => new Array<number>(perRow).fill(k));
      const rowTensor = { [text ? 'prompts' : 'labels']: { dtype: 'I64' as const, shape: [samplesTotal], data: BigInt64Array.from(rowOfSample.map(BigInt)) } };
      const videoOut = videoVae ? await writeVideos(videoVae, latents, o.out, rowTensor, o.videoFormat) : undefined;
      const vaeMs = decoded?.vaeMs ?? videoOut?.vaeMs;
      const stats = { ...r.stats, blockComputeRatio, ...(vaeMs !== undefined ? { vaeMs } : {}) };
      const runInfo = text
        ? { ...(o.prompt ? { prompt: o.prompt, negativePrompt: o.negativePrompt } : { promptEmbeds: o.promptEmbeds }), prompts: text.prompts, perPrompt: o.perPrompt, textTokens: text.textTokens, size: outputSizeOf(text.tc, o, text.textTokens), guidance: text.guidance, flowShift: schedulerPlan ? undefined : o.flowShift }
        : { classes, classNames: classes.map((k) => labelDisplayName(classSpace!, k)), perClass };
      const statsOut = { ...stats, model: modelPath, vae: vaePath, objective, schedulerConfig: schedulerFile, spacing: r.plan.kind === 'flow-euler' ? undefined : schedulerPlan ? ('spacing' in schedulerPlan.spec ? schedulerPlan.spec.spacing : undefined) : spacing, guidanceChannels, cfg, seed: o.seed, ...runInfo, requestedSteps: o.steps, threads: o.threads, batchSize: o.batchSize, cacheLabel: choice.label };
      const written: string[] = [];
      if (videoOut) {
        written.push(...videoOut.written);
      } else if (!pixelSpace && !decoded) {
        writeSafetensorsSync(path.join(o.out, 'samples.safetensors'), { latents: { dtype: 'F32', shape: latents.shape, data: latents.data }, ...rowTensor });
        written.push(`samples.safetensors (latents [${latents.shape.join(', ')}])`);
        if (video) console.log(`this model samples video latents [N, C, F, H, W] and no video VAE was found: wrote the latents only. Use the whole pipeline folder (with vae/, an AutoencoderKLWan) as --model, or pass --vae <AutoencoderKLWan folder>, to get videos.`);
        else console.log(`this model samples ${vaeShape[0]}-channel latents and no VAE was given: wrote the latents only. Pass --vae <AutoencoderKL folder> (e.g. stabilityai/sd-vae-ft-ema for DiT), or use a pipeline folder that holds vae/, to get images.`);
      } else {
        const { images, shape } = decoded ?? { images: toUnitRange(r.samples), shape: r.shape };
        writeSafetensorsSync(path.join(o.out, 'samples.safetensors'), { images: { dtype: 'F32', shape, data: images }, ...rowTensor });
        // text-conditioned runs carry their prompt and settings in the PNGs too (PNG iTXt chunks)
        const settings = JSON.stringify({ model: modelPath, seed: o.seed, steps: o.steps, sampler, cfg, guidance: text?.guidance, cache: choice.label, settings: r.stats.settings, size: text ? outputSizeOf(text.tc, o, text.textTokens) : undefined });
        const pngText = o.prompt ? (k: number) => ({ prompt: o.prompt[Math.floor(k / perRow)], 'tcpade settings': settings }) : undefined;
        writeClassGrid(path.join(o.out, 'grid.png'), images, shape, rows, perRow, rowName, o.prompt ? { prompts: JSON.stringify(o.prompt), 'tcpade settings': settings } : undefined);
        writeSamplePngs(path.join(o.out, 'samples'), images, shape, pngText);
        written.push('grid.png', `samples/ (${samplesTotal} PNGs)`, 'samples.safetensors');
      }
      writeFileAtomicSync(path.join(o.out, 'stats.json'), JSON.stringify(statsOut, null, 2) + '\n');
      written.push('stats.json');
      // Remember full runs so later cached runs can report their speed-up against the same request.
      const request = text ? [o.prompt ?? path.resolve(o.promptEmbeds), o.perPrompt, runInfo] : [labels.length];
      const key = JSON.stringify([path.resolve(modelPath), sampler, spacing, guidanceChannels, o.steps, ...request, cfg, o.batchSize, o.threads]);
      const last = readLastFull();
      const isFull = choice.method === undefined && choice.steps === o.steps;
      console.log(summaryLine({ ...stats, method: choice.label, preset: '' }, isFull ? undefined : last[key]));
      if (isFull) {
        last[key] = r.stats.wallMs;
        fs.mkdirSync(path.dirname(lastFullFile()), { recursive: true });
        writeFileAtomicSync(lastFullFile(), JSON.stringify(last));
      } else if (last[key] === undefined) {
        console.log('(run the same command with --cache none once to see the wall-clock speed-up here)');
      }
      console.log(`wrote ${written.join(', ')} in ${o.out}`);
      await model.release();
      if (model !== loaded) await loaded.release();
      await vae?.release();
      await videoVae?.release();
    });
}
