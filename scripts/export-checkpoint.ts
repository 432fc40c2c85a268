// Exports the EMA (or raw) weights of a training checkpoint as a shippable model folder
// (model.safetensors + config.json with objective and trained_steps), e.g. to refresh models/ mid-run.
// Usage: npx tsx scripts/export-checkpoint.ts <checkpoint.safetensors> <outDir> <eps|flow> [config=mnist-dit] [ema|param]
import { readSafetensorsSync, toFloat32 } from '../src/io/safetensors.js';
import { exportModel } from '../src/train/trainer.js';
import { namedConfig } from '../src/models/dit-config.js';

const [file, out, objective, configName = 'mnist-dit', which = 'ema'] = process.argv.slice(2);
if (!file || !out || (objective !== 'eps' && objective !== 'flow') || (which !== 'ema' && which !== 'param')) {
  console.error('usage: npx tsx scripts/export-checkpoint.ts <checkpoint.safetensors> <outDir> <eps|flow> [config] [ema|param]');
  process.exit(2);
}
const { tensors, metadata } = readSafetensorsSync(file);
const prefix = `${which}/`;
const weights = new Map<string, Float32Array>();
for (const [k, t] of tensors) if (k.startsWith(prefix)) weights.set(k.slice(prefix.length), toFloat32(t, file, k));
exportModel(out, namedConfig(configName), weights, { objective, trained_steps: metadata.step });
console.log(`exported ${which} weights of step ${metadata.step} to ${out}`);
