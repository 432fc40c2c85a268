// samplerFromSchedulerConfig: diffusers' schedulers from their configs — the timesteps of every spacing worked
// from numpy's formulas, DDIM's landing on t − T//N, DPM-Solver's σ, FluxPipeline's defaults, the refusals, and
// the same sampler run as a pipeline plan.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionConfigError, createSampler, diffusersSchedule, samplerFromSchedulerConfig } from '../../src/diffusion/index.js';

const FILE = 'sd/scheduler/scheduler_config.json';
const SD_DDIM = { _class_name: 'DDIMScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 };
const SD_DPM = { _class_name: 'DPMSolverMultistepScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1 };
const FLUX_DEV = { _class_name: 'FlowMatchEulerDiscreteScheduler', base_image_seq_len: 256, base_shift: 0.5, max_image_seq_len: 4096, max_shift: 1.15, num_train_timesteps: 1000, shift: 3.0, use_dynamic_shifting: true };
const WAN = { _class_name: 'UniPCMultistepScheduler', flow_shift: 3.0, prediction_type: 'flow_prediction', use_flow_sigmas: true, solver_order: 2, solver_type: 'bh2', lower_order_final: true, final_sigmas_type: 'zero', disable_corrector: [] };
const sampler = (config: Record<string, unknown>, steps: number, extra: Record<string, unknown> = {}) => samplerFromSchedulerConfig(config, { steps, file: FILE, ...extra });

/** numpy's round: half to even */
const npRound = (v: number): number => {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const npLinspace = (a: number, b: number, n: number): number[] => Array.from({ length: n }, (_, k) => (k === n - 1 ? b : k * ((b - a) / (n - 1)) + a));

describe('DDIMScheduler timesteps, every spacing', () => {
  it('leading: (arange(N)·(T//N))[::-1] + steps_offset', () => {
    const want = Array.from({ length: 50 }, (_, k) => (49 - k) * 20 + 1);
    assert.deepEqual(sampler(SD_DDIM, 50).timesteps, want);
    assert.deepEqual(sampler(SD_DDIM, 50).timesteps.slice(0, 3), [981, 961, 941]);
  });

  it('linspace: round(linspace(0, T − 1, N))[::-1], ties to even (832.5 → 832, 499.5 → 500)', () => {
    const s = sampler({ ...SD_DDIM, timestep_spacing: 'linspace' }, 7);
    assert.deepEqual(s.timesteps, npLinspace(0, 999, 7).map(npRound).reverse());
    assert.deepEqual(s.timesteps, [999, 832, 666, 500, 333, 166, 0]);
  });

  it('trailing: round(arange(T, 0, −T/N)) − 1', () => {
    const s = sampler({ ...SD_DDIM, timestep_spacing: 'trailing' }, 7);
    assert.deepEqual(s.timesteps, Array.from({ length: 7 }, (_, k) => npRound(1000 - (k * 1000) / 7) - 1));
    assert.deepEqual(s.timesteps, [999, 856, 713, 570, 428, 285, 142]);
    assert.equal(s.sigmas, null); // DDIMScheduler has no sigmas
  });

  it('step lands on t − T//N for every spacing (trailing N = 7: 999 → 857, not the next timestep 856)', () => {
    // with ε = 0: x0 = x/√ᾱ_t and x' = √ᾱ_prev·x0, so x'/x = √(ᾱ_prev/ᾱ_t)
    const schedule = diffusersSchedule({ trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' });
    const acp = schedule.alphasCumprod;
    for (const spacing of ['leading', 'linspace', 'trailing'] as const) {
      const s = sampler({ ...SD_DDIM, timestep_spacing: spacing }, 7);
      const x = Float32Array.of(0.75);
      s.timesteps.forEach((t, i) => {
        const landing = t - Math.floor(1000 / 7);
        const aPrev = landing >= 0 ? acp[landing]! : acp[0]!; // set_alpha_to_one false: ᾱ_0 after the end
        const ratio = s.step(new Float32Array(1), i, x)[0]! / x[0]!;
        assert.ok(Math.abs(ratio / Math.sqrt(aPrev / acp[t]!) - 1) < 1e-6, `${spacing} step ${i} from ${t}: ratio ${ratio}`);
      });
    }
  });

  it("refuses trailing step counts whose numpy arange holds N + 1 values (diffusers would run timestep −1)", () => {
    assert.throws(
      () => sampler({ ...SD_DDIM, timestep_spacing: 'trailing' }, 61),
      (e: Error) => e instanceof DiffusionConfigError && e.message.startsWith(`${FILE}: DDIMScheduler timestep_spacing = "trailing" with 61 steps is not supported`) && /this one has 62/.test(e.message),
    );
    assert.equal(sampler({ ...SD_DDIM, timestep_spacing: 'trailing' }, 60).timesteps.length, 60);
  });
});

describe('DPMSolverMultistepScheduler', () => {
  it('timesteps: N + 1 points with the final 0 dropped; σ = √((1 − ᾱ)/ᾱ) at them, then 0 or σ_min', () => {
    const leading = sampler({ ...SD_DPM, timestep_spacing: 'leading' }, 25);
    // leading: step ratio 1000 // 26 = 38; arange(26)·38 reversed, last dropped, + 1
    assert.deepEqual(leading.timesteps, Array.from({ length: 25 }, (_, k) => (25 - k) * 38 + 1));
    const lin = sampler({ ...SD_DPM, timestep_spacing: 'linspace' }, 20);
    assert.deepEqual(lin.timesteps, npLinspace(0, 999, 21).map(npRound).reverse().slice(0, 20));
    const acp = diffusersSchedule({ trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' }).alphasCumprod;
    const ratio = (a: number) => Math.sqrt((1 - a) / a);
    lin.timesteps.forEach((t, i) => assert.ok(Math.abs(lin.sigmas![i]! / ratio(acp[t]!) - 1) < 2e-7, `σ_${i}`));
    assert.equal(lin.sigmas![20], 0);
    const min = sampler({ ...SD_DPM, final_sigmas_type: 'sigma_min' }, 10);
    assert.ok(Math.abs(min.sigmas![10]! / ratio(acp[0]!) - 1) < 2e-7);
  });

  it('is stateful: steps run in order, one sampler per run', () => {
    const s = sampler(SD_DPM, 4);
    const x = Float32Array.of(0.1, -0.3);
    assert.throws(() => s.step(x, 1, x), /step 1 after step -1/);
    s.step(x, 0, x);
    s.step(x, 1, x);
  });
});

describe('FlowMatchEulerDiscreteScheduler as FluxPipeline and StableDiffusion3Pipeline set it', () => {
  it('FLUX.1-dev: needs the image token count (or μ) for the dynamic shift', () => {
    assert.throws(() => sampler(FLUX_DEV, 28), /use_dynamic_shifting = true is not supported; supported: false, or true with the image's latent token count/);
    const s = sampler(FLUX_DEV, 28, { imageSeqLen: 4096 });
    assert.deepEqual(s.timesteps.length, 28);
    assert.equal(s.timesteps[0], 1000);
    assert.deepEqual(sampler(FLUX_DEV, 28, { mu: 1.15 }).timesteps, s.timesteps); // μ(4096) = 1.15
  });

  it("FLUX.1-schnell (static shift 1): FluxPipeline's σ with imageSeqLen, set_timesteps(N)'s without", () => {
    const schnell = { ...FLUX_DEV, shift: 1, use_dynamic_shifting: false };
    assert.deepEqual(sampler(schnell, 4, { imageSeqLen: 4096 }).timesteps, [1000, 750, 500, 250]);
    assert.deepEqual(sampler(schnell, 4).timesteps, [1000, 667, 334, 1]);
    assert.deepEqual(sampler(schnell, 4, { imageSeqLen: 4096, flowSigmas: 'scheduler' }).timesteps, [1000, 667, 334, 1]);
    assert.deepEqual(sampler(schnell, 4).sigmas, [1, 0.6669999957084656, 0.33399999141693115, 0.0010000000474974513, 0]);
  });
});

describe('UniPCMultistepScheduler (Wan)', () => {
  it('gives truncated integer timesteps and float32 flow σ', () => {
    const s = sampler({ ...WAN, flow_shift: 5 }, 6);
    assert.deepEqual(s.timesteps, [999, 961, 909, 833, 714, 501]);
    assert.equal(s.sigmas!.length, 7);
    assert.equal(s.sigmas![6], 0);
  });

  it("refuses what diffusers cannot run on flow σ or what is not implemented, naming field and value", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ solver_type: 'bh1' }, /solver_type = "bh1" is not supported; supported: "bh2" .*returns NaN on the last step/],
      [{ lower_order_final: false }, /lower_order_final = false is not supported; supported: true with solver_order 2/],
      [{ use_flow_sigmas: false }, /use_flow_sigmas = false is not supported; supported: true/],
      [{ prediction_type: 'epsilon' }, /prediction_type = "epsilon" is not supported; supported: "flow_prediction"/],
      [{ final_sigmas_type: 'sigma_min' }, /final_sigmas_type = "sigma_min" is not supported/],
      [{ solver_order: 3 }, /solver_order = 3 is not supported; supported: 1 or 2/],
      [{ predict_x0: false }, /predict_x0 = false is not supported/],
      [{ use_dynamic_shifting: true }, /use_dynamic_shifting = true is not supported/],
    ];
    for (const [change, message] of bad) assert.throws(() => sampler({ ...WAN, ...change }, 10), message, JSON.stringify(change));
    assert.equal(sampler({ ...WAN, solver_type: 'midpoint' }, 4).plan.kind, 'unipc'); // diffusers runs midpoint as bh2
  });
});

describe('samplerFromSchedulerConfig', () => {
  it('each sampler is also a pipeline plan that steps identically, with plan.timesteps = timesteps', () => {
    const configs: [Record<string, unknown>, number, Record<string, unknown>][] = [
      [FLUX_DEV, 6, { imageSeqLen: 1024 }],
      [WAN, 6, {}],
      [{ ...SD_DDIM, timestep_spacing: 'trailing' }, 6, {}],
      [SD_DPM, 6, {}],
    ];
    for (const [config, steps, extra] of configs) {
      const s = sampler(config, steps, extra);
      const twin = createSampler(s.plan);
      assert.deepEqual(s.plan.timesteps, s.timesteps);
      let [a, b]: Float32Array[] = [Float32Array.of(0.4, -1.1, 2), Float32Array.of(0.4, -1.1, 2)];
      for (let i = 0; i < steps; i++) {
        const out = Float32Array.from(a, (v, k) => 0.7 * v + 0.1 * k - 0.05 * i);
        [a, b] = [s.step(out, i, a), twin.step(i, b, out)];
        assert.deepEqual(a, b, `${String(config['_class_name'])} step ${i}`);
      }
    }
  });

  it('refuses classes without a diffusers-exact sampler, η outside DDIM, and variance channels for DPM-Solver', () => {
    assert.throws(() => sampler({ _class_name: 'DDPMScheduler' }, 10), new RegExp(`^DiffusionConfigError: ${FILE}: _class_name = "DDPMScheduler" has no diffusers-exact sampler`));
    assert.throws(() => sampler({ _class_name: 'PNDMScheduler' }, 10), /supported: DDIMScheduler, DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler/);
    assert.throws(() => sampler(SD_DPM, 10, { eta: 0.5 }), /eta is DDIMScheduler.step's argument/);
    assert.throws(() => sampler({ ...SD_DPM, variance_type: 'learned_range' }, 10), /variance_type = "learned_range" is not supported; supported: null .*first 3 output channels/);
    assert.throws(() => sampler({ ...SD_DDIM, eta: 0.5 } as Record<string, unknown>, 10, { eta: 0.5 }).step(new Float32Array(2), 0, new Float32Array(2)), /needs a noise source/);
  });

  it("takes scheduler_config.json's text as well as the parsed object", () => {
    const text = JSON.stringify({ ...SD_DPM, lambda_min_clipped: 0 }).replace('0}', '-Infinity}'); // diffusers writes -Infinity bare
    assert.deepEqual(samplerFromSchedulerConfig(text, { steps: 10 }).timesteps, sampler(SD_DPM, 10).timesteps);
    assert.throws(() => samplerFromSchedulerConfig('{"_class_name": ', { steps: 10, file: FILE }), new RegExp(`^DiffusionConfigError: ${FILE}: not valid JSON`));
  });

  it('lists config keys the diffusers class does not know', () => {
    assert.deepEqual(sampler({ ...SD_DDIM, skip_prk_steps: true }, 10).ignoredFields, ['skip_prk_steps']);
    assert.deepEqual(sampler({ ...WAN, beta_schedule: 'linear', timestep_spacing: 'linspace', steps_offset: 0 }, 10).ignoredFields, []);
  });
});
