// Seeded random DiT weights (every tensor non-zero, small): for benchmarks, tests and trying the
// tool before a trained model is at hand. Not a training initialisation (see train/trainer.ts).
import { sampleRng } from '../../diffusion/rng.js';
import { DiTConfig } from './dit-config.js';
import { parameterShapes, positionEmbedding2d } from './dit-graph.js';

export function randomDiTWeights(c: DiTConfig, seed = 1, scale = 0.04): Map<string, Float32Array> {
  const rng = sampleRng(seed, 0x5eed);
  const w = new Map<string, Float32Array>();
  for (const [k, shape] of parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (k === 'pos_embed') a.set(positionEmbedding2d(c.hiddenSize, c.inputSize / c.patchSize));
    else for (let i = 0; i < n; i++) a[i] = scale * (2 * rng.uniform() - 1);
    w.set(k, a);
  }
  return w;
}
