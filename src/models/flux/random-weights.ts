// Seeded random FLUX weights at PyTorch's default-init scale, for speed and memory measurements at real
// width (no trained checkpoint needed). Each tensor is generated only when a graph asks for it, from a
// stream of its own, so a multi-GB model never sits in JS all at once and a tensor reads the same whenever
// it is generated (LazyWeights hands out a fresh array per request and keeps none).
import { Rng, sampleRng } from '../../diffusion/rng.js';
import { LazyWeights, type LazyTensor } from '../weights.js';
import type { FluxConfig } from './config.js';
import { parameterShapes } from './params.js';

/** RMSNorm gains (q/k norms) are drawn from 1 ± this, so they are not all exactly 1. */
const NORM_GAIN_SPREAD = 0.2;

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * nn.Linear's init bound 1/√fan_in for a weight and its bias (activations of order one at any width);
 * undefined for the q/k RMSNorm gains, which are drawn around 1 instead.
 */
function initBound(key: string, shapes: ReadonlyMap<string, number[]>): number | undefined {
  if (/\.norm_(added_)?[qk]\.weight$/.test(key)) return undefined;
  const module = key.replace(/\.(weight|bias)$/, '');
  const weight = shapes.get(`${module}.weight`);
  if (!weight || weight.length !== 2) throw new Error(`randomFluxWeights: no Linear weight for ${key}`);
  return weight[1] ** -0.5;
}

/**
 * a[i] = center + halfWidth · u, u uniform in [−1, 1): xoshiro128** (the algorithm of Rng) seeded from `rng`,
 * one 32-bit draw per value, with its state in locals. A FLUX double block holds 340M values; through
 * Rng.uniform (two draws, state in fields) they took 12.6 s to generate, which every compile would pay.
 */
function fillUniform(a: Float32Array, rng: Rng, center: number, halfWidth: number): Float32Array {
  let s0 = rng.nextUint32();
  let s1 = rng.nextUint32();
  let s2 = rng.nextUint32();
  let s3 = rng.nextUint32();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point
  const scale = halfWidth * 2 ** -31;
  for (let i = 0; i < a.length; i++) {
    const x = Math.imul(s1, 5);
    const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    a[i] = center + (r * scale - halfWidth);
  }
  return a;
}

/**
 * Random weights for every parameter of `c` (diffusers keys), tensor k drawn from sampleRng(seed, k):
 * uniform in ±1/√fan_in for Linears, 1 ± 0.2 for the q/k RMSNorm gains. Lazy: nothing is generated here.
 */
export function randomFluxWeights(c: FluxConfig, seed = 1): LazyWeights {
  const shapes = parameterShapes(c);
  const entries = new Map<string, LazyTensor>();
  let index = 0;
  for (const [key, shape] of shapes) {
    const stream = index++;
    const n = numel(shape);
    const bound = initBound(key, shapes);
    entries.set(key, {
      numel: n,
      load: () => fillUniform(new Float32Array(n), sampleRng(seed, stream), bound === undefined ? 1 : 0, bound ?? NORM_GAIN_SPREAD),
    });
  }
  return new LazyWeights(entries);
}
