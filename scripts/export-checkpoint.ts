// Exports the EMA (or raw) weights of a training checkpoint as a shippable model folder
// (model.safetensors + config.json with objective and trained_steps), e.g. to refresh models/ mid-run.
// Usage: npx tsx scripts/export-checkpoint.ts <checkpoint.safetensors> <outDir> <eps|flow> [config=mnist-dit] [ema|param]
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsSync, toFloat32 } from '../src/io/safetensors.js';
import { exportModel } from '../src/train/trainer.js';
import { namedConfig } from '../src/models/dit/dit-config.js';

const [file, out, objective, configName = 'mnist-dit', which = 'ema'] = process.argv.slice(2);
if (!file || !out || (objective !== 'eps' && objective !== 'flow') || (which !== 'ema' && which !== 'param')) {
  console.error('usage: npx tsx scripts/export-checkpoint.ts <checkpoint.safetensors> <outDir> <eps|flow> [config] [ema|param]');
  process.exit(2);
}
const { tensors, metadata } = readSafetensorsSync(file);
const prefix = `${which}/`;
const weights = new Map<string, Float32Array>();
for (const [k, t] of tensors) if (k.startsWith(prefix)) weights.set(k.slice(prefix.length), toFloat32(t, file, k));
// A run started with --init-from records where its weights began; say so in the model's config.
const options = JSON.parse(metadata.options ?? '{}') as { initFrom?: string; lr?: number; batchSize?: number };
let initFrom: Record<string, string> = {};
if (options.initFrom) {
  const initConfig = JSON.parse(fs.readFileSync(path.join(options.initFrom, 'config.json'), 'utf8')) as Record<string, string>;
  initFrom = { init_from: `the ${initConfig.objective}-objective model's EMA at its training step ${initConfig.trained_steps}` };
}
exportModel(out, namedConfig(configName), weights, { objective, trained_steps: metadata.step, ...initFrom });
console.log(`exported ${which} weights of step ${metadata.step} to ${out}`);
