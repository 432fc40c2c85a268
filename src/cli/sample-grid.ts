// Renders a class-by-class sample grid from training weights (used after each training checkpoint).
import fs from 'node:fs';
import path from 'node:path';
import { DiTConfig } from '../models/dit/dit-config.js';
import { DiT } from '../models/dit/dit.js';
import { generate } from '../pipeline/generate.js';
import { toUnitRange, writeClassGrid } from '../pipeline/images.js';
import type { Objective } from '../train/trainer.js';

export async function renderSampleGrid(config: DiTConfig, objective: Objective, weights: ReadonlyMap<string, Float32Array>, file: string, threads: number, perClass = 4): Promise<void> {
  const model = new DiT(config, weights, { threads, objective });
  const classes = Array.from({ length: config.numClasses }, (_, k) => k);
  const labels = classes.flatMap((k) => new Array<number>(perClass).fill(k));
  const r = await generate(model, { labels, seed: 0, steps: 30, sampler: objective === 'eps' ? 'ddim' : 'flow-euler', cfgScale: 2, batchSize: 40 });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeClassGrid(file, toUnitRange(r.samples), r.shape, classes, perClass);
  await model.release();
}
