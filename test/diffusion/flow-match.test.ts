// FlowMatchEulerDiscreteScheduler's σ list and step, as SD3's and FLUX's pipelines set it: against values worked
// by hand, against a reference written here from diffusers' source (numpy float64 / float32 arrays), and as a
// sampler on Gaussian data with the exact velocity.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiffusionConfigError,
  calculateShift,
  createPlan,
  createSampler,
  flowMatchEulerSchedule,
  flowMatchEulerStepF32,
  sampleLoop,
  Rng,
} from '../../src/diffusion/index.js';
import type { FlowMatchEulerSettings, FlowSigmaSource } from '../../src/diffusion/index.js';
import { maxAbsDiff } from './gaussian-data.js';

const f32 = Math.fround;
const SD3: FlowMatchEulerSettings = { trainSteps: 1000, shift: 3, useDynamicShifting: false, timeShiftType: 'exponential' };
const FLUX_DEV: FlowMatchEulerSettings = { trainSteps: 1000, shift: 3, useDynamicShifting: true, timeShiftType: 'exponential' };
const SCHNELL: FlowMatchEulerSettings = { ...FLUX_DEV, shift: 1, useDynamicShifting: false };

/**
 * diffusers' set_timesteps, transcribed array by array: numpy float64 arrays as number[], numpy/torch float32
 * arrays as Float32Array (each elementwise op stored, i.e. rounded, as float32 arithmetic does).
 */
function reference(s: FlowMatchEulerSettings, n: number, source: FlowSigmaSource, mu = NaN): { sigmas: number[]; timesteps: number[] } {
  const T = s.trainSteps;
  // numpy.linspace: k·step + start, the last value set to stop; one value is just start
  const npLinspace = (a: number, b: number, num: number): number[] =>
    num === 1 ? [a] : Array.from({ length: num }, (_, k) => (k === num - 1 ? b : k * ((b - a) / (num - 1)) + a));
  const mapF32 = (a: ArrayLike<number>, fn: (v: number) => number): Float32Array => Float32Array.from(a, fn);
  // __init__ (torch float32): sigmas = timesteps / T, shifted unless dynamic; sigma_max/min = sigmas[0], sigmas[-1]
  let init = mapF32([T, 1], (t) => t / T);
  if (!s.useDynamicShifting) {
    const num = mapF32(init, (v) => f32(s.shift) * v);
    const den = mapF32(mapF32(init, (v) => f32(s.shift - 1) * v), (v) => 1 + v);
    init = mapF32(num, (v, ) => v).map((v, i) => v / den[i]!);
  }
  let shifted: ArrayLike<number>;
  if (source === 'scheduler') {
    const sigmas = npLinspace(init[0]! * T, init[1]! * T, n).map((t) => t / T);
    shifted = s.useDynamicShifting
      ? sigmas.map((v) => Math.exp(mu) / (Math.exp(mu) + (1 / v - 1)))
      : sigmas.map((v) => (s.shift * v) / (1 + (s.shift - 1) * v));
  } else {
    const sigmas = Float32Array.from(source === 'flux' ? npLinspace(1, 1 / n, n) : source);
    if (s.useDynamicShifting) {
      const e = f32(Math.exp(mu));
      const oneOver = mapF32(sigmas, (v) => 1 / v);
      const den = mapF32(mapF32(oneOver, (v) => v - 1), (v) => e + v);
      shifted = mapF32(den, (d) => e / d);
    } else {
      const num = mapF32(sigmas, (v) => f32(s.shift) * v);
      const den = mapF32(mapF32(sigmas, (v) => f32(s.shift - 1) * v), (v) => 1 + v);
      shifted = mapF32(num, (v) => v).map((v, i) => v / den[i]!);
    }
  }
  const sigmas32 = Float32Array.from(shifted);
  return { sigmas: [...Array.from(sigmas32), 0], timesteps: Array.from(mapF32(sigmas32, (v) => v * T)) };
}

describe('calculateShift (FluxPipeline)', () => {
  it('is linear in the latent token count: 0.5 at 256 tokens, 1.15 at 4096, extrapolated beyond', () => {
    assert.ok(Math.abs(calculateShift(256) - 0.5) < 1e-15);
    assert.ok(Math.abs(calculateShift(4096) - 1.15) < 1e-15);
    assert.ok(Math.abs(calculateShift(1024) - (0.5 + 0.65 * (768 / 3840))) < 1e-15); // 512² FLUX: 0.63
    assert.ok(Math.abs(calculateShift(8192) - (0.5 + 0.65 * (7936 / 3840))) < 1e-14);
    assert.throws(() => calculateShift(0), /imageSeqLen must be a positive number of tokens, got 0/);
    assert.throws(() => calculateShift(10, { baseImageSeqLen: 256, maxImageSeqLen: 256, baseShift: 0.5, maxShift: 1 }), DiffusionConfigError);
  });
});

describe('flowMatchEulerSchedule', () => {
  it("SD3 (no σ passed): spaces N timesteps from σ_max·T to σ_min·T, then shifts again — σ_min is shifted twice", () => {
    // σ_min = shift(1/1000) = 0.003/1.002 = 0.0029940; t = linspace(1000, 2.9940, 4) = 1000, 667.665, 335.330, 2.994
    // → σ = shift(t/1000) = 1, 2.002995/2.335329 = 0.857692, 1.005988/1.670659 = 0.602151, 0.008982/1.005988 = 0.0089286
    const s = flowMatchEulerSchedule(SD3, 4, 'scheduler');
    const hand = [1000, 857.6923, 602.1506, 8.9286];
    s.timesteps.forEach((t, k) => assert.ok(Math.abs(t - hand[k]!) < 1e-3, `t_${k} = ${t} vs ${hand[k]}`));
    assert.equal(s.sigmas.length, 5);
    assert.equal(s.sigmas[4], 0);
    // the quirk: the last σ is shift(shift(1/T)) ≈ 0.0089, not shift(1/T) ≈ 0.0030
    const n28 = flowMatchEulerSchedule(SD3, 28, 'scheduler');
    assert.ok(Math.abs(n28.sigmas[27]! - 0.0089286) < 1e-6, `${n28.sigmas[27]}`);
  });

  it('FLUX.1-dev (FluxPipeline): σ = linspace(1, 1/N, N) in float32, shifted by e^μ/(e^μ + 1/σ − 1)', () => {
    // 1024² → 4096 tokens → μ = 1.15, e^μ = 3.158193: σ' = 1, 3.158193/3.491526, 3.158193/4.158193, 3.158193/6.158193
    const s = flowMatchEulerSchedule(FLUX_DEV, 4, 'flux', calculateShift(4096));
    const hand = [1, 0.904531, 0.759511, 0.512844];
    s.sigmas.slice(0, 4).forEach((v, k) => assert.ok(Math.abs(v - hand[k]!) < 1e-6, `σ_${k} = ${v}`));
    assert.deepEqual(s.timesteps, Array.from(s.sigmas.slice(0, 4), (v) => f32(v * 1000)));
  });

  it('FLUX.1-schnell (shift 1, static): FluxPipeline passes linspace(1, 1/N, N), set_timesteps(N) alone spaces 1000 … 1', () => {
    assert.deepEqual(flowMatchEulerSchedule(SCHNELL, 4, 'flux').timesteps, [1000, 750, 500, 250]);
    assert.deepEqual(flowMatchEulerSchedule(SCHNELL, 4, 'scheduler').timesteps, [1000, 667, 334, 1]);
  });

  it('matches the transcription of diffusers for many configs, bit for bit', () => {
    const configs: [FlowMatchEulerSettings, number, FlowSigmaSource, number?][] = [
      [SD3, 1, 'scheduler'],
      [SD3, 28, 'scheduler'],
      [{ ...SD3, shift: 3.1 }, 10, 'scheduler'],
      [{ ...SD3, shift: 6 }, 50, 'flux'],
      [FLUX_DEV, 28, 'flux', calculateShift(4096)],
      [FLUX_DEV, 50, 'flux', calculateShift(1024)],
      [FLUX_DEV, 7, 'flux', calculateShift(1)],
      [FLUX_DEV, 12, 'scheduler', 0.9],
      [SCHNELL, 4, 'flux'],
      [FLUX_DEV, 3, [1, 0.6, 0.2], 1.15],
    ];
    for (const [settings, n, source, mu] of configs) {
      const got = flowMatchEulerSchedule(settings, n, source, mu);
      const want = reference(settings, n, source, mu);
      assert.deepEqual(Array.from(got.sigmas), want.sigmas, `σ: ${JSON.stringify(settings)} N=${n} ${JSON.stringify(source)}`);
      assert.deepEqual(got.timesteps, want.timesteps, `timesteps: N=${n}`);
    }
  });

  it("time_shift_type 'linear' divides by μ + (1/σ − 1)", () => {
    const s = flowMatchEulerSchedule({ ...FLUX_DEV, timeShiftType: 'linear' }, 2, 'flux', 2);
    assert.equal(s.sigmas[1], f32(2 / (2 + 1))); // σ = 0.5: 2/(2 + 1)
  });

  it('needs μ with dynamic shifting and N σ when given a list', () => {
    assert.throws(() => flowMatchEulerSchedule(FLUX_DEV, 4, 'flux'), /use_dynamic_shifting needs μ/);
    assert.throws(() => flowMatchEulerSchedule(SD3, 3, [1, 0.5]), /2 σ given for 3 steps/);
    assert.throws(() => flowMatchEulerSchedule({ ...SD3, shift: -1 }, 3, 'scheduler'), /shift must be a positive number/);
  });
});

describe('flow-matching Euler step (float32)', () => {
  it("is x + fround(fround(σ' − σ)·v), the float32 ops of FlowMatchEulerDiscreteScheduler.step", () => {
    const [sigma, next] = [f32(0.857692), f32(0.602151)];
    const x = Float32Array.of(1.5, -0.25, 3);
    const v = Float32Array.of(0.7, 2, -1.1);
    const dt = f32(next - sigma);
    assert.deepEqual(flowMatchEulerStepF32(sigma, next, x, v), Float32Array.from(x, (xi, i) => f32(xi + f32(dt * v[i]!))));
  });

  it('as a plan: the pipeline passes timesteps σ·1000 and steps exactly as the scheduler', () => {
    const sched = flowMatchEulerSchedule(FLUX_DEV, 6, 'flux', 0.8);
    const plan = createPlan({ kind: 'flow-euler', steps: 6, sigmas: Array.from(sched.sigmas), numerics: 'diffusers' });
    assert.deepEqual(plan.timesteps, sched.timesteps);
    const sampler = createSampler(plan);
    const x = Float32Array.of(0.3, -1.2);
    const v = Float32Array.of(-0.4, 0.9);
    assert.deepEqual(sampler.step(2, x, v), flowMatchEulerStepF32(sched.sigmas[2]!, sched.sigmas[3]!, x, v));
    assert.throws(() => createPlan({ kind: 'flow-euler', steps: 2, sigmas: [1, 0.5] }), /sigmas must hold steps \+ 1 = 3 values/);
    assert.throws(() => createPlan({ kind: 'flow-euler', steps: 2, sigmas: [1, 0.5, 0], shift: 3 }), /give shift \(3\) or explicit sigmas, not both/);
  });

  it("follows the exact transport of Gaussian data on FLUX's σ, converging at first order", async () => {
    // x_σ = (1 − σ)·x0 + σ·ε with x0 ~ N(μ, s²): v* = E[ε − x0 | x] = (σ − (1−σ)s²)(x − (1−σ)μ)/V − μ, V = (1−σ)²s² + σ²;
    // the probability-flow ODE carries ε to μ + s·ε exactly.
    const [mu, sd] = [0.8, 0.4];
    const noise = new Rng(11).randn(64);
    const exact = Float64Array.from(noise, (z) => mu + sd * z);
    const errorWith = async (steps: number): Promise<number> => {
      const sched = flowMatchEulerSchedule(FLUX_DEV, steps, 'flux', calculateShift(4096));
      const plan = createPlan({ kind: 'flow-euler', steps, sigmas: Array.from(sched.sigmas), numerics: 'diffusers' });
      const model = async (x: Float32Array, s: number) => {
        const sigma = sched.sigmas[s]!;
        const v = (1 - sigma) ** 2 * sd * sd + sigma * sigma;
        return Float32Array.from(x, (xi) => ((sigma - (1 - sigma) * sd * sd) * (xi - (1 - sigma) * mu)) / v - mu);
      };
      return maxAbsDiff(await sampleLoop(createSampler(plan), noise, model), exact);
    };
    const [e28, e112] = [await errorWith(28), await errorWith(112)];
    // FluxPipeline's last σ is still shift(1/N) ≈ 3.16/(3.16 + N − 1), left in one Euler step: 0.13 at 28 steps, 0.035 at 112
    assert.ok(e112 < 0.05, `112 steps ended ${e112} from the exact map (28: ${e28})`);
    assert.ok(e112 < e28 / 3, `4× the steps should cut the error ~4× (first order): ${e28} → ${e112}`);
  });
});
