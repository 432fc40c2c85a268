// Seeded RNG: pinned outputs (so a seed means the same noise on every machine and release), moments,
// and per-sample streams that make sample k's noise independent of batching.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionConfigError, Rng, batchNoiseSource, noiseForSample, sampleRng } from '../../src/diffusion/index.js';

describe('Rng (xoshiro128** seeded by SplitMix64)', () => {
  it('reproduces values from an independent Python implementation of the same algorithm', () => {
    const raw = new Rng(42);
    assert.deepEqual([raw.nextUint32(), raw.nextUint32(), raw.nextUint32(), raw.nextUint32()], [1776835114, 4165204688, 17111135, 2317295270]);
    const normals = new Rng(42);
    const expected = [1.0873020675225118, 1.3373747636261168, 0.7409935464462171, 0.5294255135865079];
    for (const e of expected) assert.ok(Math.abs(normals.normal() - e) < 1e-15, 'polar-method normals drifted');
    assert.equal(new Rng(0).uniform(), 0.870254774404272);
  });

  it('accepts bigint seeds equal to number seeds and rejects invalid seeds', () => {
    assert.deepEqual(new Rng(123n).randn(8), new Rng(123).randn(8));
    assert.throws(() => new Rng(-1), DiffusionConfigError);
    assert.throws(() => new Rng(1.5), DiffusionConfigError);
    assert.throws(() => new Rng(2n ** 64n), DiffusionConfigError);
  });

  it('is deterministic per seed and differs between seeds', () => {
    assert.deepEqual(new Rng(7).randn(100), new Rng(7).randn(100));
    assert.notDeepEqual(new Rng(7).randn(100), new Rng(8).randn(100));
  });

  it('has uniform mean 1/2 and normal mean 0, std 1, over 1e5 draws', () => {
    const n = 100_000;
    const rng = new Rng(2024);
    let u = 0;
    for (let i = 0; i < n; i++) u += rng.uniform();
    assert.ok(Math.abs(u / n - 0.5) < 0.005, `uniform mean ${u / n}`);
    const z = rng.randn(n);
    let sum = 0;
    let sq = 0;
    for (const v of z) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    assert.ok(Math.abs(mean) < 0.015, `normal mean ${mean} (4 standard errors = 0.013)`);
    assert.ok(Math.abs(std - 1) < 0.01, `normal std ${std}`);
  });
});

describe('per-sample noise streams', () => {
  it('pins the stream of (seed 2024, sample 7)', () => {
    const rng = sampleRng(2024, 7);
    const expected = [-0.024170756297416007, 1.069594574160267, -1.0027735381595493];
    for (const e of expected) assert.ok(Math.abs(rng.normal() - e) < 1e-15);
  });

  it('gives each sample of a batch the noise it gets alone, on every draw', () => {
    const shape = [2, 3, 3];
    const source = batchNoiseSource(11, [4, 0, 9]);
    const first = source(3 * 18);
    for (const [b, k] of [4, 0, 9].entries()) {
      assert.deepEqual(first.subarray(b * 18, (b + 1) * 18), noiseForSample(11, k, shape), `sample ${k}`);
    }
    // a later draw (e.g. DDIM η-noise) continues each sample's own stream
    const second = source(3 * 18);
    const alone = sampleRng(11, 9);
    alone.randn(18);
    assert.deepEqual(second.subarray(36, 54), alone.randn(18));
  });

  it('separates samples and seeds', () => {
    assert.notDeepEqual(noiseForSample(1, 0, [16]), noiseForSample(1, 1, [16]));
    assert.notDeepEqual(noiseForSample(1, 0, [16]), noiseForSample(2, 0, [16]));
    assert.notDeepEqual(noiseForSample(1, 0, [16]), new Rng(1).randn(16));
  });

  it('rejects bad sample indices, shapes and batch sizes', () => {
    assert.throws(() => noiseForSample(1, -1, [4]), /sampleIndex must be a non-negative integer/);
    assert.throws(() => noiseForSample(1, 0, [4, 0]), /positive integers/);
    assert.throws(() => batchNoiseSource(1, [0, 1])(5), /not a multiple of the batch size 2/);
    assert.throws(() => batchNoiseSource(1, []), DiffusionConfigError);
  });
});
