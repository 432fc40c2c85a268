// `tcpade generate`: sample a class grid with any cache method, writing grid.png, samples.safetensors
// and stats.json atomically, with a progress bar and a one-line speed/compute summary.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { loadDiT } from '../models/dit/load.js';
import { generate, SamplerName } from '../pipeline/generate.js';
import { summaryLine } from '../pipeline/stats.js';
import { toUnitRange, writeClassGrid } from '../pipeline/images.js';
import { writeSafetensorsSync } from '../io/safetensors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { defaultThreads } from '../runtime/session.js';
import { floatArg, intArg, intListArg, threadsArg } from './args.js';
import { modelObjective, resolveModelPath } from './models.js';
import { resolveCacheChoice } from './cache-choice.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
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

export function generateCommand(): Command {
  return new Command('generate')
    .description('sample images class by class, optionally with feature caching')
    .requiredOption('--model <name|path>', 'shipped model name (mnist-dit, mnist-dit-flow) or a checkpoint path/folder')
    .option('--steps <n>', 'sampling steps', intArg(1, 10000), 20)
    .option('--sampler <name>', 'ddim | dpmpp-2m | flow-euler (default: from the model objective)')
    .option('--cache <method>', 'none | fewer-steps | fora | delta-dit | taylorseer | teacache | fbcache | tcpade', 'none')
    .option('--preset <p>', 'cache preset (see `tcpade methods`)')
    .option('--set <key=value>', 'override one cache setting (repeatable)', collect, [])
    .option('--seed <n>', 'seed (sample k gets the same noise alone or in any batch)', intArg(0), 0)
    .option('--classes <list>', 'comma-separated class labels', '0,1,2,3,4,5,6,7,8,9')
    .option('--per-class <k>', 'samples per class', intArg(1, 10000), 4)
    .option('--cfg <scale>', 'classifier-free guidance scale (1 = off)', floatArg(0, 100), 1.5)
    .option('--eta <x>', 'DDIM η (0 = deterministic)', floatArg(0, 1), 0)
    .option('--spacing <s>', 'DDPM timestep spacing: leading | trailing | linspace (diffusers conventions)', 'leading')
    .option('--flow-shift <x>', 'flow-matching timestep shift (1 = none; SD3 uses 3)', floatArg(0.01, 100), 1)
    .option('--batch-size <n>', 'samples per model batch', intArg(1, 4096), 20)
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .option('--config <name>', 'named DiT config for a checkpoint without config.json')
    .requiredOption('--out <dir>', 'output folder (grid.png, samples.safetensors, stats.json)')
    .option('--no-progress', 'no progress bar')
    .action(async (o) => {
      const modelPath = resolveModelPath(o.model);
      const objective = modelObjective(modelPath);
      const sampler = (o.sampler ?? (objective === 'flow' ? 'flow-euler' : 'ddim')) as SamplerName;
      if (!['ddim', 'dpmpp-2m', 'flow-euler'].includes(sampler)) throw new InvalidArgumentError(`--sampler must be ddim, dpmpp-2m or flow-euler, got ${sampler}`);
      if ((sampler === 'flow-euler') !== (objective === 'flow')) {
        throw new InvalidArgumentError(`--sampler ${sampler} does not fit a model trained with the ${objective} objective`);
      }
      if (!['leading', 'trailing', 'linspace'].includes(o.spacing)) throw new InvalidArgumentError(`--spacing must be leading, trailing or linspace, got ${o.spacing}`);
      const { namedConfig } = await import('../models/dit/dit-config.js');
      const model = await loadDiT(modelPath, { threads: o.threads, config: o.config ? namedConfig(o.config) : undefined });
      const classes: number[] = intListArg(0, model.config.numClasses - 1)(o.classes);
      const labels = classes.flatMap((k) => new Array<number>(o.perClass).fill(k));
      const choice = resolveCacheChoice(o.cache, o.preset, o.set, o.steps, modelPath);
      const bar = o.progress ? new cliProgress.SingleBar({ format: 'generate |{bar}| {percentage}% | {value}/{total} steps | {speed} steps/s | ETA {eta_formatted}' }, cliProgress.Presets.shades_classic) : undefined;
      const totalSteps = Math.ceil(labels.length / o.batchSize) * choice.steps;
      bar?.start(totalSteps, 0, { speed: '-' });
      const t0 = performance.now();
      let done = 0;
      const r = await generate(model, {
        labels,
        seed: o.seed,
        steps: choice.steps,
        sampler,
        cfgScale: o.cfg,
        cache: choice.method,
        batchSize: o.batchSize,
        eta: o.eta,
        spacing: o.spacing,
        flowShift: o.flowShift,
        onStep: () => {
          done++;
          bar?.update(done, { speed: (done / ((performance.now() - t0) / 1000)).toFixed(2) });
        },
      });
      bar?.stop();
      fs.mkdirSync(o.out, { recursive: true });
      const latent = model.config.inChannels !== 1 && model.config.inChannels !== 3;
      // fewer-steps computes a fraction of the requested steps: count its block compute against the request.
      const blockComputeRatio = (r.stats.blockComputeRatio * choice.steps) / o.steps;
      const statsOut = { ...r.stats, blockComputeRatio, model: modelPath, objective, cfg: o.cfg, seed: o.seed, classes, perClass: o.perClass, requestedSteps: o.steps, threads: o.threads, batchSize: o.batchSize, cacheLabel: choice.label };
      if (latent) {
        writeSafetensorsSync(path.join(o.out, 'samples.safetensors'), {
          latents: { dtype: 'F32', shape: r.shape, data: r.samples },
          labels: { dtype: 'I64', shape: [labels.length], data: BigInt64Array.from(labels.map(BigInt)) },
        });
        console.log(`this model works in a ${model.config.inChannels}-channel latent space and no VAE decoder is available here: wrote latents (no grid.png)`);
      } else {
        const images = toUnitRange(r.samples);
        writeSafetensorsSync(path.join(o.out, 'samples.safetensors'), {
          images: { dtype: 'F32', shape: r.shape, data: images },
          labels: { dtype: 'I64', shape: [labels.length], data: BigInt64Array.from(labels.map(BigInt)) },
        });
        writeClassGrid(path.join(o.out, 'grid.png'), images, r.shape, classes, o.perClass);
      }
      writeFileAtomicSync(path.join(o.out, 'stats.json'), JSON.stringify(statsOut, null, 2) + '\n');
      // Remember full runs so later cached runs can report their speed-up against the same request.
      const key = JSON.stringify([path.resolve(modelPath), sampler, o.steps, labels.length, o.cfg, o.batchSize, o.threads]);
      const last = readLastFull();
      const isFull = choice.method === undefined && choice.steps === o.steps;
      console.log(summaryLine({ ...r.stats, blockComputeRatio, method: choice.label, preset: '' }, isFull ? undefined : last[key]));
      if (isFull) {
        last[key] = r.stats.wallMs;
        fs.mkdirSync(path.dirname(lastFullFile()), { recursive: true });
        writeFileAtomicSync(lastFullFile(), JSON.stringify(last));
      } else if (last[key] === undefined) {
        console.log('(run the same command with --cache none once to see the wall-clock speed-up here)');
      }
      console.log(`wrote ${path.join(o.out, latent ? 'samples.safetensors' : 'grid.png')}, samples.safetensors, stats.json`);
      await model.release();
    });
}
