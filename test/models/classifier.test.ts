// The shipped metric classifier meets its accuracy target, and its features give a small Fréchet
// distance between real train and test images but a large one for noise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MnistReference, loadClassifier } from '../../src/eval/metrics.js';
import { loadMnist } from '../../src/train/mnist.js';
import { sampleRng } from '../../src/diffusion/rng.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../models/mnist-classifier');

describe('shipped metric classifier', () => {
  it('classifies the MNIST test set with ≥ 99.0 % accuracy; FID floor small, noise large', async () => {
    const clf = await loadClassifier(dir, 1);
    const test = loadMnist('test');
    const { predicted } = await clf.run(test.images, test.n);
    let correct = 0;
    for (let i = 0; i < test.n; i++) if (predicted[i] === test.labels[i]) correct++;
    assert.ok(correct / test.n >= 0.99, `accuracy ${(100 * correct) / test.n} %`);
    const ref = new MnistReference(clf);
    const floor = await ref.fidReal(2000);
    const rng = sampleRng(1, 0);
    const noise = Float32Array.from({ length: 200 * 784 }, () => rng.uniform());
    const m = await ref.evaluate(noise, new Array(200).fill(0), 200);
    assert.ok(floor < m.fid / 20, `real-vs-real FID ${floor} should be far below noise FID ${m.fid}`);
    await clf.release();
  });
});
