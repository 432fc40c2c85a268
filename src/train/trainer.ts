// `tcpade train`: trains a class-conditional DiT on MNIST (ε or flow objective) with AdamW, warm-up,
// clipping, label dropout and EMA; resumable bit-for-bit because every random draw is a function of (seed, step).
import fs from 'node:fs';
import path from 'node:path';
import { CompiledGraph } from '../runtime/session.js';
import { DiTConfig, configToOriginalJson } from '../models/dit/dit-config.js';
import { parameterShapes, positionEmbedding2d } from '../models/dit/dit-graph.js';
import { buildTrainingGraph, FROZEN_PARAMS } from './dit-loss.js';
import { ADAMW_DEFAULTS, AdamWState, adamWStep, createAdamWState, emaUpdate, warmupLr } from './optimizer.js';
import { loadMnist, shuffledIndices } from './mnist.js';
import { Rng, sampleRng as streamRng } from '../diffusion/rng.js';
import { linearBetaSchedule } from '../diffusion/schedule.js';
import { CheckpointState, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { writeSafetensorsSync as saveTensorsSync } from '../io/safetensors.js';

export type Objective = 'eps' | 'flow';

export interface TrainOptions {
  config: DiTConfig;
  objective: Objective;
  outDir: string;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  clipNorm: number;
  emaDecay: number;
  labelDropout: number;
  weightDecay: number;
  seed: number;
  threads: number;
  checkpointEvery: number;
  logEvery: number;
  /** Start from these weights (e.g. a shipped model's EMA) instead of the DiT initialisation. */
  initWeights?: ReadonlyMap<string, Float32Array>;
  /** Where initWeights came from (part of the resume fingerprint). */
  initFrom?: string;
  /** Caps this invocation's work (to split a long run across sessions); undefined = until `steps`. */
  maxStepsThisRun?: number;
  maxSecondsThisRun?: number;
  /** Aborted (e.g. on Ctrl-C): finish the current step, write a checkpoint, return. */
  stop?: AbortSignal;
}

export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  gradNorm: number;
  lr: number;
  imagesPerSec: number;
}

export interface TrainHooks {
  onStep?(p: TrainProgress): void;
  /** Called after each checkpoint with the EMA weights (e.g. to render a sample grid). */
  onCheckpoint?(step: number, ema: ReadonlyMap<string, Float32Array>): Promise<void> | void;
}

/** DiT's initialisation: Xavier-uniform linears, zero adaLN and final layer (adaLN-Zero), N(0, 0.02) embeddings. */
export function initDiTWeights(c: DiTConfig, seed: number): Map<string, Float32Array> {
  const rng = streamRng(seed, 0x1417);
  const w = new Map<string, Float32Array>();
  for (const [k, shape] of parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (k === 'pos_embed') a.set(positionEmbedding2d(c.hiddenSize, c.inputSize / c.patchSize));
    else if (k.includes('adaLN_modulation') || k.startsWith('final_layer.linear')) {
      // zero: every block starts as the identity
    } else if (k === 'y_embedder.embedding_table.weight' || k.startsWith('t_embedder.mlp') && k.endsWith('weight')) {
      for (let i = 0; i < n; i++) a[i] = 0.02 * rng.normal();
    } else if (k.endsWith('.weight')) {
      const fanOut = shape[0];
      const fanIn = n / fanOut;
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    }
    w.set(k, a);
  }
  return w;
}

/** What one training step consumes, all derived from (seed, step). */
interface Batch {
  xt: Float32Array;
  t: Float32Array;
  y: BigInt64Array;
  target: Float32Array;
}

class BatchMaker {
  private readonly images: Float32Array;
  private readonly labels: Uint8Array;
  private readonly n: number;
  private perm: Uint32Array | undefined;
  private permEpoch = -1;
  private readonly acp: Float64Array;

  constructor(private readonly opts: TrainOptions) {
    const d = loadMnist('train');
    this.images = d.images;
    this.labels = d.labels;
    this.n = d.n;
    this.acp = linearBetaSchedule().alphasCumprod;
  }

  private indexAt(pos: number): number {
    const epoch = Math.floor(pos / this.n);
    if (epoch !== this.permEpoch) {
      this.perm = shuffledIndices(this.n, this.opts.seed * 100003 + epoch);
      this.permEpoch = epoch;
    }
    return this.perm![pos % this.n];
  }

  make(step: number): Batch {
    const { batchSize: B, config: c, objective, labelDropout } = this.opts;
    const px = c.inChannels * c.inputSize * c.inputSize;
    const rng: Rng = streamRng(this.opts.seed, 1_000_000 + step);
    const out: Batch = { xt: new Float32Array(B * px), t: new Float32Array(B), y: new BigInt64Array(B), target: new Float32Array(B * px) };
    for (let j = 0; j < B; j++) {
      const idx = this.indexAt(step * B + j);
      const label = rng.uniform() < labelDropout ? c.numClasses : this.labels[idx];
      out.y[j] = BigInt(label);
      let a: number;
      let s: number;
      if (objective === 'eps') {
        const ti = Math.min(999, Math.floor(rng.uniform() * 1000));
        out.t[j] = ti;
        a = Math.sqrt(this.acp[ti]);
        s = Math.sqrt(1 - this.acp[ti]);
      } else {
        // logit-normal σ (as SD3): more weight on the middle of the path
        const sigma = 1 / (1 + Math.exp(-rng.normal()));
        out.t[j] = sigma * 1000;
        a = 1 - sigma;
        s = sigma;
      }
      for (let i = 0; i < px; i++) {
        const x0 = this.images[idx * px + i] * 2 - 1; // [0,1] → [−1,1]
        const eps = rng.normal();
        out.xt[j * px + i] = a * x0 + s * eps;
        out.target[j * px + i] = objective === 'eps' ? eps : eps - x0;
      }
    }
    return out;
  }
}

function checkpointPath(outDir: string): string {
  return path.join(outDir, 'checkpoint.safetensors');
}

/** Writes the EMA weights as a shippable model: model.safetensors + config.json. */
export function exportModel(dir: string, c: DiTConfig, weights: ReadonlyMap<string, Float32Array>, meta: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, shape] of parameterShapes(c)) tensors[k] = { dtype: 'F32', shape, data: weights.get(k)! };
  saveTensorsSync(path.join(dir, 'model.safetensors'), tensors, meta);
  writeFileAtomicSync(path.join(dir, 'config.json'), JSON.stringify({ ...configToOriginalJson(c), ...meta }, null, 2) + '\n');
}

export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<CheckpointState> {
  fs.mkdirSync(opts.outDir, { recursive: true });
  const ckpt = checkpointPath(opts.outDir);
  let state: CheckpointState;
  if (fs.existsSync(ckpt)) {
    state = loadCheckpoint(ckpt, opts);
  } else {
    const params = opts.initWeights ? new Map([...opts.initWeights].map(([k, v]) => [k, Float32Array.from(v)] as const)) : initDiTWeights(opts.config, opts.seed);
    const ema = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)] as const));
    state = { step: 0, params, ema, adam: createAdamWState(params) };
  }
  const { graph, trainable } = buildTrainingGraph(opts.config);
  const session = await CompiledGraph.create(graph, { paramsAsInputs: true, threads: opts.threads });
  const batches = new BatchMaker(opts);
  const adamOpts = { ...ADAMW_DEFAULTS, lr: opts.lr, weightDecay: opts.weightDecay };
  const logPath = path.join(opts.outDir, 'log.jsonl');
  const startStep = state.step;
  const started = performance.now();
  let windowStart = performance.now();
  let windowImages = 0;
  const stopAt = Math.min(opts.steps, opts.maxStepsThisRun !== undefined ? startStep + opts.maxStepsThisRun : Infinity);
  while (state.step < stopAt) {
    if (opts.maxSecondsThisRun !== undefined && (performance.now() - started) / 1000 > opts.maxSecondsThisRun) break;
    if (opts.stop?.aborted) break;
    const b = batches.make(state.step);
    const B = opts.batchSize;
    const xs = [B, opts.config.inChannels, opts.config.inputSize, opts.config.inputSize];
    const r = await session.run(
      { xt: { data: b.xt, shape: xs }, t: { data: b.t, shape: [B] }, y: { data: b.y, shape: [B] }, target: { data: b.target, shape: xs } },
      state.params,
    );
    const loss = (r.loss.data as Float32Array)[0];
    if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${state.step}: loss ${loss}. Lower --lr or raise --warmup.`);
    const grads = new Map(trainable.map((k) => [k, r[`grad:${k}`].data as Float32Array] as const));
    const lr = warmupLr(state.step, opts.lr, opts.warmupSteps);
    const gradNorm = adamWStep(state.params, grads, state.adam, adamOpts, lr, opts.clipNorm, FROZEN_PARAMS);
    emaUpdate(state.ema, state.params, opts.emaDecay);
    state.step += 1;
    windowImages += B;
    if (state.step % opts.logEvery === 0 || state.step === stopAt) {
      const sec = (performance.now() - windowStart) / 1000;
      const p: TrainProgress = { step: state.step, steps: opts.steps, loss, gradNorm, lr, imagesPerSec: windowImages / sec };
      fs.appendFileSync(logPath, JSON.stringify({ ...p, time: new Date().toISOString() }) + '\n');
      hooks.onStep?.(p);
      windowStart = performance.now();
      windowImages = 0;
    }
    if (state.step % opts.checkpointEvery === 0 || state.step === opts.steps) {
      saveCheckpoint(ckpt, state, opts);
      await hooks.onCheckpoint?.(state.step, state.ema);
    }
  }
  if (state.step % opts.checkpointEvery !== 0 || !fs.existsSync(ckpt)) saveCheckpoint(ckpt, state, opts);
  await session.release();
  return state;
}

export type { AdamWState };
