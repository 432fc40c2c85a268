// Ancestral DDPM as DiT samples: one step worked by hand, the learned-range variance at its ends, DiT's
// respacing, and the distribution it samples on Gaussian data, where every step is linear-Gaussian and the
// output moments are known in closed form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiffusionConfigError,
  DiffusionShapeError,
  NoiseSource,
  batchNoiseSource,
  createPlan,
  createSampler,
  ddpmLogVariance,
  ddpmPlan,
  ddpmStep,
  ditSpaceTimesteps,
  linearBetaSchedule,
  readsVarianceChannels,
  sampleLoop,
  scheduleFromBetas,
  spaceTimesteps,
} from '../../src/diffusion/index.js';
import type { DdpmSchedule, DdpmVariance } from '../../src/diffusion/index.js';
import { GaussianData, assertMatchesGaussian, exactEps, momentsPerDim, threeDims } from './gaussian-data.js';

const schedule = linearBetaSchedule();
const fixedNoise =
  (values: number[]): NoiseSource =>
  (count) => {
    assert.equal(count, values.length);
    return Float32Array.from(values);
  };
const neverCalled: NoiseSource = () => assert.fail('no noise may be drawn on the last step');

describe('DDPM step by hand', () => {
  // β = 0.1, 0.2, 0.3, 0.4 → ᾱ = 0.9, 0.72, 0.504, 0.3024. Two steps visit t = 3, then t = 0.
  const tiny = scheduleFromBetas(Float64Array.of(0.1, 0.2, 0.3, 0.4));
  const plan = ddpmPlan(tiny, 2, { variance: 'learned-range' });

  it('respaces the chain: β = 1 − ᾱ_3/ᾱ_0 = 0.664, β̃ = β·(1 − 0.9)/(1 − 0.3024), landing on ᾱ = 1', () => {
    assert.deepEqual(plan.timesteps, [3, 0]);
    assert.deepEqual(plan.stepDistances, [3, 1]);
    assert.deepEqual(Array.from(plan.alphasCumprodPrev), [0.9, 1]);
    assert.ok(Math.abs(plan.betas[0]! - 0.664) < 1e-15);
    assert.ok(Math.abs(plan.posteriorVariances[0]! - 0.09518348623853207) < 1e-15); // 0.0664 / 0.6976
    assert.ok(Math.abs(plan.betas[1]! - 0.1) < 1e-15); // 1 − ᾱ_0 / 1
    assert.equal(plan.posteriorVariances[1], 0);
  });

  it('step 0 with v = 0 and v = 1 on the two values', () => {
    // x = (1, −0.5), ε = (0.5, 0.2), v = (0, 1), z = (1, −2):
    //   x0 = (x − √0.6976·ε)/√0.3024 = (1.0590618653694166, −1.2130094306221761)
    //   μ = β√0.9/0.6976·x0 + 0.1·√0.336/0.6976·x = 0.9029898364471632·x0 + 0.08309275657218715·x
    //   σ = (β·β̃)^¼ = 0.5013977972811445 for v = 0;  √β = 0.8148619514985345 for v = 1
    const out = ddpmStep(plan, 0, Float32Array.of(1, -0.5), Float32Array.of(0.5, 0.2, 0, 1), { noise: fixedNoise([1, -2]), batchSize: 1 });
    assert.ok(Math.abs(out[0]! - 1.5408126544506888) < 1e-6, `${out[0]}`);
    assert.ok(Math.abs(out[1]! - -2.766605468649548) < 1e-6, `${out[1]}`);
  });

  it('the last step returns x0 and draws no noise', () => {
    // ᾱ = 0.9 → 1: μ = x0 = (x − √0.1·ε)/√0.9
    const out = ddpmStep(plan, 1, Float32Array.of(1, -0.5), Float32Array.of(0.5, 0.2, 7, -7), { noise: neverCalled, batchSize: 1 });
    assert.ok(Math.abs(out[0]! - 0.8874258867227931) < 1e-6);
    assert.ok(Math.abs(out[1]! - -0.5937129433613966) < 1e-6);
  });

  it('clipX0 clamps x0 and the posterior mean uses the clamped x0 (ε is not re-derived)', () => {
    const clipped = ddpmPlan(tiny, 2, { variance: 'fixed-small', clipX0: 1 });
    const x0Of3 = Math.sqrt(0.3024) * 3; // x with ε = 0 whose x0 is 3 at t = 3
    const first = ddpmStep(clipped, 0, Float32Array.of(x0Of3), Float32Array.of(0), { noise: fixedNoise([0]) });
    assert.ok(Math.abs(first[0]! - (0.9029898364471632 * 1 + 0.08309275657218715 * x0Of3)) < 1e-6);
    const last = ddpmStep(clipped, 1, Float32Array.of(Math.sqrt(0.9) * -3), Float32Array.of(0));
    assert.equal(last[0], -1);
  });
});

describe('DDPM variance', () => {
  const plan = ddpmPlan(schedule, 250, { variance: 'learned-range' });
  const hand = (s: number): { beta: number; betaTilde: number } => {
    const [a, aPrev] = [schedule.alphasCumprod[plan.timesteps[s]!]!, schedule.alphasCumprod[plan.timesteps[s + 1]!]!];
    const beta = 1 - a / aPrev;
    return { beta, betaTilde: (beta * (1 - aPrev)) / (1 - a) };
  };

  it('v = +1 gives log β and v = −1 gives log β̃, exactly', () => {
    for (const s of [0, 1, 100, 248]) {
      const { beta, betaTilde } = hand(s);
      assert.equal(plan.betas[s], beta);
      assert.equal(ddpmLogVariance(plan, s, 1), Math.log(beta));
      assert.equal(ddpmLogVariance(plan, s, -1), Math.log(betaTilde));
      // v = 0 is the geometric mean
      assert.ok(Math.abs(ddpmLogVariance(plan, s, 0) - 0.5 * (Math.log(beta) + Math.log(betaTilde))) < 1e-14);
      assert.equal(ddpmLogVariance(ddpmPlan(schedule, 250, { variance: 'fixed-large' }), s, 0.3), Math.log(beta));
      assert.equal(ddpmLogVariance(ddpmPlan(schedule, 250, { variance: 'fixed-small' }), s, 0.3), Math.log(betaTilde));
    }
  });

  it('the step adds σ·z with σ² = β for v = +1 and β̃ for v = −1', () => {
    const s = 100;
    const { beta, betaTilde } = hand(s);
    // x = ε = 0 makes the mean 0, so the output is σ·1 for each value: [ε ε ‖ v v] = [0 0 ‖ 1 −1]
    const out = ddpmStep(plan, s, new Float32Array(2), Float32Array.of(0, 0, 1, -1), { noise: fixedNoise([1, 1]), batchSize: 1 });
    assert.equal(out[0], Math.fround(Math.exp(0.5 * Math.log(beta))));
    assert.equal(out[1], Math.fround(Math.exp(0.5 * Math.log(betaTilde))));
    assert.ok(Math.abs(out[0]! / Math.sqrt(beta) - 1) < 1e-7 && Math.abs(out[1]! / Math.sqrt(betaTilde) - 1) < 1e-7);
  });

  it('β of the respaced chain reproduces the kept ᾱ as a running product (SpacedDiffusion)', () => {
    let prod = 1;
    for (let s = plan.steps - 1; s >= 0; s--) {
      prod *= 1 - plan.betas[s]!;
      assert.ok(Math.abs(prod / plan.alphasCumprod[s]! - 1) < 1e-12, `step ${s}`);
    }
  });

  it("the last step lands on ᾱ = 1 with β̃ = 0, and log β̃ is clipped to the neighbour's there (DiT)", () => {
    const last = plan.steps - 1;
    assert.equal(plan.timesteps[last], 0);
    assert.equal(plan.alphasCumprodPrev[last], 1);
    assert.equal(plan.stepDistances[last], 1);
    assert.equal(plan.posteriorVariances[last], 0);
    assert.equal(plan.logVarianceMin[last], plan.logVarianceMin[last - 1]);
    assert.equal(plan.meanCoefXt[last], 0);
    assert.ok(Math.abs(plan.meanCoefX0[last]! - 1) < 1e-12);
  });

  it('only learned-range reads the variance channels', () => {
    const kinds: DdpmVariance[] = ['learned-range', 'fixed-small', 'fixed-large'];
    assert.deepEqual(
      kinds.map((variance) => readsVarianceChannels(createPlan({ kind: 'ddpm', steps: 10, variance }))),
      [true, false, false],
    );
    assert.equal(readsVarianceChannels(createPlan({ kind: 'ddim', steps: 10 })), false);
  });
});

/** improved-diffusion's space_timesteps(T, [N]) as written in Python: accumulate the stride, round half to even. */
function referenceSpaceTimesteps(trainSteps: number, steps: number): number[] {
  const stride = steps <= 1 ? 1 : (trainSteps - 1) / (steps - 1);
  const pythonRound = (x: number): number => {
    const floor = Math.floor(x);
    const frac = x - floor;
    return frac > 0.5 ? floor + 1 : frac < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1;
  };
  const taken: number[] = [];
  let cur = 0;
  for (let k = 0; k < steps; k++) {
    taken.push(pythonRound(cur));
    cur += stride;
  }
  return [...new Set(taken)].sort((p, q) => q - p);
}

describe("DiT's respacing", () => {
  it('reproduces space_timesteps(1000, [N]) for N = 250, 50, 20', () => {
    for (const n of [250, 50, 20]) {
      const plan = createPlan({ kind: 'ddpm', steps: n, variance: 'learned-range' }); // spacing 'dit' by default
      assert.deepEqual(plan.timesteps, referenceSpaceTimesteps(1000, n), `N = ${n}`);
    }
    // stride 999/249 = 4.01205: 0, 4, 8, …; 41·stride = 164.49 → 164, 42·stride = 168.506 → 169
    const t250 = ditSpaceTimesteps(1000, 250);
    assert.deepEqual(t250.slice(0, 4), [999, 995, 991, 987]);
    assert.deepEqual(t250.slice(-3), [8, 4, 0]);
    assert.deepEqual(t250.slice(249 - 42, 249 - 40), [169, 164]);
    // stride 999/49 = 20.388: 999, 978.6, 958.2, 937.8 …
    assert.deepEqual(ditSpaceTimesteps(1000, 50).slice(0, 4), [999, 979, 958, 938]);
    assert.deepEqual(ditSpaceTimesteps(1000, 20), [999, 946, 894, 841, 789, 736, 684, 631, 578, 526, 473, 421, 368, 315, 263, 210, 158, 105, 53, 0]);
  });

  it("differs from numpy 'linspace' where the stride accumulates off an exact .5 tie", () => {
    // 10 · (999/20) is 499.5 exactly; accumulated it is just below: DiT takes 499, linspace's tie goes to even 500
    assert.equal(ditSpaceTimesteps(1000, 21)[10], 499);
    assert.equal(spaceTimesteps(1000, 21, 'linspace')[10], 500);
    // 15 · (999/30) = 499.5, accumulated just above → 500; linspace 499
    assert.equal(ditSpaceTimesteps(1000, 31)[15], 500);
    assert.equal(spaceTimesteps(1000, 31, 'linspace')[15], 499);
    for (const n of [1, 2, 21, 31, 999, 1000]) assert.deepEqual(ditSpaceTimesteps(1000, n), referenceSpaceTimesteps(1000, n), `N = ${n}`);
  });

  it('other spacings and stepsOffset as diffusers lays them out', () => {
    assert.deepEqual(ddpmPlan(schedule, 20, { variance: 'fixed-small', spacing: 'leading', stepsOffset: 1 }).timesteps.slice(-2), [51, 1]);
    const trailing = ddpmPlan(schedule, 20, { variance: 'fixed-small', spacing: 'trailing' });
    assert.equal(trailing.stepDistances[19], 50); // t = 49 lands on "t = −1"
    assert.throws(() => ditSpaceTimesteps(1000, 1001), /steps must be an integer in \[1, 1000\], got 1001/);
  });
});

/** Values per sample dimension d of the Gaussian data at step s of a plan over `timesteps`. */
function stepConstants(sch: DdpmSchedule, timesteps: readonly number[], s: number, std: number) {
  const a = sch.alphasCumprod[timesteps[s]!]!;
  const aPrev = s + 1 < timesteps.length ? sch.alphasCumprod[timesteps[s + 1]!]! : 1;
  const beta = 1 - a / aPrev;
  const betaTilde = (beta * (1 - aPrev)) / (1 - a);
  const coefX0 = (beta * Math.sqrt(aPrev)) / (1 - a);
  const coefXt = ((1 - aPrev) * Math.sqrt(1 - beta)) / (1 - a);
  const x0PosteriorVar = (std * std * (1 - a)) / (a * std * std + 1 - a); // Var[x0 | x_t]
  return { a, beta, betaTilde, coefX0, coefXt, exactVar: betaTilde + coefX0 * coefX0 * x0PosteriorVar };
}

/**
 * ε ‖ v for Gaussian data: the exact ε and the variance channel v that makes σ² the exact reverse variance
 * Var[x_{t'} | x_t] = β̃ + coefX0²·Var[x0 | x_t] (may fall outside [β̃, β], i.e. |v| > 1, as DiT allows).
 */
function exactLearnedModel(data: GaussianData, timesteps: readonly number[]) {
  const dims = data.mean.length;
  return async (x: Float32Array, s: number, tModel: number): Promise<Float32Array> => {
    const eps = exactEps(data, schedule, x, tModel);
    const rows = x.length / dims;
    const out = new Float32Array(2 * x.length);
    for (let b = 0; b < rows; b++) {
      out.set(eps.subarray(b * dims, (b + 1) * dims), 2 * b * dims);
      for (let d = 0; d < dims; d++) {
        const c = stepConstants(schedule, timesteps, s, data.std[d]!);
        const lastStep = s === timesteps.length - 1; // no noise there, v unused
        const v = lastStep ? 0 : (2 * (Math.log(c.exactVar) - Math.log(c.betaTilde))) / (Math.log(c.beta) - Math.log(c.betaTilde)) - 1;
        out[(2 * b + 1) * dims + d] = v;
      }
    }
    return out;
  };
}

/**
 * Closed-form output moments per dimension: with the exact ε, x0 = A·x + B is affine, so each step maps
 * (mean m, variance V) to (coefX0·(A·m + B) + coefXt·m, (coefX0·A + coefXt)²·V + σ²), from N(0, 1) noise.
 */
function predictedMoments(data: GaussianData, timesteps: readonly number[], variance: 'fixed-small' | 'fixed-large'): { mean: number[]; std: number[] } {
  const mean: number[] = [];
  const std: number[] = [];
  data.mean.forEach((mu, d) => {
    const s = data.std[d]!;
    let [m, v] = [0, 1];
    timesteps.forEach((_, k) => {
      const c = stepConstants(schedule, timesteps, k, s);
      const g = Math.sqrt(1 - c.a) / (c.a * s * s + 1 - c.a); // ε* = g·(x − √a·μ)
      const slope = (1 - Math.sqrt(1 - c.a) * g) / Math.sqrt(c.a);
      const offset = Math.sqrt(1 - c.a) * g * mu;
      const noiseVar = k === timesteps.length - 1 ? 0 : variance === 'fixed-small' ? c.betaTilde : c.beta;
      m = c.coefX0 * (slope * m + offset) + c.coefXt * m;
      v = (c.coefX0 * slope + c.coefXt) ** 2 * v + noiseVar;
    });
    mean.push(m);
    std.push(Math.sqrt(v));
  });
  return { mean, std };
}

describe('DDPM on Gaussian data', () => {
  const data = threeDims;
  const dims = data.mean.length;
  const batch = 4000;
  const indices = Array.from({ length: batch }, (_, k) => k);

  it('learned-range with the exact reverse variance samples N(μ, s²) at 10 and at 250 steps', async () => {
    for (const steps of [10, 250]) {
      const plan = ddpmPlan(schedule, steps, { variance: 'learned-range' });
      const noise = batchNoiseSource(31, indices);
      const x = await sampleLoop(createSampler(plan, { noise, batchSize: batch }), noise(batch * dims), exactLearnedModel(data, plan.timesteps));
      // every step is the exact reverse kernel; only the noiseless last step (x0 = E[x0 | x_0]) narrows the
      // spread, by Var[x0 | x_0]/(2s²) ≤ 2e-4 of s: 4 standard errors + 0.3 % of s
      assertMatchesGaussian(x, data, batch, 0.003);
    }
  });

  it('fixed-small and fixed-large at 10 steps follow the closed-form moments (fixed-small 25–35 % too narrow)', async () => {
    for (const variance of ['fixed-small', 'fixed-large'] as const) {
      const plan = ddpmPlan(schedule, 10, { variance });
      const noise = batchNoiseSource(32, indices);
      const x = await sampleLoop(createSampler(plan, { noise }), noise(batch * dims), async (xt, _s, t) => exactEps(data, schedule, xt, t));
      const got = momentsPerDim(x, dims);
      const want = predictedMoments(data, plan.timesteps, variance);
      for (let d = 0; d < dims; d++) {
        const sd = want.std[d]!;
        assert.ok(Math.abs(got.mean[d]! - want.mean[d]!) < (4 * sd) / Math.sqrt(batch), `${variance} dim ${d}: mean ${got.mean[d]} vs ${want.mean[d]}`);
        assert.ok(Math.abs(got.std[d]! - sd) < (4 * sd) / Math.sqrt(2 * batch), `${variance} dim ${d}: std ${got.std[d]} vs ${sd}`);
      }
      if (variance === 'fixed-small') want.std.forEach((sd, d) => assert.ok(sd < 0.8 * data.std[d]!, `fixed-small at 10 steps narrows dim ${d}`));
    }
  });

  it('gives a sample the same result alone or in a batch', async () => {
    const plan = ddpmPlan(schedule, 8, { variance: 'learned-range' });
    const run = (sampleIndices: number[]): Promise<Float32Array> => {
      const noise = batchNoiseSource(5, sampleIndices);
      const sampler = createSampler(plan, { noise, batchSize: sampleIndices.length });
      return sampleLoop(sampler, noise(sampleIndices.length * dims), exactLearnedModel(data, plan.timesteps));
    };
    const together = await run([0, 1, 2]);
    const alone = await run([1]);
    assert.deepEqual(together.subarray(dims, 2 * dims), alone);
    assert.notDeepEqual(together.subarray(0, dims), alone);
  });
});

describe('DDPM argument checks', () => {
  const learned = ddpmPlan(schedule, 4, { variance: 'learned-range' });
  const fixed = ddpmPlan(schedule, 4, { variance: 'fixed-large' });
  const noise = fixedNoise([0, 0]);

  it('names what the sampler needs', () => {
    assert.throws(() => createSampler(fixed), /pass SamplerOptions.noise/);
    assert.throws(() => createSampler(learned, { noise }), /needs SamplerOptions.batchSize/);
    assert.throws(() => ddpmStep(fixed, 0, new Float32Array(2), new Float32Array(2)), /needs a noise source/);
    assert.throws(() => ddpmStep(learned, 0, new Float32Array(2), new Float32Array(4), { noise }), /needs batchSize/);
    assert.ok(createSampler(ddpmPlan(schedule, 1, { variance: 'fixed-small' })), 'a one-step plan draws no noise');
  });

  it('rejects model outputs and batch sizes that do not fit x', () => {
    assert.throws(() => ddpmStep(learned, 0, new Float32Array(2), new Float32Array(2), { noise, batchSize: 1 }), /\[B, 2C, H, W\] = ε ‖ variance channels, 4 values for x of 2; got 2/);
    assert.throws(() => ddpmStep(fixed, 0, new Float32Array(2), new Float32Array(4), { noise }), DiffusionShapeError);
    assert.throws(() => ddpmStep(learned, 0, new Float32Array(2), new Float32Array(4), { noise, batchSize: 3 }), /batchSize must be a positive integer dividing/);
    const sampler = createSampler(learned, { noise: batchNoiseSource(1, [0]), batchSize: 1 });
    return assert.rejects(sampleLoop(sampler, new Float32Array(2), async (x) => x), /expected 4 values \(ε ‖ variance channels, twice the size of x\), got 2/);
  });

  it('rejects bad plan options', () => {
    assert.throws(() => ddpmPlan(schedule, 10, { variance: 'learned' as DdpmVariance }), /variance must be one of learned-range, fixed-small, fixed-large, got learned/);
    assert.throws(() => ddpmPlan(schedule, 10, { variance: 'fixed-small', clipX0: -1 }), /clipX0 must be null/);
    assert.throws(() => ddpmPlan(schedule, 0, { variance: 'fixed-small' }), DiffusionConfigError);
    assert.throws(() => ddpmStep(fixed, 4, new Float32Array(2), new Float32Array(2)), /stepIndex must be an integer in \[0, 3\]/);
  });
});
