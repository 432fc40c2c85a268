// `tcpade eval`: FID (classifier features vs the MNIST test set, with the real-vs-real floor at the
// same N) and class accuracy of a samples.safetensors written by `tcpade generate`.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { readSafetensorsSync, toFloat32, toInt64Numbers } from '../io/safetensors.js';
import { MnistReference, loadClassifier } from '../eval/metrics.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { defaultThreads } from '../runtime/session.js';
import { threadsArg } from './args.js';
import { resolveModelPath } from '../models/shipped.js';

export function evalCommand(): Command {
  return new Command('eval')
    .description('FID and class accuracy of generated MNIST samples (samples.safetensors from `generate`)')
    .argument('<samples>', 'samples.safetensors, or the folder holding it')
    .option('--classifier <name|path>', 'metric classifier model', 'mnist-classifier')
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .option('--json <file>', 'also write the metrics as JSON')
    .action(async (samplesArg: string, o) => {
      const file = fs.existsSync(samplesArg) && fs.statSync(samplesArg).isDirectory() ? path.join(samplesArg, 'samples.safetensors') : samplesArg;
      if (!fs.existsSync(file)) throw new InvalidArgumentError(`${file} does not exist; pass the samples.safetensors written by \`tcpade generate\``);
      const { tensors } = readSafetensorsSync(file);
      const img = tensors.get('images');
      const lab = tensors.get('labels');
      if (!img || !lab) throw new InvalidArgumentError(`${file} must hold "images" [N, 1, 28, 28] and "labels" [N] (found: ${[...tensors.keys()].join(', ')})`);
      if (img.shape.length !== 4 || img.shape[1] !== 1 || img.shape[2] !== 28 || img.shape[3] !== 28) {
        throw new InvalidArgumentError(`${file}: images must be [N, 1, 28, 28] MNIST-sized, got [${img.shape.join(', ')}]`);
      }
      const n = img.shape[0];
      const labels = toInt64Numbers(lab, file, 'labels');
      if (labels.length !== n) throw new InvalidArgumentError(`${file}: ${labels.length} labels for ${n} images`);
      const clf = await loadClassifier(resolveModelPath(o.classifier), o.threads);
      const m = await new MnistReference(clf).evaluate(toFloat32(img, file, 'images'), labels, n);
      // How the samples were made, from the stats.json `generate` wrote beside them (if any).
      const statsFile = path.join(path.dirname(file), 'stats.json');
      const made = fs.existsSync(statsFile) ? (JSON.parse(fs.readFileSync(statsFile, 'utf8')) as Record<string, unknown>) : {};
      const provenance = { model: made.model, sampler: made.sampler, steps: made.requestedSteps, cfg: made.cfg, cache: made.cacheLabel, seed: made.seed };
      console.log(`N = ${n}: FID ${m.fid.toFixed(3)} (real-vs-real at the same N: ${m.fidReal.toFixed(3)}, ratio ${(m.fid / m.fidReal).toFixed(2)}×), class accuracy ${(100 * m.classAcc).toFixed(2)} %`);
      if (o.json) writeFileAtomicSync(o.json, JSON.stringify({ ...m, ...provenance }, null, 2) + '\n');
      await clf.release();
    });
}
