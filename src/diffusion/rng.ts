// Seeded, platform-independent random numbers: xoshiro128** seeded by SplitMix64, normals by the
// Marsaglia polar method, and per-sample streams so sample k gets the same noise alone or in a batch.
import { DiffusionConfigError } from './errors.js';

const MASK64 = (1n << 64n) - 1n;
const GOLDEN64 = 0x9e3779b97f4a7c15n;

/** SplitMix64's output function: a bijective 64-bit mixer (Steele, Lea & Flood 2014). */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function seedToBigInt(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MASK64) throw new DiffusionConfigError(`rng: seed must be in [0, 2^64), got ${seed}`);
    return seed;
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new DiffusionConfigError(`rng: seed must be a non-negative safe integer (or a bigint), got ${seed}`);
  }
  return BigInt(seed);
}

const rotl32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * xoshiro128** (Blackman & Vigna). Only 32-bit integer ops plus Math.sqrt/Math.log, so a seed gives the
 * same stream on every platform Node runs on (V8 computes Math.log in software, fdlibm-derived).
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null; // the polar method makes normals in pairs

  constructor(seed: number | bigint) {
    // SplitMix64 expands the seed into 128 bits of state, as the xoshiro authors recommend.
    let z = seedToBigInt(seed);
    const words: number[] = [];
    for (let i = 0; i < 2; i++) {
      z = (z + GOLDEN64) & MASK64;
      const r = mix64(z);
      words.push(Number(r & 0xffffffffn), Number(r >> 32n));
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next raw 32-bit output as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl32(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl32(this.s3, 11);
    return result;
  }

  /** Uniform float64 in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal float64 (Marsaglia polar method: only log and sqrt, no trig). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      this.spare = v * f;
      return u * f;
    }
  }

  /** Fill `out` with standard normals (rounded to float32 when `out` is a Float32Array). */
  fillNormal<T extends Float32Array | Float64Array>(out: T): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }

  /** `count` standard normals as float32. */
  randn(count: number): Float32Array {
    return this.fillNormal(new Float32Array(checkCount('randn', count)));
  }
}

function checkCount(what: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new DiffusionConfigError(`${what}: count must be a non-negative integer, got ${n}`);
  return n;
}

function shapeSize(shape: readonly number[]): number {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 1) throw new DiffusionConfigError(`rng: shape [${shape.join(', ')}] must hold positive integers`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The generator of sample `sampleIndex` under `seed`: an independent stream per (seed, sampleIndex),
 * seeded with mix64(mix64(seed) + (sampleIndex + 1)·φ64). Draw all of one sample's randomness from it.
 */
export function sampleRng(seed: number | bigint, sampleIndex: number): Rng {
  if (!Number.isSafeInteger(sampleIndex) || sampleIndex < 0) {
    throw new DiffusionConfigError(`sampleRng: sampleIndex must be a non-negative integer, got ${sampleIndex}`);
  }
  const key = mix64(seedToBigInt(seed));
  return new Rng(mix64((key + BigInt(sampleIndex + 1) * GOLDEN64) & MASK64));
}

/** Initial noise of one sample, `shape` = that sample's shape (e.g. [C, H, W]); independent of batching. */
export function noiseForSample(seed: number | bigint, sampleIndex: number, shape: readonly number[]): Float32Array {
  return sampleRng(seed, sampleIndex).randn(shapeSize(shape));
}

/** Draws `count` standard normals for a tensor the size of x (e.g. DDIM's η-noise). */
export type NoiseSource = (count: number) => Float32Array;

/**
 * Batched noise from per-sample streams: each call draws count/B values from each sample's stream and
 * concatenates them in batch order ([B, ...]). The first call gives the initial noise of every sample
 * exactly as `noiseForSample` would; later calls (η-noise) stay batch-independent too.
 */
export function batchNoiseSource(seed: number | bigint, sampleIndices: readonly number[]): NoiseSource {
  const streams = sampleIndices.map((k) => sampleRng(seed, k));
  const batch = streams.length;
  if (batch === 0) throw new DiffusionConfigError('batchNoiseSource: sampleIndices is empty');
  return (count: number): Float32Array => {
    checkCount('batchNoiseSource', count);
    if (count % batch !== 0) {
      throw new DiffusionConfigError(`batchNoiseSource: count ${count} is not a multiple of the batch size ${batch}`);
    }
    const per = count / batch;
    const out = new Float32Array(count);
    streams.forEach((rng, b) => rng.fillNormal(out.subarray(b * per, (b + 1) * per)));
    return out;
  };
}
