// Trains the metric classifier with the project's own engine: softmax cross-entropy through our
// autodiff, AdamW, random ±2-pixel shifts for robustness; evaluates on the MNIST test set.
import { GraphBuilder } from '../graph/builder.js';
import { gradients } from '../graph/autodiff.js';
import { Value } from '../graph/ir.js';
import { CompiledGraph } from '../runtime/session.js';
import { CLASSIFIER_CONFIG, ClassifierConfig, MnistClassifier, classifierGraph, classifierShapes } from '../models/classifier.js';
import { ADAMW_DEFAULTS, adamWStep, createAdamWState } from './optimizer.js';
import { loadMnist, shuffledIndices } from './mnist.js';
import { sampleRng } from '../diffusion/rng.js';

export interface ClassifierTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  threads: number;
  onLog?: (msg: string) => void;
}

function initWeights(c: ClassifierConfig, seed: number): Map<string, Float32Array> {
  const rng = sampleRng(seed, 77);
  const w = new Map<string, Float32Array>();
  for (const [k, shape] of classifierShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (k.endsWith('.weight')) {
      const fanIn = n / shape[0];
      const std = Math.sqrt(2 / fanIn); // He init for ReLU nets
      for (let i = 0; i < n; i++) a[i] = std * rng.normal();
    }
    w.set(k, a);
  }
  return w;
}

function trainingGraph(c: ClassifierConfig): { graph: ReturnType<GraphBuilder['build']>; keys: string[] } {
  const g = new GraphBuilder('classifier_train');
  const shapes = classifierShapes(c);
  const params = new Map<string, Value>();
  for (const [k, s] of shapes) params.set(k, g.param(k, s));
  const images = g.input('images', 'float32', ['B', 1, 28, 28]);
  const onehot = g.input('onehot', 'float32', ['B', c.numClasses]);
  const { logits } = classifierGraph(g, (k) => params.get(k)!, c, images);
  // cross-entropy = logsumexp(z) − z_label (logits stay small enough here to skip the max shift)
  const lse = g.log(g.reduceSum(g.exp(logits), [1], false));
  const picked = g.reduceSum(g.mul(logits, onehot), [1], false);
  const loss = g.reduceMean(g.sub(lse, picked), [0], false);
  g.output('loss', loss);
  const keys = [...shapes.keys()];
  gradients(g, loss, keys.map((k) => params.get(k)!)).forEach((d, i) => g.output(`grad:${keys[i]}`, d));
  return { graph: g.build(), keys };
}

/** Shifts a 28×28 image by (dy, dx) pixels, filling with 0. */
function shift(src: Float32Array, dst: Float32Array, dy: number, dx: number): void {
  dst.fill(0);
  for (let y = 0; y < 28; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= 28) continue;
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < 28) dst[y * 28 + x] = src[sy * 28 + sx];
    }
  }
}

export async function trainClassifier(o: ClassifierTrainOptions, c: ClassifierConfig = CLASSIFIER_CONFIG): Promise<{ weights: Map<string, Float32Array>; testAccuracy: number }> {
  const train = loadMnist('train');
  const test = loadMnist('test');
  const { graph, keys } = trainingGraph(c);
  const session = await CompiledGraph.create(graph, { paramsAsInputs: true, threads: o.threads });
  const params = initWeights(c, o.seed);
  const adam = createAdamWState(params);
  const px = 784;
  const B = o.batchSize;
  const stepsPerEpoch = Math.floor(train.n / B);
  const total = o.epochs * stepsPerEpoch;
  const imgs = new Float32Array(B * px);
  const onehot = new Float32Array(B * c.numClasses);
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const perm = shuffledIndices(train.n, o.seed * 1000 + epoch);
    const rng = sampleRng(o.seed, 5000 + epoch);
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      onehot.fill(0);
      for (let j = 0; j < B; j++) {
        const idx = perm[s * B + j];
        const dy = Math.floor(rng.uniform() * 5) - 2;
        const dx = Math.floor(rng.uniform() * 5) - 2;
        shift(train.images.subarray(idx * px, (idx + 1) * px), imgs.subarray(j * px, (j + 1) * px), dy, dx);
        onehot[j * c.numClasses + train.labels[idx]] = 1;
      }
      const r = await session.run({ images: { data: imgs, shape: [B, 1, 28, 28] }, onehot: { data: onehot, shape: [B, c.numClasses] } }, params);
      const grads = new Map(keys.map((k) => [k, r[`grad:${k}`].data as Float32Array] as const));
      // cosine decay to 10 % of the base rate
      const lr = o.lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * step) / total)));
      adamWStep(params, grads, adam, { ...ADAMW_DEFAULTS, lr, weightDecay: 1e-4 }, lr, 5);
      if (step % 100 === 0) o.onLog?.(`epoch ${epoch} step ${step}/${total} loss ${(r.loss.data as Float32Array)[0].toFixed(4)}`);
    }
  }
  await session.release();
  const clf = await MnistClassifier.create(params, o.threads, c);
  const { predicted } = await clf.run(test.images, test.n);
  await clf.release();
  let correct = 0;
  for (let i = 0; i < test.n; i++) if (predicted[i] === test.labels[i]) correct++;
  return { weights: params, testAccuracy: correct / test.n };
}
