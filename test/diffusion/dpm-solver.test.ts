// DPM-Solver++(2M) against the exact probability-flow map of Gaussian data: the distribution it
// samples, its second-order convergence, diffusers' order schedule, and its explicit memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiffusionConfigError,
  Rng,
  createDpmSolverState,
  createSampler,
  dpmSolverPlan,
  dpmSolverStep,
  linearBetaSchedule,
  logSnr,
  sampleLoop,
} from '../../src/diffusion/index.js';
import { assertMatchesGaussian, exactEpsModel, exactOdeMap, maxAbsDiff, threeDims } from './gaussian-data.js';

const schedule = linearBetaSchedule();
const data = threeDims;
const dims = data.mean.length;
const model = exactEpsModel(data, schedule);

describe('DPM-Solver++(2M) plan', () => {
  it('uses α = √ᾱ, σ = √(1 − ᾱ), λ = log(α/σ), ending at σ = 0', () => {
    const plan = dpmSolverPlan(schedule, 20);
    assert.equal(plan.timesteps[0], 999);
    assert.equal(plan.timesteps[19], 50);
    const a = schedule.alphasCumprod[999]!;
    assert.equal(plan.alphas[0], Math.sqrt(a));
    assert.equal(plan.sigmas[0], Math.sqrt(1 - a));
    assert.ok(Math.abs(plan.lambdas[0]! - Math.log(Math.sqrt(a) / Math.sqrt(1 - a))) < 1e-12);
    assert.equal(logSnr(1), Infinity);
    assert.deepEqual([plan.alphas[20], plan.sigmas[20], plan.lambdas[20]], [1, 0, Infinity]);
    assert.equal(plan.stepDistances[19], 51);
  });

  it('is first order on the first step and on the step to σ = 0, second order between', () => {
    assert.deepEqual(dpmSolverPlan(schedule, 5).orders, [1, 2, 2, 2, 1]);
    assert.deepEqual(dpmSolverPlan(schedule, 20).orders.slice(-2), [2, 1]); // σ = 0 forces it even at ≥ 15 steps
    // ending on ᾱ_0 instead: lowered only below 15 steps (diffusers' lower_order_final)
    assert.deepEqual(dpmSolverPlan(schedule, 10, { finalSigma: 'min' }).orders.slice(-2), [2, 1]);
    assert.deepEqual(dpmSolverPlan(schedule, 20, { finalSigma: 'min' }).orders.slice(-2), [2, 2]);
    assert.deepEqual(dpmSolverPlan(schedule, 10, { finalSigma: 'min', lowerOrderFinal: false }).orders.slice(-1), [2]);
    assert.deepEqual(dpmSolverPlan(schedule, 1).orders, [1]);
  });
});

describe('DPM-Solver++(2M) on Gaussian data', () => {
  it('20 steps from 3000 seeded noises give each dimension mean μ and std s', async () => {
    const batch = 3000;
    const x = await sampleLoop(createSampler(dpmSolverPlan(schedule, 20)), new Rng(6).randn(batch * dims), model);
    // the final jump returns E[x0 | x_t=50], shrinking the spread by ≈4 % of s
    assertMatchesGaussian(x, data, batch, 0.06);
  });

  it('converges to the exact ODE solution at second order', async () => {
    const noise = new Rng(12).randn(8 * dims);
    const errorWith = async (steps: number): Promise<number> => {
      // end on ᾱ_0 with a second-order last step, so no first-order step dominates the error
      const plan = dpmSolverPlan(schedule, steps, { finalSigma: 'min', lowerOrderFinal: false });
      const x = await sampleLoop(createSampler(plan), noise, model);
      return maxAbsDiff(x, exactOdeMap(data, noise, schedule.alphasCumprod[999]!, schedule.alphasCumprod[0]!));
    };
    const [e80, e160] = [await errorWith(80), await errorWith(160)];
    assert.ok(e80 < 0.05, `80 steps: error ${e80}`);
    assert.ok(e160 < e80 / 3, `doubling the steps should cut the error ~4× (second order): ${e80} → ${e160}`);
  });
});

describe('DPM-Solver++(2M) state', () => {
  const plan = dpmSolverPlan(schedule, 5);
  const x = new Rng(1).randn(4);

  it('one step by hand: first order, then the midpoint correction', () => {
    const state = createDpmSolverState();
    const eps0 = Float32Array.of(0.3, -0.2, 0.1, 0);
    const x1 = dpmSolverStep(plan, state, 0, x, eps0);
    const [a0, s0, a1, s1] = [plan.alphas[0]!, plan.sigmas[0]!, plan.alphas[1]!, plan.sigmas[1]!];
    const h0 = plan.lambdas[1]! - plan.lambdas[0]!;
    const m0 = Array.from(x, (xi, i) => (xi - s0 * eps0[i]!) / a0);
    x1.forEach((v, i) => assert.ok(Math.abs(v - ((s1 / s0) * x[i]! + a1 * (1 - Math.exp(-h0)) * m0[i]!)) < 1e-5));
    assert.equal(state.prevStepIndex, 0);
    const eps1 = Float32Array.of(0.1, 0.1, -0.4, 0.2);
    const x2 = dpmSolverStep(plan, state, 1, x1, eps1);
    const [a2, s2] = [plan.alphas[2]!, plan.sigmas[2]!];
    const h1 = plan.lambdas[2]! - plan.lambdas[1]!;
    const r = h0 / h1;
    x2.forEach((v, i) => {
      const m1 = (x1[i]! - s1 * eps1[i]!) / a1;
      const d = m1 + (m1 - m0[i]!) / (2 * r);
      assert.ok(Math.abs(v - ((s2 / s1) * x1[i]! + a2 * (1 - Math.exp(-h1)) * d)) < 1e-4 * Math.max(1, Math.abs(v)));
    });
  });

  it('refuses steps out of order or a state reused across requests', () => {
    const state = createDpmSolverState();
    assert.throws(() => dpmSolverStep(plan, state, 1, x, x), /steps must run in order/);
    dpmSolverStep(plan, state, 0, x, x);
    assert.throws(() => dpmSolverStep(plan, state, 0, x, x), DiffusionConfigError);
    assert.throws(() => dpmSolverStep(plan, state, 1, x, new Float32Array(3)), /expected 4 values/);
  });

  it('keeps separate samplers independent', async () => {
    const noise = new Rng(2).randn(dims * 4);
    const a = await sampleLoop(createSampler(plan), noise, model);
    const b = await sampleLoop(createSampler(plan), noise, model);
    assert.deepEqual(a, b);
  });
});
