// Cross-check of our FID and accuracy code on a third-party LeNet-5 (../shared/reference, skipped
// when absent): its README gives 99.08 % test accuracy and f6 Fréchet distance ≈ 7.2 train vs test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { featureStats, frechetDistance } from '../../src/eval/frechet.js';
import { LeNetReference, resizeBilinear } from '../../src/eval/lenet-reference.js';
import { loadMnist } from '../../src/train/mnist.js';

const REFERENCE = fileURLToPath(new URL('../../../shared/reference/lenet5_mnist_csinva.safetensors', import.meta.url));
const skip = existsSync(REFERENCE) ? false : `reference LeNet not found at ${REFERENCE}`;

test('resizeBilinear: half-pixel centres with edge clamping (PyTorch align_corners=False)', () => {
  // torch.nn.functional.interpolate([[0, 1], [2, 3]], scale_factor=2, mode='bilinear') rows:
  const out = resizeBilinear(new Float32Array([0, 1, 2, 3]), 1, 2, 2, 4, 4);
  assert.deepEqual(Array.from(out), [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  const flat = resizeBilinear(new Float32Array(28 * 28).fill(0.625), 1, 28, 28, 32, 32);
  assert.ok(flat.every((v) => v === 0.625), 'a constant image stays constant');
});

test('LeNet reference: ≥ 99.0 % on the MNIST test set; f6 Fréchet distance train vs test ≈ 7.2, noise ≫', { skip }, () => {
  const net = LeNetReference.load(REFERENCE);
  const testSet = loadMnist('test');
  const testOut = net.forward(testSet.images, testSet.n);
  let correct = 0;
  for (let i = 0; i < testSet.n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (testOut.logits[i * 10 + k] > testOut.logits[i * 10 + best]) best = k;
    if (best === testSet.labels[i]) correct++;
  }
  const accuracy = correct / testSet.n;
  assert.ok(accuracy >= 0.99, `accuracy ${(accuracy * 100).toFixed(2)} % (README: 99.08 %)`);

  const n = 5000;
  const trainSet = loadMnist('train');
  const trainF6 = net.forward(trainSet.images.subarray(0, n * 784), n).f6;
  const testStats = featureStats(testOut.f6.subarray(0, n * 84), n, 84);
  const realVsReal = frechetDistance(featureStats(trainF6, n, 84), testStats);
  assert.ok(realVsReal > 6 && realVsReal < 8.5, `train vs test Fréchet distance ${realVsReal} (README: ≈ 7.2)`);

  // Uniform noise images: the README measures ≈ 905 for its noise; any noise must be hundreds away.
  const m = 2000;
  let s = 12345;
  const noise = Float32Array.from({ length: m * 784 }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  });
  const noiseVsReal = frechetDistance(featureStats(net.forward(noise, m).f6, m, 84), testStats);
  assert.ok(noiseVsReal > 300, `noise vs test Fréchet distance ${noiseVsReal}`);
});
