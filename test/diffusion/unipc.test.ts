// UniPC on flow σ (Wan's UniPCMultistepScheduler): the σ/timestep layout with its quirks, the float32 stepper
// against a float64 reference transcribed here from diffusers' update formulas, and sampling Gaussian data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionConfigError, Rng, createPlan, createSampler, createUniPcState, planObjective, sampleLoop, uniPcPlan, uniPcStep } from '../../src/diffusion/index.js';
import type { UniPcPlan } from '../../src/diffusion/index.js';
import { maxAbsDiff } from './gaussian-data.js';

const f32 = Math.fround;

/**
 * diffusers' UniPC (predict_x0, flow σ) in float64 for any order: the predictor UniP with ρ = ½ at order 2 and the
 * corrector UniC solving R·ρ = b, R_ij = r_j^i, b_i = i!·hφ_{i+1}(h)/B(h), exactly as multistep_uni_{p,c}_bh_update build them.
 */
function referenceUniPc(plan: UniPcPlan, x0: Float64Array, velocity: (x: Float64Array, s: number) => Float64Array): Float64Array {
  const sig = Array.from(plan.sigmas);
  const alpha = sig.map((s) => 1 - s);
  const lambda = sig.map((s, k) => Math.log(alpha[k]!) - Math.log(s));
  const bh = (h: number) => (plan.solverType === 'bh1' ? -h : Math.expm1(-h));
  const coefficients = (h: number, order: number): number[] => {
    const hh = -h;
    const b: number[] = [];
    let hPhiK = Math.expm1(hh) / hh - 1;
    let factorial = 1;
    for (let i = 1; i <= order; i++) {
      b.push((hPhiK * factorial) / bh(h));
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    return b;
  };
  const outputs: Float64Array[] = [];
  let x = x0;
  let last: Float64Array | null = null;
  let prevOrder = 1;
  for (let s = 0; s < plan.steps; s++) {
    const v = velocity(x, s);
    const m = x.map((xi, i) => xi - sig[s]! * v[i]!);
    if (s > 0 && !plan.disableCorrector.includes(s - 1) && last) {
      // UniC from σ_{s−1} to σ_s with this step's x0
      const h = lambda[s]! - lambda[s - 1]!;
      const m0 = outputs[outputs.length - 1]!;
      const b = coefficients(h, prevOrder);
      let rho: number[];
      let d1: Float64Array | null = null;
      if (prevOrder === 1) rho = [0.5];
      else {
        const r = (lambda[s - 2]! - lambda[s - 1]!) / h;
        d1 = outputs[outputs.length - 2]!.map((mi, i) => (mi - m0[i]!) / r);
        // [[1, 1], [r, 1]]·ρ = b by Cramer's rule
        const det = 1 - r;
        rho = [(b[0]! - b[1]!) / det, (b[1]! - r * b[0]!) / det];
      }
      const lastSample = last;
      x = x.map((_, i) => {
        const base = (sig[s]! / sig[s - 1]!) * lastSample[i]! - alpha[s]! * Math.expm1(-h) * m0[i]!;
        const corr = (d1 ? rho[0]! * d1[i]! : 0) + rho[rho.length - 1]! * (m[i]! - m0[i]!);
        return base - alpha[s]! * bh(h) * corr;
      });
    }
    outputs.push(m);
    const cap = plan.orders[s]!; // the layout test checks these separately
    prevOrder = cap;
    last = x;
    // UniP from σ_s to σ_{s+1}
    const h = lambda[s + 1]! - lambda[s]!;
    const xs = x;
    const d1 = cap === 2 ? outputs[outputs.length - 2]!.map((mi, i) => (mi - m[i]!) / ((lambda[s - 1]! - lambda[s]!) / h)) : null;
    x = xs.map((xi, i) => {
      const base = (sig[s + 1]! / sig[s]!) * xi - alpha[s + 1]! * Math.expm1(-h) * m[i]!;
      return d1 ? base - alpha[s + 1]! * bh(h) * 0.5 * d1[i]! : base;
    });
  }
  return x;
}

describe('UniPC flow layout (set_timesteps with use_flow_sigmas)', () => {
  it('Wan, flow_shift 5, N = 6: σ = shift(linspace(1, 1/1000, 7)[:-1]), σ_0 = 1 − 1e-6, timesteps truncated', () => {
    // linspace: 1, 0.8335, 0.667, 0.5005, 0.334, 0.1675 → 5σ/(1 + 4σ) = 1, 0.961583, 0.909215, 0.833611, 0.714897, 0.501497
    const plan = uniPcPlan(6, { flowShift: 5 });
    const hand = [1 - 1e-6, 0.961583, 0.909215, 0.833611, 0.714897, 0.501497, 0];
    plan.sigmas.forEach((s, k) => assert.ok(Math.abs(s - hand[k]!) < 1e-6, `σ_${k} = ${s}`));
    assert.equal(plan.sigmas[0], f32(1 - 1e-6)); // float32 σ
    // int64(σ·1000): 999.999 → 999, 833.611 → 833, 714.897 → 714 (rounding would give 1000, 834, 715)
    assert.deepEqual(plan.timesteps, [999, 961, 909, 833, 714, 501]);
    assert.deepEqual(plan.stepDistances, [38, 52, 76, 119, 213, 501]);
  });

  it('orders: first order first (no history), second order after, first order on the last step (lower_order_final)', () => {
    assert.deepEqual(uniPcPlan(5, { flowShift: 3 }).orders, [1, 2, 2, 2, 1]);
    assert.deepEqual(uniPcPlan(1).orders, [1]);
    assert.deepEqual(uniPcPlan(4, { solverOrder: 1 }).orders, [1, 1, 1, 1]);
    const lam = uniPcPlan(4, { flowShift: 3 }).lambdas;
    assert.equal(lam[4], Infinity); // σ = 0
    assert.ok(lam[0]! < lam[1]! && lam[1]! < lam[2]!, 'λ rises as σ falls');
  });

  it('refuses settings diffusers cannot run or that are not implemented', () => {
    assert.throws(() => uniPcPlan(4, { lowerOrderFinal: false }), /lowerOrderFinal false with order 2 makes the last step/);
    assert.throws(() => uniPcPlan(4, { solverOrder: 3 as 2 }), /solverOrder must be 1 or 2, got 3/);
    assert.throws(() => uniPcPlan(4, { flowShift: 0 }), DiffusionConfigError);
    assert.throws(() => uniPcPlan(4, { disableCorrector: [0.5] }), /disableCorrector must hold step indices/);
  });
});

describe('UniPC step', () => {
  const rng = new Rng(5);
  const x0 = rng.randn(32);
  // a smooth, x-dependent velocity field, different at every step
  const field = (x: ArrayLike<number>, s: number): Float64Array => Float64Array.from(x, (xi, i) => 0.9 * xi - 0.3 * Math.sin(xi + i) + 0.05 * s);

  for (const [label, opts, steps] of [
    ['Wan 480p: shift 3, order 2, bh2', { flowShift: 3 }, 10],
    ['Wan 720p: shift 5, 30 steps', { flowShift: 5 }, 30],
    ['order 1', { flowShift: 3, solverOrder: 1 }, 6],
    ['bh1', { flowShift: 2, solverType: 'bh1' }, 7],
    ['corrector off after steps 0 and 2', { flowShift: 3, disableCorrector: [0, 2] }, 8],
    ['two steps', { flowShift: 3 }, 2],
  ] as const) {
    it(`float32 steps follow the float64 transcription of diffusers: ${label}`, () => {
      const plan = uniPcPlan(steps, opts);
      const state = createUniPcState();
      let x: Float32Array = Float32Array.from(x0);
      for (let s = 0; s < steps; s++) x = uniPcStep(plan, state, s, x, Float32Array.from(field(x, s)));
      const ref = referenceUniPc(plan, Float64Array.from(x0), field);
      const scale = Math.max(...Array.from(ref, Math.abs));
      assert.ok(maxAbsDiff(x, ref) < 2e-5 * scale, `max |Δ| ${maxAbsDiff(x, ref)} (scale ${scale})`);
    });
  }

  it('keeps its memory per request and refuses steps out of order or of another size', () => {
    const plan = uniPcPlan(3, { flowShift: 3 });
    const state = createUniPcState();
    const x = Float32Array.of(0.1, 0.2);
    assert.throws(() => uniPcStep(plan, state, 1, x, x), /step 1 after step -1/);
    uniPcStep(plan, state, 0, x, x);
    assert.throws(() => uniPcStep(plan, state, 1, x, Float32Array.of(1)), /velocity: expected 2 values/);
    const sampler = createSampler(createPlan({ kind: 'unipc', steps: 3, flowShift: 3 }));
    assert.deepEqual(sampler.state, { x0History: [null, null], lastSample: null, prevStepIndex: -1 });
    assert.equal(planObjective(sampler.plan), 'flow'); // the model predicts the velocity, as for flow-euler
    assert.equal(planObjective(createPlan({ kind: 'ddim', steps: 3 })), 'eps');
  });

  it('samples Gaussian data with the exact velocity: second order, far closer than Euler on the same σ', async () => {
    // x_σ = (1 − σ)·x0 + σ·ε, x0 ~ N(μ, s²), V(σ) = (1−σ)²s² + σ²: the exact velocity is
    // v* = (σ − (1−σ)s²)(x − (1−σ)μ)/V − μ and the ODE map from σ to σ' is affine (same standard score z).
    // Both samplers end with the step onto σ = 0, which returns the x0 prediction D(x) = x − σ_last·v* at
    // σ_last = shift(1/N) (0.25 at N = 10); so the exact end is D(ODE map of the noise from σ_0 to σ_last).
    const [mu, sd] = [-0.6, 0.5];
    const noise = new Rng(21).randn(64);
    const variance = (sigma: number) => (1 - sigma) ** 2 * sd * sd + sigma * sigma;
    const exactVelocity = (xi: number, sigma: number) => ((sigma - (1 - sigma) * sd * sd) * (xi - (1 - sigma) * mu)) / variance(sigma) - mu;
    const exactEnd = (sigmas: Float64Array, steps: number): Float64Array => {
      const [from, to] = [sigmas[0]!, sigmas[steps - 1]!];
      return Float64Array.from(noise, (z0) => {
        const z = (z0 - (1 - from) * mu) / Math.sqrt(variance(from));
        const x = (1 - to) * mu + z * Math.sqrt(variance(to));
        return x - to * exactVelocity(x, to);
      });
    };
    const model = (sigmas: Float64Array) => async (x: Float32Array, s: number) => Float32Array.from(x, (xi) => exactVelocity(xi, sigmas[s]!));
    const errors = async (steps: number, flowShift: number): Promise<[number, number]> => {
      const plan = createPlan({ kind: 'unipc', steps, flowShift }) as UniPcPlan;
      const euler = createPlan({ kind: 'flow-euler', steps, sigmas: Array.from(plan.sigmas) });
      const exact = exactEnd(plan.sigmas, steps);
      const uni = maxAbsDiff(await sampleLoop(createSampler(plan), noise, model(plan.sigmas)), exact);
      const eul = maxAbsDiff(await sampleLoop(createSampler(euler), noise, model(plan.sigmas)), exact);
      return [uni, eul];
    };
    // the first step leaves σ = 1 − 1e-6 (λ ≈ −13.8) in one first-order jump, so the asymptotic orders show from ~40 steps
    const [[u40, e40], [u80, e80]] = [await errors(40, 1), await errors(80, 1)];
    assert.ok(u80 < 2e-3, `UniPC, 80 steps: ${u80} from the exact map`);
    assert.ok(u40 < e40 / 5 && u80 < e80 / 10, `UniPC ${u40}, ${u80} vs Euler ${e40}, ${e80} at 40, 80 steps`);
    assert.ok(u80 < u40 / 3, `doubling the steps should cut UniPC's error ~4× (second order): ${u40} → ${u80}`);
    assert.ok(e80 > e40 / 2.5, `and Euler's ~2× (first order): ${e40} → ${e80}`);
    const [wan, wanEuler] = await errors(50, 3);
    assert.ok(wan < wanEuler / 3, `Wan's shift 3 at 50 steps: UniPC ${wan} vs Euler ${wanEuler}`);
  });
});
