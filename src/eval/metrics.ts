// Distribution metrics of generated MNIST samples with the project's classifier: FID against the
// test set (with the real-vs-real baseline at the same N) and class accuracy of the requested labels.
import path from 'node:path';
import { MnistClassifier } from '../models/classifier.js';
import { readSafetensorsSync, toFloat32 } from '../io/safetensors.js';
import { loadMnist, shuffledIndices } from '../train/mnist.js';
import { FeatureStats, featureStats, frechetDistance } from './frechet.js';

export interface SampleMetrics {
  n: number;
  fid: number;
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

  /** images [n, 1, 28, 28] in [0, 1], labels [n] → FID, FID floor, class accuracy. */
  async evaluate(images: Float32Array, labels: ArrayLike<number>, n: number): Promise<SampleMetrics> {
    if (n < 2) throw new Error(`FID needs at least 2 samples, got ${n}`);
    const f = await this.classifier.run(images, n);
    let correct = 0;
    for (let i = 0; i < n; i++) if (f.predicted[i] === labels[i]) correct++;
    return {
      n,
      fid: frechetDistance(featureStats(f.features, n, f.dim), await this.test()),
      fidReal: await this.fidReal(n),
      classAcc: correct / n,
    };
  }
}
