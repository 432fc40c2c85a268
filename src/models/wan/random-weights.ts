// Seeded random Wan weights at PyTorch's default-init scale (every tensor non-trivial, activations of
// order one at any width): for tests of configs no checkpoint exists for, and for speed measurements.
import { sampleRng } from '../../diffusion/rng.js';
import { WanConfig, innerDim } from './config.js';
import { parameterShapes } from './graph.js';

export function randomWanWeights(c: WanConfig, seed = 1): Map<string, Float32Array> {
  const rng = sampleRng(seed, 0x3a4);
  const D = innerDim(c);
  const fanIn = new Map<string, number>();
  const shapes = parameterShapes(c);
  for (const [k, shape] of shapes) if (k.endsWith('.weight') && shape.length >= 2) fanIn.set(k.slice(0, -'.weight'.length), shape.slice(1).reduce((a, b) => a * b, 1));
  const w = new Map<string, Float32Array>();
  for (const [k, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    const module = k.replace(/\.(weight|bias)$/, '');
    const isNorm = /norm_[qk]\.weight$|norm2\.weight$/.test(k);
    // nn.Linear / Conv3d: U(±1/√fan_in) for weight and bias; norm gains near 1; scale_shift_table ~ 1/√D as diffusers inits it
    const bound = isNorm ? 0.2 : k.endsWith('scale_shift_table') ? D ** -0.5 : (fanIn.get(module) ?? D) ** -0.5;
    for (let i = 0; i < n; i++) a[i] = (isNorm ? 1 : 0) + bound * (2 * rng.uniform() - 1);
    w.set(k, a);
  }
  return w;
}
