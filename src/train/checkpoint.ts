// Training checkpoints: parameters, EMA, AdamW moments and the step in one safetensors file, written
// atomically; resuming refuses a checkpoint made with different data-affecting options.
import { readSafetensorsSync, toFloat32, writeSafetensorsSync } from '../io/safetensors.js';
import { CheckpointError } from '../io/errors.js';
import { parameterShapes } from '../models/dit/dit-graph.js';
import type { AdamWState } from './optimizer.js';
import type { TrainOptions } from './trainer.js';

export interface CheckpointState {
  step: number;
  params: Map<string, Float32Array>;
  ema: Map<string, Float32Array>;
  adam: AdamWState;
}

/** Options that change what the run computes; a resumed run must use the same ones. */
function fingerprint(o: TrainOptions): string {
  return JSON.stringify({
    config: o.config,
    objective: o.objective,
    batchSize: o.batchSize,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    clipNorm: o.clipNorm,
    emaDecay: o.emaDecay,
    labelDropout: o.labelDropout,
    weightDecay: o.weightDecay,
    seed: o.seed,
    ...(o.initFrom ? { initFrom: o.initFrom } : {}),
  });
}

export function saveCheckpoint(file: string, s: CheckpointState, o: TrainOptions): void {
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, shape] of parameterShapes(o.config)) {
    tensors[`param/${k}`] = { dtype: 'F32', shape, data: s.params.get(k)! };
    tensors[`ema/${k}`] = { dtype: 'F32', shape, data: s.ema.get(k)! };
    tensors[`adam_m/${k}`] = { dtype: 'F32', shape, data: s.adam.m.get(k)! };
    tensors[`adam_v/${k}`] = { dtype: 'F32', shape, data: s.adam.v.get(k)! };
  }
  writeSafetensorsSync(file, tensors, { step: String(s.step), adamStep: String(s.adam.step), options: fingerprint(o) });
}

export function loadCheckpoint(file: string, o: TrainOptions): CheckpointState {
  const { tensors, metadata } = readSafetensorsSync(file);
  if (metadata.options !== fingerprint(o)) {
    throw new CheckpointError(
      file,
      'was written with different training options',
      `Saved: ${metadata.options}\nNow:   ${fingerprint(o)}\nUse the same options to resume, or another --out directory to start afresh.`,
    );
  }
  const get = (k: string): Float32Array => {
    const t = tensors.get(k);
    if (!t) throw new CheckpointError(file, `missing tensor ${k}`, 'The checkpoint is incomplete; delete it to restart training.');
    return toFloat32(t, file, k);
  };
  const s: CheckpointState = {
    step: Number(metadata.step),
    params: new Map(),
    ema: new Map(),
    adam: { step: Number(metadata.adamStep), m: new Map(), v: new Map() },
  };
  for (const k of parameterShapes(o.config).keys()) {
    s.params.set(k, get(`param/${k}`));
    s.ema.set(k, get(`ema/${k}`));
    s.adam.m.set(k, get(`adam_m/${k}`));
    s.adam.v.set(k, get(`adam_v/${k}`));
  }
  if (!Number.isInteger(s.step) || s.step < 0) throw new CheckpointError(file, `bad step "${metadata.step}" in metadata`);
  return s;
}
