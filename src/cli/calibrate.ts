// `tcpade calibrate teacache --model M`: fits TeaCache's rescale polynomial on the model's own full
// trajectories and stores it beside the model (teacache.json), where `generate --cache teacache` finds it.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadDenoiser } from '../models/load.js';
import { calibrateTeaCache } from '../pipeline/calibrate.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { defaultThreads } from '../runtime/session.js';
import { floatArg, intArg, intListArg, threadsArg } from './args.js';
import { modelObjective, resolveModelPath } from '../models/shipped.js';

export function teacacheFileFor(modelPath: string): string {
  const dir = fs.statSync(modelPath).isDirectory() ? modelPath : path.dirname(modelPath);
  return path.join(dir, 'teacache.json');
}

/** Coefficients stored beside a model by `calibrate teacache`, if any. */
export function storedTeaCacheCoefficients(modelPath: string): number[] | undefined {
  const f = teacacheFileFor(modelPath);
  if (!fs.existsSync(f)) return undefined;
  const j = JSON.parse(fs.readFileSync(f, 'utf8')) as { coefficients?: number[] };
  return Array.isArray(j.coefficients) ? j.coefficients : undefined;
}

export function calibrateCommand(): Command {
  const cmd = new Command('calibrate').description('fit method constants on a model');
  cmd
    .command('teacache')
    .description("fit TeaCache's rescale polynomial on the model's full trajectories; writes teacache.json beside the model")
    .requiredOption('--model <name|path>', 'model to calibrate')
    .option('--steps <list>', 'step counts whose trajectories are used', '20,30,50')
    .option('--samples <n>', 'samples per step count', intArg(2), 40)
    .option('--cfg <scale>', 'guidance scale of the calibration runs', floatArg(0), 1.5)
    .option('--degree <d>', 'polynomial degree', intArg(1, 8), 4)
    .option('--seed <n>', 'seed', intArg(0), 1000)
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .option('--out <file>', 'where to write (default: teacache.json beside the model)')
    .action(async (o) => {
      const modelPath = resolveModelPath(o.model);
      const sampler = modelObjective(modelPath) === 'flow' ? 'flow-euler' : 'ddim';
      const steps = intListArg(2, 1000)(o.steps);
      const model = await loadDenoiser(modelPath, { threads: o.threads });
      const cal = await calibrateTeaCache(model, { sampler, steps, samplesPerRun: o.samples, cfgScale: o.cfg, degree: o.degree, seed: o.seed, onProgress: (m) => console.log(m) });
      if (!cal.coefficients.every(Number.isFinite)) throw new InvalidArgumentError('the fit produced non-finite coefficients; use more samples or a lower degree');
      const file = o.out ?? teacacheFileFor(modelPath);
      writeFileAtomicSync(file, JSON.stringify({ ...cal, note: 'coefficients lowest degree first: outputChange ≈ Σ c_i · inputChange^i' }, null, 2) + '\n');
      console.log(`fitted degree-${cal.degree} polynomial on ${cal.points} points (RMSE ${cal.rmse.toExponential(2)}): [${cal.coefficients.map((c) => c.toPrecision(4)).join(', ')}] → ${file}`);
      await model.release();
    });
  return cmd;
}
