// `tcpade train`: argument parsing, progress bar and sample grids around src/train/trainer.ts.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { namedConfig } from '../models/dit/dit-config.js';
import { Objective, TrainOptions, exportModel, train } from '../train/trainer.js';
import { defaultThreads } from '../runtime/session.js';
import { intArg, floatArg, threadsArg } from './args.js';
import { renderSampleGrid } from './sample-grid.js';
import { resolveModelPath } from '../models/shipped.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('train a class-conditional DiT on MNIST (resumable; checkpoints are written atomically)')
    .option('--config <name>', 'model config (mnist-dit, mnist-dit-tiny, …)', 'mnist-dit')
    .option('--objective <eps|flow>', 'ε-prediction on the DDPM schedule, or rectified-flow velocity', 'eps')
    .requiredOption('--out <dir>', 'run directory (checkpoint.safetensors, log.jsonl, samples/)')
    .option('--steps <n>', 'total optimiser steps of the run', intArg(1), 20000)
    .option('--batch-size <n>', 'images per step', intArg(1), 64)
    .option('--lr <x>', 'AdamW learning rate', floatArg(0), 2e-4)
    .option('--warmup <n>', 'linear warm-up steps', intArg(0), 500)
    .option('--clip <x>', 'gradient global-norm clip', floatArg(0), 1)
    .option('--ema <x>', 'EMA decay of the shipped weights', floatArg(0), 0.999)
    .option('--label-dropout <p>', 'probability of the null label (for CFG)', floatArg(0), 0.1)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', floatArg(0), 0)
    .option('--seed <n>', 'seed of data order, noise and init', intArg(0), 0)
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .option('--checkpoint-every <n>', 'steps between checkpoints (and sample grids)', intArg(1), 500)
    .option('--log-every <n>', 'steps between log lines', intArg(1), 10)
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--max-minutes <m>', 'stop this invocation after m minutes (resume later)', floatArg(0))
    .option('--export <dir>', 'write the EMA weights as a model folder when the run is complete')
    .option('--init-from <model>', 'start from a model folder (e.g. a shipped model) instead of the DiT initialisation')
    .option('--no-progress', 'no progress bar')
    .action(async (o) => {
      if (o.objective !== 'eps' && o.objective !== 'flow') throw new InvalidArgumentError(`--objective must be eps or flow, got ${o.objective}`);
      const ckpt = path.join(o.out, 'checkpoint.safetensors');
      if (fs.existsSync(ckpt) && !o.resume) {
        throw new InvalidArgumentError(`${ckpt} exists: pass --resume to continue it, or choose another --out`);
      }
      const opts: TrainOptions = {
        config: namedConfig(o.config),
        objective: o.objective as Objective,
        outDir: o.out,
        steps: o.steps,
        batchSize: o.batchSize,
        lr: o.lr,
        warmupSteps: o.warmup,
        clipNorm: o.clip,
        emaDecay: o.ema,
        labelDropout: o.labelDropout,
        weightDecay: o.weightDecay,
        seed: o.seed,
        threads: o.threads,
        checkpointEvery: o.checkpointEvery,
        logEvery: o.logEvery,
        maxSecondsThisRun: o.maxMinutes !== undefined ? o.maxMinutes * 60 : undefined,
        stop: stopOnSignal(),
      };
      if (o.initFrom) {
        const { readDiTWeights } = await import('../models/dit/load.js');
        const from = await readDiTWeights(resolveModelPath(o.initFrom), { config: opts.config });
        opts.initWeights = from.weights;
        opts.initFrom = o.initFrom;
      }
      const bar = o.progress
        ? new cliProgress.SingleBar({ format: 'train |{bar}| {value}/{total} steps | loss {loss} | {ips} img/s | ETA {eta_formatted}', etaBuffer: 50 }, cliProgress.Presets.shades_classic)
        : undefined;
      let started = false;
      const state = await train(opts, {
        onStep: (p) => {
          if (bar && !started) {
            bar.start(p.steps, p.step, { loss: '-', ips: '-' });
            started = true;
          }
          bar?.update(p.step, { loss: p.loss.toFixed(4), ips: p.imagesPerSec.toFixed(0) });
          if (!bar) console.log(`step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} |g| ${p.gradNorm.toFixed(3)} ${p.imagesPerSec.toFixed(0)} img/s`);
        },
        onCheckpoint: async (step, ema) => {
          await renderSampleGrid(opts.config, opts.objective, ema, path.join(o.out, 'samples', `step-${String(step).padStart(6, '0')}.png`), opts.threads);
        },
      });
      bar?.stop();
      console.log(`stopped at step ${state.step}/${opts.steps}; checkpoint ${ckpt}`);
      if (o.export && state.step >= opts.steps) {
        exportModel(o.export, opts.config, state.ema, { objective: opts.objective, trained_steps: String(state.step) });
        console.log(`exported EMA weights to ${o.export}`);
      }
    });
}

/** First Ctrl-C / SIGTERM: stop after the current step and write a checkpoint; a second one quits at once. */
function stopOnSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    controller.abort();
    console.error(`\n${signal}: stopping after this step and writing a checkpoint (send it again to quit without one)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
