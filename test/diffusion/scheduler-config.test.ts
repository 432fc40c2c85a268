// diffusers scheduler_config.json → sampler plan: the configs real pipeline folders hold, each diffusers
// default, the named β schedules against values worked by hand, and the refusals (file, field, value, supported).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiffusionConfigError,
  createPlan,
  linearBetaSchedule,
  parseSchedulerConfigJson,
  planSpecFromSchedulerConfig,
  scaledLinearBetaSchedule,
  squaredCosCapV2BetaSchedule,
} from '../../src/diffusion/index.js';
import type { SchedulerConfigPlan } from '../../src/diffusion/index.js';

const FILE = 'dit/scheduler/scheduler_config.json';
const read = (json: Record<string, unknown>, steps = 20): SchedulerConfigPlan => planSpecFromSchedulerConfig(json, steps, FILE);
const planOf = (r: SchedulerConfigPlan) => createPlan(r.spec, r.schedule ?? undefined);

describe('named β schedules', () => {
  it('scaled_linear squares a linear √β: √β = 0.1, 0.2, 0.3 gives β = 0.01, 0.04, 0.09', () => {
    const s = scaledLinearBetaSchedule({ trainSteps: 3, betaStart: 0.01, betaEnd: 0.09 });
    Array.from(s.betas).forEach((b, t) => assert.ok(Math.abs(b - [0.01, 0.04, 0.09][t]!) < 1e-17, `β_${t} = ${b}`));
    assert.ok(Math.abs(s.alphasCumprod[2]! - 0.99 * 0.96 * 0.91) < 1e-15); // 0.864864
    // Stable Diffusion's 0.00085 … 0.012: the ends are exact, the middle is ((√0.00085 + √0.012)/2)² at T = 3
    const sd = scaledLinearBetaSchedule({ trainSteps: 3, betaStart: 0.00085, betaEnd: 0.012 });
    assert.ok(Math.abs(sd.betas[1]! - (0.00085 + 0.012 + 2 * Math.sqrt(0.00085 * 0.012)) / 4) < 1e-17);
    assert.ok(Math.abs(sd.betas[0]! - 0.00085) < 1e-18 && Math.abs(sd.betas[2]! - 0.012) < 1e-17);
  });

  it('squaredcos_cap_v2 discretises ᾱ(τ) = cos²((τ + 0.008)/1.008·π/2) and caps β at 0.999', () => {
    // T = 4: ᾱ(0, ¼, ½, ¾, 1) = 0.99984459100, 0.84688052801, 0.49376684270, 0.14424968120, 3.7e-33
    //   β_i = 1 − ᾱ((i+1)/4)/ᾱ(i/4) = 0.15298783867, 0.41695808751, 0.70785871240, then 1 − 3.7e-33/0.144 → cap 0.999
    const s = squaredCosCapV2BetaSchedule({ trainSteps: 4 });
    const hand = [0.1529878386730953, 0.41695808751199426, 0.7078587123971634, 0.999];
    Array.from(s.betas).forEach((b, i) => assert.ok(Math.abs(b - hand[i]!) < 1e-15, `β_${i} = ${b} vs ${hand[i]}`));
    // ᾱ telescopes back to ᾱ(τ)/ᾱ(0) until the cap: ᾱ_2 = 0.14424968120/0.99984459100
    assert.ok(Math.abs(squaredCosCapV2BetaSchedule({ trainSteps: 4 }).alphasCumprod[2]! - 0.144249681202635 / 0.9998445910004082) < 1e-14);
    const full = squaredCosCapV2BetaSchedule();
    assert.equal(full.betas[999], 0.999);
    assert.ok(full.betas[998]! < 0.999);
  });
});

describe('DDIMScheduler', () => {
  it("reads facebook/DiT-XL-2-256's config: linear β, leading spacing, no clipping, landing on ᾱ = 1", () => {
    const dit = read(
      {
        _class_name: 'DDIMScheduler',
        _diffusers_version: '0.12.0.dev0',
        beta_end: 0.02,
        beta_schedule: 'linear',
        beta_start: 0.0001,
        clip_sample: false,
        num_train_timesteps: 1000,
        prediction_type: 'epsilon',
        set_alpha_to_one: true,
        steps_offset: 0,
        trained_betas: null,
      },
      50,
    );
    assert.deepEqual(dit.spec, { kind: 'ddim', steps: 50, spacing: 'leading', stepsOffset: 0, clipX0: null, setAlphaToOne: true, eta: 0, prevTimestep: 'step-ratio' });
    assert.deepEqual(dit.schedule?.betas, linearBetaSchedule().betas);
    assert.deepEqual(dit.ignoredFields, []);
    assert.deepEqual(planOf(dit).timesteps.slice(0, 3), [980, 960, 940]);
  });

  it("uses diffusers' defaults for absent fields: clip_sample true (range 1), leading, set_alpha_to_one", () => {
    const r = read({ _class_name: 'DDIMScheduler' });
    assert.deepEqual(r.spec, { kind: 'ddim', steps: 20, spacing: 'leading', stepsOffset: 0, clipX0: 1, setAlphaToOne: true, eta: 0, prevTimestep: 'step-ratio' });
    const ranged = read({ _class_name: 'DDIMScheduler', clip_sample_range: 2.5 }).spec;
    assert.equal(ranged.kind === 'ddim' ? ranged.clipX0 : undefined, 2.5);
  });

  it('maps a Stable Diffusion style config: scaled_linear, steps_offset 1, ᾱ_0 at the end', () => {
    const r = read({
      _class_name: 'DDIMScheduler',
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      steps_offset: 1,
      set_alpha_to_one: false,
      clip_sample: false,
      skip_prk_steps: true, // a PNDM field some SD folders carry; diffusers ignores it for DDIM
    });
    const plan = planOf(r);
    assert.deepEqual(plan.timesteps.slice(0, 2), [951, 901]);
    assert.equal(plan.kind === 'ddim' && plan.alphasCumprodPrev[19], r.schedule!.alphasCumprod[0]);
    assert.deepEqual(r.ignoredFields, ['skip_prk_steps']);
    assert.deepEqual(r.schedule!.betas, scaledLinearBetaSchedule({ betaStart: 0.00085, betaEnd: 0.012 }).betas);
  });

  it("lands each step on t − T // N as DDIMScheduler.step does (trailing, N = 7: 999 → 857, not 856)", () => {
    const plan = planOf(read({ _class_name: 'DDIMScheduler', timestep_spacing: 'trailing' }, 7));
    assert.equal(plan.kind, 'ddim');
    assert.deepEqual(plan.timesteps.slice(0, 2), [999, 856]);
    assert.equal(plan.kind === 'ddim' && plan.prevTimesteps[0], 857);
  });

  it('takes trained_betas over beta_schedule, one per training step', () => {
    const r = read({ _class_name: 'DDIMScheduler', num_train_timesteps: 4, trained_betas: [0.1, 0.2, 0.3, 0.4], beta_schedule: 'sigmoid' }, 2);
    assert.deepEqual(Array.from(r.schedule!.betas), [0.1, 0.2, 0.3, 0.4]);
    assert.throws(() => read({ _class_name: 'DDIMScheduler', num_train_timesteps: 4, trained_betas: [0.1, 0.2] }, 2), /trained_betas = \[2 values\] is not supported; supported: one β per training step, 4/);
    assert.throws(() => read({ _class_name: 'DDIMScheduler', num_train_timesteps: 2, trained_betas: [0.1, 1.5] }, 2), /1.5 at index 1/);
  });
});

describe('DDPMScheduler', () => {
  it('maps variance_type to the DDPM plan, with fixed_small and leading spacing by default', () => {
    const r = read({ _class_name: 'DDPMScheduler', variance_type: 'learned_range', clip_sample: false }, 250);
    assert.deepEqual(r.spec, { kind: 'ddpm', steps: 250, variance: 'learned-range', spacing: 'leading', stepsOffset: 0, clipX0: null });
    const plan = planOf(r);
    assert.equal(plan.kind === 'ddpm' && plan.readsVarianceChannels, true);
    assert.deepEqual(plan.timesteps.slice(0, 2), [996, 992]); // leading: k·(1000 // 250)
    const defaults = read({ _class_name: 'DDPMScheduler' }).spec;
    assert.deepEqual(defaults.kind === 'ddpm' && [defaults.variance, defaults.clipX0], ['fixed-small', 1]);
    const small = read({ _class_name: 'DDPMScheduler', variance_type: 'fixed_small_log' }).spec;
    const large = read({ _class_name: 'DDPMScheduler', variance_type: 'fixed_large' }).spec;
    assert.deepEqual([small.kind === 'ddpm' && small.variance, large.kind === 'ddpm' && large.variance], ['fixed-small', 'fixed-large']);
  });

  it('refuses the variance types and predictions it does not implement, naming them', () => {
    assert.throws(
      () => read({ _class_name: 'DDPMScheduler', variance_type: 'learned' }),
      (e: Error) =>
        e instanceof DiffusionConfigError &&
        e.message === `${FILE}: DDPMScheduler variance_type = "learned" is not supported; supported: "fixed_small", "fixed_small_log", "fixed_large", "learned_range"`,
    );
    assert.throws(() => read({ _class_name: 'DDPMScheduler', prediction_type: 'v_prediction' }), /prediction_type = "v_prediction" is not supported; supported: "epsilon"/);
  });
});

describe('DPMSolverMultistepScheduler', () => {
  it("maps to DPM-Solver++(2M) with diffusers' defaults: linspace spacing, final σ = 0, lower_order_final", () => {
    const r = read({ _class_name: 'DPMSolverMultistepScheduler', variance_type: 'learned_range', lambda_min_clipped: -Infinity });
    assert.deepEqual(r.spec, { kind: 'dpmpp-2m', steps: 20, spacing: 'linspace', stepsOffset: 0, finalSigma: 'zero', lowerOrderFinal: true, clipX0: null });
    const min = read({ _class_name: 'DPMSolverMultistepScheduler', final_sigmas_type: 'sigma_min', lower_order_final: false }).spec;
    assert.deepEqual(min.kind === 'dpmpp-2m' && [min.finalSigma, min.lowerOrderFinal], ['min', false]);
    assert.equal(planOf(r).timesteps[0], 999);
  });

  it('refuses other solvers and σ layouts', () => {
    const bad: [string, unknown, RegExp][] = [
      ['solver_order', 3, /solver_order = 3 is not supported; supported: 2 \(only the second-order/],
      ['algorithm_type', 'sde-dpmsolver++', /algorithm_type = "sde-dpmsolver\+\+" is not supported; supported: "dpmsolver\+\+"/],
      ['solver_type', 'heun', /solver_type = "heun"/],
      ['use_karras_sigmas', true, /use_karras_sigmas = true is not supported; supported: false/],
      ['lambda_min_clipped', -5.1, /lambda_min_clipped = -5.1 is not supported; supported: -Infinity/],
      ['euler_at_final', true, /euler_at_final = true/],
      ['thresholding', true, /thresholding = true is not supported; supported: false \(dynamic thresholding is not implemented\)/],
    ];
    for (const [field, value, message] of bad) assert.throws(() => read({ _class_name: 'DPMSolverMultistepScheduler', [field]: value }), message, field);
  });
});

describe('parseSchedulerConfigJson', () => {
  it("reads Python's bare -Infinity (diffusers writes lambda_min_clipped so) and leaves strings alone", () => {
    const text = '{\n  "_class_name": "DPMSolverMultistepScheduler",\n  "lambda_min_clipped": -Infinity,\n  "note": "a -Infinity \\" NaN",\n  "x": [NaN, Infinity]\n}';
    const json = parseSchedulerConfigJson(text, FILE);
    assert.equal(json['lambda_min_clipped'], -Infinity);
    assert.equal(json['note'], 'a -Infinity " NaN');
    assert.deepEqual(json['x'], [NaN, Infinity]);
    assert.throws(() => JSON.parse(text), SyntaxError); // why the helper exists
    const r = planSpecFromSchedulerConfig(json, 20, FILE); // lambda_min_clipped −∞ is the supported value
    assert.deepEqual([r.spec.kind, r.ignoredFields], ['dpmpp-2m', ['note', 'x']]);
  });

  it('names the file when the text is not JSON or not an object', () => {
    assert.throws(() => parseSchedulerConfigJson('{"shift": 3,}', FILE), new RegExp(`^DiffusionConfigError: ${FILE}: not valid JSON`));
    assert.throws(() => parseSchedulerConfigJson('[1]', FILE), /must be a JSON object/);
  });
});

describe('FlowMatchEulerDiscreteScheduler', () => {
  it("reads SD3's static shift into diffusers' own σ list (N points to shift(1/T), shifted again, then 0)", () => {
    const r = read({ _class_name: 'FlowMatchEulerDiscreteScheduler', _diffusers_version: '0.29.0.dev0', num_train_timesteps: 1000, shift: 3.0 }, 28);
    assert.equal(r.schedule, null);
    assert.deepEqual(r.ignoredFields, []);
    const spec = r.spec;
    assert.ok(spec.kind === 'flow-euler');
    assert.deepEqual([spec.steps, spec.timestepScale, spec.numerics, spec.sigmas?.length], [28, 1000, 'diffusers', 29]);
    const plan = planOf(r);
    assert.ok(plan.kind === 'flow-euler');
    assert.equal(plan.sigmas[0], 1);
    assert.ok(Math.abs(plan.sigmas[27]! - 0.0089286) < 1e-6, `${plan.sigmas[27]}`); // shift(shift(1/1000)), diffusers' double shift
    assert.equal(plan.sigmas[28], 0);
    assert.deepEqual(plan.timesteps, Array.from(plan.sigmas.subarray(0, 28), (s) => Math.fround(s * 1000)));
  });

  it('FLUX (use_dynamic_shifting) needs the image token count; the dynamic-only fields are known, and inert without it', () => {
    const flux = { _class_name: 'FlowMatchEulerDiscreteScheduler', base_image_seq_len: 256, base_shift: 0.5, max_image_seq_len: 4096, max_shift: 1.15, shift: 3.0, use_dynamic_shifting: true };
    assert.throws(() => read(flux), /use_dynamic_shifting = true is not supported; supported: false, or true with the image's latent token count \(imageSeqLen/);
    const r = planSpecFromSchedulerConfig(flux, 28, FILE, { imageSeqLen: 4096 });
    assert.ok(r.spec.kind === 'flow-euler');
    assert.equal(planOf(r).timesteps[0], 1000);
    assert.ok(Math.abs(planOf(r).timesteps[27]! - 1000 * (Math.exp(1.15) / (Math.exp(1.15) + 27))) < 1e-3); // σ = 1/28 shifted by μ = 1.15
    assert.deepEqual(read({ ...flux, use_dynamic_shifting: false }).ignoredFields, []);
    assert.throws(() => planSpecFromSchedulerConfig({ ...flux, base_shift: null }, 4, FILE, { imageSeqLen: 4096 }), /base_shift = null is not supported; supported: numbers in base_shift/);
  });

  it('refuses the other σ options', () => {
    assert.throws(() => read({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift_terminal: 0.02 }), /shift_terminal = 0.02 is not supported; supported: null/);
    assert.throws(() => read({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 0 }), /shift = 0 is not supported; supported: a positive number/);
    assert.throws(() => read({ _class_name: 'FlowMatchEulerDiscreteScheduler', invert_sigmas: true }), /invert_sigmas = true is not supported/);
    assert.throws(() => read({ _class_name: 'FlowMatchEulerDiscreteScheduler', stochastic_sampling: true }), /stochastic_sampling = true is not supported/);
    assert.throws(() => read({ _class_name: 'FlowMatchEulerDiscreteScheduler', time_shift_type: 'cosine' }), /time_shift_type = "cosine" is not supported; supported: "exponential", "linear"/);
  });
});

describe('UniPCMultistepScheduler', () => {
  const wan = {
    _class_name: 'UniPCMultistepScheduler',
    _diffusers_version: '0.33.0.dev0',
    beta_end: 0.02,
    beta_schedule: 'linear',
    beta_start: 0.0001,
    disable_corrector: [],
    dynamic_thresholding_ratio: 0.995,
    final_sigmas_type: 'zero',
    flow_shift: 3.0,
    lower_order_final: true,
    num_train_timesteps: 1000,
    predict_x0: true,
    prediction_type: 'flow_prediction',
    rescale_betas_zero_snr: false,
    sample_max_value: 1.0,
    solver_order: 2,
    solver_p: null,
    solver_type: 'bh2',
    steps_offset: 0,
    thresholding: false,
    timestep_spacing: 'linspace',
    trained_betas: null,
    use_beta_sigmas: false,
    use_exponential_sigmas: false,
    use_flow_sigmas: true,
    use_karras_sigmas: false,
  };

  it("maps Wan's scheduler config to a unipc plan; its β fields are read by diffusers but unused on flow σ", () => {
    const r = read(wan, 50);
    assert.deepEqual(r.spec, { kind: 'unipc', steps: 50, flowShift: 3, trainSteps: 1000, solverOrder: 2, solverType: 'bh2', lowerOrderFinal: true, disableCorrector: [] });
    assert.equal(r.schedule, null);
    assert.deepEqual(r.ignoredFields, []);
    const plan = planOf(r);
    assert.equal(plan.timesteps[0], 999); // trunc((1 − 1e-6)·1000)
    assert.equal(plan.timesteps.length, 50);
  });

  it('refuses configs that are not flow UniPC', () => {
    assert.throws(() => read({ _class_name: 'UniPCMultistepScheduler' }), /use_flow_sigmas = false is not supported; supported: true \(only UniPC on flow σ/);
    assert.throws(() => read({ ...wan, timestep_spacing: 'karras' }), /timestep_spacing = "karras" is not supported/);
    assert.throws(() => read({ ...wan, solver_p: {} }), /solver_p = \{\} is not supported; supported: null/);
    assert.throws(() => read({ ...wan, disable_corrector: [0.5] }), /disable_corrector = \[0.5\] is not supported; supported: an array of integers/);
  });
});

describe('config errors name the file, field, value and what is supported', () => {
  it('refuses unknown classes and a missing _class_name', () => {
    assert.throws(
      () => read({ _class_name: 'PNDMScheduler' }),
      new DiffusionConfigError(
        `${FILE}: _class_name = "PNDMScheduler" is not supported; supported: DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler`,
      ),
    );
    assert.throws(() => read({ beta_start: 0.0001 }), /_class_name = \(absent\) is not supported/);
  });

  it('refuses bad values of shared fields', () => {
    const ddim = (extra: Record<string, unknown>) => () => read({ _class_name: 'DDIMScheduler', ...extra });
    assert.throws(ddim({ beta_schedule: 'sigmoid' }), /beta_schedule = "sigmoid" is not supported; supported: "linear", "scaled_linear", "squaredcos_cap_v2"/);
    assert.throws(ddim({ timestep_spacing: 'karras' }), /timestep_spacing = "karras" is not supported; supported: "leading", "linspace", "trailing"/);
    assert.throws(ddim({ steps_offset: -1 }), /steps_offset = -1 is not supported; supported: an integer ≥ 0/);
    assert.throws(ddim({ clip_sample: 'yes' }), /clip_sample = "yes" is not supported; supported: true or false/);
    assert.throws(ddim({ rescale_betas_zero_snr: true }), /rescale_betas_zero_snr = true/);
    assert.throws(ddim({ beta_end: null }), /beta_end = null is not supported; supported: a number in \(0, 1\)/);
  });

  it('reports a config that cannot give the requested steps with the file named', () => {
    assert.throws(() => read({ _class_name: 'DDIMScheduler', steps_offset: 60 }), new RegExp(`^DiffusionConfigError: ${FILE}: DDIMScheduler with 20 steps: spaceTimesteps\\(leading\\): timestep 1010 outside`));
    assert.throws(() => read({ _class_name: 'DDIMScheduler' }, 0), /steps must be a positive integer, got 0/);
    assert.throws(() => planSpecFromSchedulerConfig([] as unknown as Record<string, unknown>, 20, FILE), /must be a JSON object, got an array/);
  });
});
