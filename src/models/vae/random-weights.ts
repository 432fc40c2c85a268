// Seeded random AutoencoderKL weights for benchmarks and tests: PyTorch's default initialisation ranges
// (uniform ±1/√fan_in for conv and linear weights and biases), GroupNorm affine near (1, 0).
import { Rng } from '../../diffusion/rng.js';
import { VAEConfig } from './config.js';
import { vaeParameterShapes } from './architecture.js';

export function randomVAEWeights(c: VAEConfig, seed = 1): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const uniform = (n: number, centre: number, halfWidth: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = centre + halfWidth * (2 * rng.uniform() - 1);
    return a;
  };
  const shapes = vaeParameterShapes(c);
  const weights = new Map<string, Float32Array>();
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const layer = key.slice(0, key.lastIndexOf('.'));
    const weightShape = shapes.get(`${layer}.weight`)!;
    if (weightShape.length === 1) {
      // A norm: a scale near 1 and a small bias keep activations O(1), as in a trained model.
      weights.set(key, key.endsWith('.weight') ? uniform(n, 1, 0.1) : uniform(n, 0, 0.1));
    } else {
      const fanIn = weightShape.slice(1).reduce((a, b) => a * b, 1);
      weights.set(key, uniform(n, 0, 1 / Math.sqrt(fanIn)));
    }
  }
  return weights;
}
