// Flow-matching Euler: exact on straight-line flows for any step count and shift, and convergent on
// Gaussian data with the exact velocity field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionConfigError, Rng, createPlan, createSampler, flowEulerStep, flowMatchPlan, sampleLoop, shiftSigma } from '../../src/diffusion/index.js';
import { maxAbsDiff } from './gaussian-data.js';

describe('flow-matching plan', () => {
  it('spaces σ linearly from 1 to 0 and passes σ·1000 as the model timestep', () => {
    const plan = flowMatchPlan(4);
    assert.deepEqual(Array.from(plan.sigmas), [1, 0.75, 0.5, 0.25, 0]);
    assert.deepEqual(plan.timesteps, [1000, 750, 500, 250]);
    assert.deepEqual(plan.stepDistances, [250, 250, 250, 250]);
    assert.deepEqual(flowMatchPlan(2, { timestepScale: 1 }).timesteps, [1, 0.5]);
  });

  it('shift s maps σ to s·σ/(1 + (s−1)·σ), keeping the ends', () => {
    assert.equal(shiftSigma(0.5, 3), 0.75);
    assert.equal(shiftSigma(0.25, 3), 0.5);
    assert.equal(shiftSigma(0.5, 1), 0.5);
    const plan = flowMatchPlan(4, { shift: 3 });
    assert.deepEqual(Array.from(plan.sigmas), [1, 0.9, 0.75, 0.5, 0]); // 2.25/2.5, 1.5/2, 0.75/1.5
  });

  it('rejects bad options', () => {
    assert.throws(() => flowMatchPlan(4, { shift: 0 }), /shift must be a positive number/);
    assert.throws(() => flowMatchPlan(4, { timestepScale: -1 }), DiffusionConfigError);
    assert.throws(() => flowMatchPlan(0), /steps must be a positive integer/);
  });
});

describe('flow-matching Euler', () => {
  const rng = new Rng(4);
  const [x0, noise] = [rng.randn(12), rng.randn(12)];
  // The model knows x0 and reads σ from the timestep it is given: v(x, σ) = (x − x0)/σ, which is ε − x0
  // on the straight line x_σ = (1 − σ)·x0 + σ·ε. A wrong σ or timestep leaves the line.
  const lineModel = (timestepScale: number) => async (x: Float32Array, _s: number, t: number) =>
    Float32Array.from(x, (xi, i) => (xi - x0[i]!) / (t / timestepScale));

  for (const steps of [1, 3, 7, 28]) {
    for (const shift of [1, 3]) {
      it(`is exact on a straight-line flow with ${steps} steps, shift ${shift}`, async () => {
        const plan = createPlan({ kind: 'flow-euler', steps, shift, timestepScale: 500 });
        const x = await sampleLoop(createSampler(plan), noise, lineModel(500));
        assert.ok(maxAbsDiff(x, x0) < 1e-5, `ended ${maxAbsDiff(x, x0)} from x0`);
      });
    }
  }

  it('follows the exact transport of Gaussian data (x_end = μ + s·noise)', async () => {
    const [mu, s] = [0.8, 0.4];
    // x_σ ~ N((1−σ)μ, V), V = (1−σ)²s² + σ²;  v = E[ε − x0 | x] = (σ − (1−σ)s²)·(x − (1−σ)μ)/V − μ
    const model = async (x: Float32Array, _s: number, t: number) => {
      const sigma = t / 1000;
      const v = (1 - sigma) ** 2 * s * s + sigma * sigma;
      return Float32Array.from(x, (xi) => ((sigma - (1 - sigma) * s * s) * (xi - (1 - sigma) * mu)) / v - mu);
    };
    const exact = Float64Array.from(noise, (z) => mu + s * z);
    const errorWith = async (steps: number): Promise<number> =>
      maxAbsDiff(await sampleLoop(createSampler(flowMatchPlan(steps, { shift: 3 })), noise, model), exact);
    const [e100, e400] = [await errorWith(100), await errorWith(400)];
    assert.ok(e400 < 0.01, `400 Euler steps ended ${e400} from the exact map`);
    assert.ok(e400 < e100 / 3, `4× the steps should cut the error ~4× (first order): ${e100} → ${e400}`);
  });

  it('rejects a velocity of the wrong size', () => {
    assert.throws(() => flowEulerStep(flowMatchPlan(2), 0, new Float32Array(3), new Float32Array(2)), /velocity: expected 3 values/);
  });
});
