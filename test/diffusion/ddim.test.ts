// DDIM against closed forms: Gaussian data (exact ε, exact probability-flow map) and, with η = 1 on all
// 1000 steps, DDPM's ancestral posterior q(x_{t−1} | x_t, x0).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiffusionConfigError,
  DiffusionShapeError,
  Rng,
  batchNoiseSource,
  createSampler,
  ddimPlan,
  ddimStep,
  linearBetaSchedule,
  noiseForSample,
  sampleLoop,
} from '../../src/diffusion/index.js';
import { assertMatchesGaussian, exactEpsModel, exactOdeMap, maxAbsDiff, threeDims } from './gaussian-data.js';

const schedule = linearBetaSchedule();
const data = threeDims;
const dims = data.mean.length;
const model = exactEpsModel(data, schedule);

describe('DDIM plan', () => {
  it('lands each step on the next plan timestep and the last on ᾱ = 1', () => {
    const plan = ddimPlan(schedule, 50, { spacing: 'linspace' });
    assert.deepEqual(plan.prevTimesteps.slice(0, 2), [979, 958]);
    assert.equal(plan.prevTimesteps[49], -1);
    assert.equal(plan.alphasCumprodPrev[49], 1);
    assert.equal(plan.alphasCumprod[0], schedule.alphasCumprod[999]);
    assert.deepEqual(plan.stepDistances.slice(0, 2), [20, 21]);
    assert.equal(plan.stepDistances[49], 1); // t = 0 → "t = −1"
  });

  it("'step-ratio' reproduces diffusers' t − T // N, which agrees with 'next' for leading spacing", () => {
    const diffusersLike = ddimPlan(schedule, 50, { spacing: 'linspace', prevTimestep: 'step-ratio' });
    assert.deepEqual(diffusersLike.prevTimesteps.slice(0, 2), [979, 959]); // 999 − 20, 979 − 20
    const a = ddimPlan(schedule, 50, { spacing: 'leading', prevTimestep: 'step-ratio' });
    const b = ddimPlan(schedule, 50, { spacing: 'leading' });
    assert.deepEqual(a.prevTimesteps, b.prevTimesteps);
  });

  it('setAlphaToOne: false ends on ᾱ_0', () => {
    const plan = ddimPlan(schedule, 20, { setAlphaToOne: false });
    assert.equal(plan.alphasCumprodPrev[19], schedule.alphasCumprod[0]);
  });

  it('rejects bad options', () => {
    assert.throws(() => ddimPlan(schedule, 20, { eta: 1.5 }), /eta must be in \[0, 1\]/);
    assert.throws(() => ddimPlan(schedule, 20, { clipX0: 0 }), /clipX0 must be null/);
    assert.throws(() => ddimPlan(schedule, 2.5), DiffusionConfigError);
  });
});

describe('DDIM η = 0 on Gaussian data', () => {
  it('50 steps from 3000 seeded noises give each dimension mean μ and std s', async () => {
    const batch = 3000;
    const x = await sampleLoop(createSampler(ddimPlan(schedule, 50)), new Rng(5).randn(batch * dims), model);
    // DDIM's first-order bias at 50 steps shrinks the spread by ≈5 % of s
    assertMatchesGaussian(x, data, batch, 0.07);
  });

  it('is the probability-flow ODE: 1000 steps match the exact map, with first-order convergence', async () => {
    const noise = new Rng(9).randn(8 * dims);
    const errorWith = async (steps: number): Promise<number> => {
      const plan = ddimPlan(schedule, steps, { spacing: 'trailing' }); // starts at t = 999 for every N
      const x = await sampleLoop(createSampler(plan), noise, model);
      return maxAbsDiff(x, exactOdeMap(data, noise, schedule.alphasCumprod[999]!, 1));
    };
    const [e100, e1000] = [await errorWith(100), await errorWith(1000)];
    assert.ok(e1000 < 0.015, `1000-step DDIM is ${e1000} from the exact ODE solution`);
    assert.ok(e1000 < e100 / 6, `10× the steps should cut the error ~10× (first order): ${e100} → ${e1000}`);
  });
});

describe('DDIM η = 1 is the DDPM ancestral step', () => {
  it('matches the posterior mean and standard deviation at every one of the 1000 steps', () => {
    const plan = ddimPlan(schedule, 1000, { eta: 1 }); // leading with 1000 steps: 999, 998, …, 0
    const acp = schedule.alphasCumprod;
    const rng = new Rng(3);
    const [x, eps] = [rng.randn(6), rng.randn(6)];
    const zeros = (n: number): Float32Array => new Float32Array(n);
    const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
    for (let s = 0; s < 1000; s++) {
      const t = plan.timesteps[s]!;
      assert.equal(t, 999 - s);
      const [a, aPrev, beta] = [acp[t]!, t > 0 ? acp[t - 1]! : 1, schedule.betas[t]!];
      const mean = ddimStep(plan, s, x, eps, zeros);
      const withUnitNoise = ddimStep(plan, s, x, eps, ones);
      for (let i = 0; i < x.length; i++) {
        const x0 = (x[i]! - Math.sqrt(1 - a) * eps[i]!) / Math.sqrt(a);
        // μ̃_t = √ᾱ_{t−1}·β_t/(1 − ᾱ_t)·x0 + √(1 − β_t)·(1 − ᾱ_{t−1})/(1 − ᾱ_t)·x_t
        const posteriorMean = ((Math.sqrt(aPrev) * beta) / (1 - a)) * x0 + (Math.sqrt(1 - beta) * (1 - aPrev) / (1 - a)) * x[i]!;
        const posteriorStd = Math.sqrt(((1 - aPrev) / (1 - a)) * beta);
        const tol = 2e-6 * Math.max(1, Math.abs(posteriorMean));
        assert.ok(Math.abs(mean[i]! - posteriorMean) < tol, `t=${t}: DDIM mean ${mean[i]} vs posterior ${posteriorMean}`);
        assert.ok(Math.abs(withUnitNoise[i]! - mean[i]! - posteriorStd) < tol, `t=${t}: noise scale vs √β̃ = ${posteriorStd}`);
      }
    }
  });

  it('needs a noise source, and a sample gets the same result alone or in a batch', async () => {
    const plan = ddimPlan(schedule, 10, { eta: 1 });
    assert.throws(() => ddimStep(plan, 0, new Float32Array(3), new Float32Array(3)), /needs a noise source/);
    const run = (indices: number[]): Promise<Float32Array> => {
      const noise = batchNoiseSource(77, indices);
      return sampleLoop(createSampler(plan, { noise }), noise(indices.length * dims), model);
    };
    const batch = await run([0, 1, 2]);
    const alone = await run([1]);
    assert.deepEqual(batch.subarray(dims, 2 * dims), alone);
    assert.deepEqual((await run([1])).slice(), alone); // and deterministic
    assert.notDeepEqual(batch.subarray(0, dims), alone);
    assert.ok(noiseForSample(77, 1, [dims]).length === dims);
  });
});

describe('DDIM x0 clipping', () => {
  it('clamps the x0 prediction and re-derives ε from it', () => {
    const plan = ddimPlan(schedule, 10, { clipX0: 1 });
    const a = plan.alphasCumprod[9]!; // last step: lands on ᾱ = 1, so x' = x0
    const x = Float32Array.from([Math.sqrt(a) * 3, -Math.sqrt(a) * 3, Math.sqrt(a) * 0.5]);
    const last = ddimStep(plan, 9, x, new Float32Array(3));
    assert.deepEqual([last[0], last[1]], [1, -1]);
    assert.ok(Math.abs(last[2]! - 0.5) < 1e-6, 'values inside the bound are untouched');
    // an earlier step: x' = √a'·x0 + √(1−a')·ε', ε' = (x − √a·x0)/√(1 − a)
    const [a0, a1] = [plan.alphasCumprod[0]!, plan.alphasCumprodPrev[0]!];
    const xi = 2;
    const eps = -1; // x0 = (2 + √(1−a0)) / √a0 ≫ 1 → clipped to 1
    const epsClipped = (xi - Math.sqrt(a0)) / Math.sqrt(1 - a0);
    const out = ddimStep(plan, 0, Float32Array.of(xi), Float32Array.of(eps))[0]!;
    assert.ok(Math.abs(out - (Math.sqrt(a1) + Math.sqrt(1 - a1) * epsClipped)) < 1e-6);
  });

  it('is off by default', () => {
    const plan = ddimPlan(schedule, 10);
    const a = plan.alphasCumprod[9]!;
    assert.ok(Math.abs(ddimStep(plan, 9, Float32Array.of(Math.sqrt(a) * 3), new Float32Array(1))[0]! - 3) < 1e-6);
  });
});

describe('DDIM argument checks', () => {
  it('rejects a mismatched ε and a bad step index', () => {
    const plan = ddimPlan(schedule, 10);
    assert.throws(() => ddimStep(plan, 0, new Float32Array(4), new Float32Array(3)), DiffusionShapeError);
    assert.throws(() => ddimStep(plan, 10, new Float32Array(4), new Float32Array(4)), /stepIndex must be an integer in \[0, 9\]/);
  });
});
