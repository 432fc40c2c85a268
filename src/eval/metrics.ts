// Distribution metrics of generated MNIST samples with the project's classifier: FID against the
// test set (with the real-vs-real baseline at the same N) and class accuracy of the requested labels.
import path from 'node:path';
import { MnistClassifier } from '../models/classifier.js';
import { readSafetensorsSync, toFloat32 } from '../io/safetensors.js';
import { loadMnist, shuffledIndices } from '../train/mnist.js';
import { Rng } from '../diffusion/rng.js';
import { FeatureStats, featureStats, frechetDistance } from './frechet.js';

export interface SampleMetrics {
  n: number;
  fid: number;
  /**
   * Standard deviation of FID over bootstrap resamples (with replacement) of the n samples' features,
   * when asked for: how much FID moves with the draw of n samples (at n = 64 often ±2–4).
   */
  fidStd?: number;
  /** FID of n real training images against the same test statistics: the floor at this N */
  fidReal: number;
  classAcc: number;
}

/** Loads the shipped classifier from a model folder (model.safetensors). */
export async function loadClassifier(dir: string, threads?: number): Promise<MnistClassifier> {
  const file = path.join(dir, 'model.safetensors');
  const { tensors } = readSafetensorsSync(file);
  const w = new Map([...tensors].map(([k, t]) => [k, toFloat32(t, file, k)] as const));
  return MnistClassifier.create(w, threads);
}

/** Caches the test-set and real-train statistics so a benchmark computes them once per N. */
export class MnistReference {
  private testStats?: FeatureStats;
  private readonly realByN = new Map<number, number>();

  constructor(readonly classifier: MnistClassifier) {}

  async test(): Promise<FeatureStats> {
    if (!this.testStats) {
      const t = loadMnist('test');
      const f = await this.classifier.run(t.images, t.n);
      this.testStats = featureStats(f.features, t.n, f.dim);
    }
    return this.testStats;
  }

  /** FID of n training images (a fixed random subset) vs the test set. */
  async fidReal(n: number): Promise<number> {
    let v = this.realByN.get(n);
    if (v === undefined) {
      const tr = loadMnist('train');
      const idx = shuffledIndices(tr.n, 12345).subarray(0, n);
      const imgs = new Float32Array(n * 784);
      idx.forEach((k, j) => imgs.set(tr.images.subarray(k * 784, (k + 1) * 784), j * 784));
      const f = await this.classifier.run(imgs, n);
      v = frechetDistance(featureStats(f.features, n, f.dim), await this.test());
      this.realByN.set(n, v);
    }
    return v;
  }

  /**
   * images [n, 1, 28, 28] in [0, 1], labels [n] → FID, FID floor, class accuracy; with `bootstrap` > 1
   * also FID's spread over that many resamples of the samples (seeded: the same images give the same).
   */
  async evaluate(images: Float32Array, labels: ArrayLike<number>, n: number, opts: { bootstrap?: number } = {}): Promise<SampleMetrics> {
    if (n < 2) throw new Error(`FID needs at least 2 samples, got ${n}`);
    const f = await this.classifier.run(images, n);
    let correct = 0;
    for (let i = 0; i < n; i++) if (f.predicted[i] === labels[i]) correct++;
    const test = await this.test();
    const bootstrap = opts.bootstrap ?? 0;
    return {
      n,
      fid: frechetDistance(featureStats(f.features, n, f.dim), test),
      ...(bootstrap > 1 ? { fidStd: bootstrapFidStd(f.features, n, f.dim, test, bootstrap) } : {}),
      fidReal: await this.fidReal(n),
      classAcc: correct / n,
    };
  }
}

/** Sample standard deviation of FID over `resamples` draws of n feature rows with replacement (fixed seed). */
export function bootstrapFidStd(features: Float32Array, n: number, dim: number, test: FeatureStats, resamples: number): number {
  const rng = new Rng(20261127);
  const drawn = new Float32Array(n * dim);
  const fids: number[] = [];
  for (let b = 0; b < resamples; b++) {
    for (let k = 0; k < n; k++) {
      const i = rng.nextUint32() % n;
      drawn.set(features.subarray(i * dim, (i + 1) * dim), k * dim);
    }
    fids.push(frechetDistance(featureStats(drawn, n, dim), test));
  }
  const mean = fids.reduce((a, b) => a + b, 0) / fids.length;
  return Math.sqrt(fids.reduce((a, v) => a + (v - mean) ** 2, 0) / (fids.length - 1));
}
