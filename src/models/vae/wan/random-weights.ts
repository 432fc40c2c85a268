// Seeded random AutoencoderKLWan weights for benchmarks and tests: PyTorch's default initialisation ranges
// (uniform ±1/√fan_in for conv weights and biases), RMS-norm gammas near 1.
import { Rng } from '../../../diffusion/rng.js';
import { WanVAEConfig } from './config.js';
import { wanVAEParameterShapes } from './architecture.js';

export function randomWanVAEWeights(c: WanVAEConfig, seed = 1): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const shapes = wanVAEParameterShapes(c);
  const weights = new Map<string, Float32Array>();
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (key.endsWith('.gamma')) {
      for (let i = 0; i < n; i++) a[i] = 1 + 0.1 * (2 * rng.uniform() - 1);
    } else {
      const weightShape = shapes.get(`${key.slice(0, key.lastIndexOf('.'))}.weight`)!;
      const bound = 1 / Math.sqrt(weightShape.slice(1).reduce((x, y) => x * y, 1));
      for (let i = 0; i < n; i++) a[i] = bound * (2 * rng.uniform() - 1);
    }
    weights.set(key, a);
  }
  return weights;
}
