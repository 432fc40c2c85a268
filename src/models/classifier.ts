// The metric classifier for MNIST: a small all-convolutional net (stride-2 convs instead of pooling) whose
// penultimate 128-d ReLU features define the project's FID and whose predictions define class accuracy.
import { GraphBuilder } from '../graph/builder.js';
import { Value } from '../graph/ir.js';
import { CompiledGraph, defaultThreads } from '../runtime/session.js';

export interface ClassifierConfig {
  channels: [number, number, number];
  features: number;
  numClasses: number;
}

export const CLASSIFIER_CONFIG: ClassifierConfig = { channels: [32, 64, 64], features: 128, numClasses: 10 };

/** Parameter keys and shapes (PyTorch layouts: conv [O, I, kh, kw], linear [out, in]). */
export function classifierShapes(c: ClassifierConfig): Map<string, number[]> {
  const [c1, c2, c3] = c.channels;
  return new Map<string, number[]>([
    ['conv1.weight', [c1, 1, 3, 3]],
    ['conv1.bias', [c1]],
    ['conv2.weight', [c2, c1, 3, 3]],
    ['conv2.bias', [c2]],
    ['conv3.weight', [c3, c2, 3, 3]],
    ['conv3.bias', [c3]],
    ['fc1.weight', [c.features, c3 * 7 * 7]],
    ['fc1.bias', [c.features]],
    ['fc2.weight', [c.numClasses, c.features]],
    ['fc2.bias', [c.numClasses]],
  ]);
}

export type ClassifierParams = (key: string) => Value;

/** images [B, 1, 28, 28] in [0, 1] → features [B, F] (after ReLU) and logits [B, K]. */
export function classifierGraph(g: GraphBuilder, P: ClassifierParams, c: ClassifierConfig, images: Value): { features: Value; logits: Value } {
  const x = g.sub(images, g.scalar(0.5)); // centre the inputs
  const h1 = g.relu(g.conv(x, P('conv1.weight'), P('conv1.bias'), { strides: [1, 1], pads: [1, 1, 1, 1] })); // 28×28
  const h2 = g.relu(g.conv(h1, P('conv2.weight'), P('conv2.bias'), { strides: [2, 2], pads: [1, 1, 1, 1] })); // 14×14
  const h3 = g.relu(g.conv(h2, P('conv3.weight'), P('conv3.bias'), { strides: [2, 2], pads: [1, 1, 1, 1] })); // 7×7
  const flat = g.reshape(h3, [-1, c.channels[2] * 49]);
  const features = g.relu(g.gemm(flat, P('fc1.weight'), { transB: 1 }, P('fc1.bias')));
  const logits = g.gemm(features, P('fc2.weight'), { transB: 1 }, P('fc2.bias'));
  return { features, logits };
}

/** A loaded classifier for metrics: features and predicted labels for batches of images. */
export class MnistClassifier {
  private constructor(private readonly session: CompiledGraph) {}

  static async create(weights: ReadonlyMap<string, Float32Array>, threads = defaultThreads(), c: ClassifierConfig = CLASSIFIER_CONFIG): Promise<MnistClassifier> {
    const g = new GraphBuilder('mnist_classifier');
    const shapes = classifierShapes(c);
    const P = (k: string): Value => {
      const w = weights.get(k);
      if (!w) throw new Error(`classifier weights: missing ${k}`);
      return g.param(k, shapes.get(k)!, w);
    };
    const out = classifierGraph(g, P, c, g.input('images', 'float32', ['B', 1, 28, 28]));
    g.output('features', out.features);
    g.output('logits', out.logits);
    return new MnistClassifier(await CompiledGraph.create(g.build(), { threads }));
  }

  /** images [N, 1, 28, 28] in [0, 1] → features [N, F] and argmax labels [N]. */
  async run(images: Float32Array, n: number, batch = 500): Promise<{ features: Float32Array; predicted: Uint8Array; dim: number }> {
    const px = 28 * 28;
    if (images.length !== n * px) throw new Error(`classifier: expected ${n}×1×28×28 = ${n * px} values, got ${images.length}`);
    let features = new Float32Array(0);
    let dim = 0;
    const predicted = new Uint8Array(n);
    for (let s = 0; s < n; s += batch) {
      const b = Math.min(batch, n - s);
      const r = await this.session.run({ images: { data: images.subarray(s * px, (s + b) * px), shape: [b, 1, 28, 28] } });
      const f = r.features.data as Float32Array;
      if (!dim) {
        dim = f.length / b;
        features = new Float32Array(n * dim);
      }
      features.set(f, s * dim);
      const lg = r.logits.data as Float32Array;
      const k = lg.length / b;
      for (let i = 0; i < b; i++) {
        let best = 0;
        for (let j = 1; j < k; j++) if (lg[i * k + j] > lg[i * k + best]) best = j;
        predicted[s + i] = best;
      }
    }
    return { features, predicted, dim };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
