// The flow-matching scheduler configs: FlowMatchEulerDiscreteScheduler (SD3's static shift, FLUX's dynamic shift)
// and UniPCMultistepScheduler with flow σ (Wan) → plan specs that reproduce diffusers' σ, timesteps and steps.
import { ConfigFields } from './config-fields.js';
import { FlowSigmaSource, ImageSeqLenShift, calculateShift, flowMatchEulerSchedule } from './flow-match.js';
import { PlanSpec } from './sampler.js';

type FlowSpec = Extract<PlanSpec, { kind: 'flow-euler' }>;
type UniPcSpec = Extract<PlanSpec, { kind: 'unipc' }>;

export interface FlowConfigOptions {
  imageSeqLen?: number;
  mu?: number;
  flowSigmas?: FlowSigmaSource;
}

const positive = (v: number): boolean => v > 0 && Number.isFinite(v);

/**
 * FlowMatchEulerDiscreteScheduler → a 'flow-euler' plan on diffusers' exact σ list (float32 steps). With
 * use_dynamic_shifting the shift is μ, from opts.mu or from opts.imageSeqLen by calculate_shift.
 */
export function flowFromConfig(f: ConfigFields, steps: number, opts: FlowConfigOptions): FlowSpec {
  const trainSteps = f.integer('num_train_timesteps', 1000, 1);
  const shift = f.number('shift', 1, positive, 'a positive number');
  const useDynamicShifting = f.boolean('use_dynamic_shifting', false);
  const timeShiftType = f.choice('time_shift_type', 'exponential', ['exponential', 'linear']);
  const seqLenShift = readImageSeqLenShift(f);
  f.only('invert_sigmas', [false], 'σ runs from 1 to 0 (the inverted schedule is Mochi-specific)');
  f.only('shift_terminal', [null], 'stretching the shifted σ to a terminal value is not implemented');
  for (const sigmas of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas']) {
    f.only(sigmas, [false], 'only linearly spaced, shifted σ are implemented');
  }
  f.only('stochastic_sampling', [false], 'only the deterministic Euler step is implemented');
  const pipelineGivesShift = opts.mu !== undefined || opts.imageSeqLen !== undefined;
  let mu = opts.mu;
  if (useDynamicShifting && mu === undefined && opts.imageSeqLen !== undefined) {
    if ('nullField' in seqLenShift) f.reject(seqLenShift.nullField, 'null', 'numbers in base_shift, max_shift, base_image_seq_len and max_image_seq_len to compute μ from imageSeqLen');
    mu = calculateShift(opts.imageSeqLen, seqLenShift);
  }
  if (useDynamicShifting && mu === undefined) {
    f.reject('use_dynamic_shifting', 'true', "false, or true with the image's latent token count (imageSeqLen, FLUX: (H/16)·(W/16)) or μ given, since the shift depends on the resolution");
  }
  const source = opts.flowSigmas ?? (pipelineGivesShift ? 'flux' : 'scheduler');
  const schedule = flowMatchEulerSchedule({ trainSteps, shift, useDynamicShifting, timeShiftType }, steps, source, mu);
  return { kind: 'flow-euler', steps, sigmas: Array.from(schedule.sigmas), timestepScale: trainSteps, numerics: 'diffusers' };
}

/** base/max shift and image sequence lengths, or the first of those fields the config sets to null. */
function readImageSeqLenShift(f: ConfigFields): ImageSeqLenShift | { nullField: string } {
  const fields: [keyof ImageSeqLenShift, string, number][] = [
    ['baseShift', 'base_shift', 0.5],
    ['maxShift', 'max_shift', 1.15],
    ['baseImageSeqLen', 'base_image_seq_len', 256],
    ['maxImageSeqLen', 'max_image_seq_len', 4096],
  ];
  const values: Partial<ImageSeqLenShift> = {};
  let nullField: string | undefined;
  for (const [key, field, fallback] of fields) {
    const v = f.nullableNumber(field, fallback, Number.isFinite, 'a number');
    if (v === null) nullField ??= field;
    else values[key] = v;
  }
  return nullField === undefined ? (values as ImageSeqLenShift) : { nullField };
}

/**
 * UniPCMultistepScheduler with use_flow_sigmas and prediction_type "flow_prediction" (Wan's scheduler) → a 'unipc'
 * plan. Its β schedule fields are read by diffusers but unused on flow σ, so they are inert here.
 */
export function uniPcFromConfig(f: ConfigFields, steps: number): UniPcSpec {
  const trainSteps = f.integer('num_train_timesteps', 1000, 1);
  f.inert('beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'rescale_betas_zero_snr', 'steps_offset', 'sigma_min', 'sigma_max', 'time_shift_type');
  f.choice('timestep_spacing', 'linspace', ['linspace', 'leading', 'trailing']); // diffusers checks it, then flow σ replace those timesteps
  if (!f.boolean('use_flow_sigmas', false)) f.fail('use_flow_sigmas', false, 'true (only UniPC on flow σ, as Wan configures it, is implemented)');
  const prediction = f.choice('prediction_type', 'epsilon', ['epsilon', 'sample', 'v_prediction', 'flow_prediction']);
  if (prediction !== 'flow_prediction') f.fail('prediction_type', prediction, '"flow_prediction" (with use_flow_sigmas)');
  const solverOrder = f.number('solver_order', 2, (v) => v === 1 || v === 2, '1 or 2') as 1 | 2;
  const solverTypeRaw = f.choice('solver_type', 'bh2', ['bh1', 'bh2', 'midpoint', 'heun', 'logrho']);
  if (solverTypeRaw === 'bh1') {
    // B(h) = h = −∞ on the step onto σ = 0, where diffusers multiplies it by a zero correction: NaN
    f.fail('solver_type', 'bh1', '"bh2" (or midpoint/heun/logrho, which diffusers runs as bh2): with flow σ diffusers\' bh1 returns NaN on the last step');
  }
  const solverType = 'bh2'; // diffusers registers midpoint/heun/logrho as bh2
  const lowerOrderFinal = f.boolean('lower_order_final', true);
  if (!lowerOrderFinal && solverOrder === 2 && steps > 1) {
    f.fail('lower_order_final', false, "true with solver_order 2 (diffusers' order-2 step onto σ = 0 divides by r = 0 and returns ±∞/NaN)");
  }
  const disableCorrector = f.integerList('disable_corrector', []);
  const flowShift = f.number('flow_shift', 1, positive, 'a positive number');
  f.only('predict_x0', [true], 'only the data-prediction (x0) update is implemented');
  f.only('thresholding', [false], 'dynamic thresholding is not implemented');
  f.inert('dynamic_thresholding_ratio', 'sample_max_value'); // read only with thresholding
  f.only('solver_p', [null], 'only UniPC’s own predictor is implemented');
  for (const sigmas of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas']) {
    f.only(sigmas, [false], 'only linearly spaced, shifted flow σ are implemented');
  }
  f.only('final_sigmas_type', ['zero'], "the last step lands on σ = 0 (with 'sigma_min' diffusers' last step has h = 0 and divides by it)");
  f.only('use_dynamic_shifting', [false], 'only the static flow_shift is implemented');
  f.only('shift_terminal', [null], 'stretching the shifted σ to a terminal value is not implemented');
  return { kind: 'unipc', steps, flowShift, trainSteps, solverOrder, solverType, lowerOrderFinal, disableCorrector };
}
