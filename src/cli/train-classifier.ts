// `tcpade train-classifier`: trains and exports the metric classifier (models/mnist-classifier).
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { trainClassifier } from '../train/classifier-trainer.js';
import { CLASSIFIER_CONFIG, classifierShapes } from '../models/classifier.js';
import { writeSafetensorsSync } from '../io/safetensors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { defaultThreads } from '../runtime/session.js';
import { floatArg, intArg, threadsArg } from './args.js';

export function trainClassifierCommand(): Command {
  return new Command('train-classifier')
    .description('train the MNIST metric classifier (FID features, class accuracy) and export it')
    .requiredOption('--out <dir>', 'model folder to write (model.safetensors, config.json)')
    .option('--epochs <n>', 'passes over the 60k training images', intArg(1), 4)
    .option('--batch-size <n>', 'images per step', intArg(1), 128)
    .option('--lr <x>', 'peak AdamW learning rate (cosine decay)', floatArg(0), 1e-3)
    .option('--seed <n>', 'seed', intArg(0), 0)
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .action(async (o) => {
      const t0 = performance.now();
      const r = await trainClassifier({ epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, threads: o.threads, onLog: (m) => console.log(m) });
      const wallS = (performance.now() - t0) / 1000;
      fs.mkdirSync(o.out, { recursive: true });
      const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
      for (const [k, shape] of classifierShapes(CLASSIFIER_CONFIG)) tensors[k] = { dtype: 'F32', shape, data: r.weights.get(k)! };
      writeSafetensorsSync(path.join(o.out, 'model.safetensors'), tensors, { test_accuracy: r.testAccuracy.toFixed(4) });
      const config = { architecture: 'mnist-convnet', ...CLASSIFIER_CONFIG, epochs: o.epochs, batch_size: o.batchSize, lr: o.lr, seed: o.seed, threads: o.threads, wall_seconds: Math.round(wallS), test_accuracy: r.testAccuracy };
      writeFileAtomicSync(path.join(o.out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
      console.log(`test accuracy ${(100 * r.testAccuracy).toFixed(2)} % after ${o.epochs} epochs (${wallS.toFixed(0)} s); wrote ${o.out}`);
    });
}
