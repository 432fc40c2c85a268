// Classifier-free guidance arithmetic and the learn_sigma channel split, with the shape errors callers see.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionShapeError, applyGuidance, epsChannels, guideLeadingChannels, splitLearnedSigma } from '../../src/diffusion/index.js';

describe('applyGuidance', () => {
  const cond = Float32Array.of(1, 2, -3);
  const uncond = Float32Array.of(0.5, 2, 1);

  it('is uncond + scale·(cond − uncond)', () => {
    assert.deepEqual(Array.from(applyGuidance(cond, uncond, 4)), [2.5, 2, -15]);
    assert.deepEqual(applyGuidance(cond, uncond, 1), cond);
    assert.deepEqual(applyGuidance(cond, uncond, 0), uncond);
  });

  it('rejects mismatched halves and a non-finite scale', () => {
    assert.throws(() => applyGuidance(cond, new Float32Array(2), 2), /cond has 3 values, uncond 2/);
    assert.throws(() => applyGuidance(cond, uncond, NaN), DiffusionShapeError);
  });
});

describe('learn_sigma split', () => {
  // [B=2, 2C=4, H=1, W=2]: value = 10·b + channel + 0.1·w
  const out = Float32Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 8) + (Math.floor(i / 2) % 4) + 0.1 * (i % 2));

  it('takes the first C channels as ε and the rest as variance, per sample', () => {
    const split = splitLearnedSigma(out, [2, 4, 1, 2]);
    assert.deepEqual(split.epsShape, [2, 2, 1, 2]);
    assert.deepEqual(Array.from(split.eps), Array.from(Float32Array.of(0, 0.1, 1, 1.1, 10, 10.1, 11, 11.1)));
    assert.deepEqual(Array.from(split.varianceChannels), Array.from(Float32Array.of(2, 2.1, 3, 3.1, 12, 12.1, 13, 13.1)));
    assert.deepEqual(epsChannels(out, [2, 4, 1, 2]), split.eps);
  });

  it('names the problem for odd channels, wrong sizes and bad shapes', () => {
    assert.throws(() => splitLearnedSigma(new Float32Array(12), [2, 3, 1, 2]), /channel count 3 of \[2, 3, 1, 2\] is odd/);
    assert.throws(() => splitLearnedSigma(out, [2, 4, 2, 2]), /holds 32 values, array has 16/);
    assert.throws(() => splitLearnedSigma(out, [2, 4, 2] as unknown as [number, number, number, number]), /4 positive integers/);
    assert.throws(() => epsChannels(out, [2, 0, 4, 2]), DiffusionShapeError);
  });
});

describe('guideLeadingChannels (DiT forward_with_cfg)', () => {
  it('guides the first k channels and keeps cond elsewhere', () => {
    const shape = [2, 4, 1, 1] as const;
    const cond = Float32Array.of(1, 1, 1, 1, 2, 2, 2, 2);
    const uncond = Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0);
    assert.deepEqual(Array.from(guideLeadingChannels(cond, uncond, 3, shape, 3)), [3, 3, 3, 1, 6, 6, 6, 2]);
    assert.deepEqual(Array.from(guideLeadingChannels(cond, uncond, 3, shape, 4)), [3, 3, 3, 3, 6, 6, 6, 6]);
    assert.throws(() => guideLeadingChannels(cond, uncond, 3, shape, 5), /channels must be an integer in \[0, 4\]/);
  });
});
