// UniPC (Zhao et al. 2023), the predictor–corrector multistep solver, for flow-prediction models on flow σ, as
// diffusers' UniPCMultistepScheduler runs it for Wan (use_flow_sigmas, prediction_type "flow_prediction",
// predict_x0, bh1/bh2, orders 1–2): x_σ = (1 − σ)·x0 + σ·ε, α = 1 − σ, λ = log α − log σ, the model's velocity v
// gives x0 = x − σ·v. Every step is computed in float32 op for op as torch does, so results match diffusers'.
import { DiffusionConfigError, checkSameLength, checkStepIndex } from './errors.js';
import { f32 } from './float32.js';
import { PlanCommon, checkSteps } from './plan.js';
import { numpyLinspace } from './schedule.js';

export type UniPcSolverType = 'bh1' | 'bh2';

export interface UniPcOptions {
  /** static flow shift s (diffusers `flow_shift`; Wan uses 3 at 480p, 5 at 720p): σ' = s·σ/(1 + (s − 1)·σ). Default 1. */
  flowShift?: number;
  /** num_train_timesteps T: σ runs from 1 toward 1/T, model timestep = trunc(σ·T). Default 1000. */
  trainSteps?: number;
  /** predictor order p (diffusers `solver_order`; the corrector then reaches p + 1). 1 or 2, default 2. */
  solverOrder?: 1 | 2;
  /**
   * B(h) of the update: 'bh1' h, 'bh2' e^h − 1 (diffusers' default). With 'bh1' diffusers returns NaN on the step
   * onto σ = 0 (it multiplies B(h) = −∞ by a zero correction); this plan leaves the zero term out there.
   */
  solverType?: UniPcSolverType;
  /** cap the order at the steps left, so the last step is first order (diffusers `lower_order_final`). Default true. */
  lowerOrderFinal?: boolean;
  /** steps whose following corrector is skipped (diffusers `disable_corrector`). Default []. */
  disableCorrector?: readonly number[];
}

export interface UniPcPlan extends PlanCommon {
  readonly kind: 'unipc';
  readonly solverOrder: 1 | 2;
  readonly solverType: UniPcSolverType;
  readonly disableCorrector: readonly number[];
  /** [steps + 1] scheduler.sigmas (float32 values): shifted flow σ, σ_0 = 1 − 1e-6 when it would be 1, then 0 */
  readonly sigmas: Float64Array;
  /** [steps + 1] α = 1 − σ (float32) */
  readonly alphas: Float64Array;
  /** [steps + 1] λ = log α − log σ (float32); +Infinity at σ = 0 */
  readonly lambdas: Float64Array;
  /** [steps] predictor order of each step: min(p, steps done + 1), and min(p, steps left) with lowerOrderFinal */
  readonly orders: readonly (1 | 2)[];
}

/** The solver's memory for one request: the last two x0 predictions and the sample before the last predictor. */
export interface UniPcState {
  x0History: (Float32Array | null)[]; // [older, newest]
  lastSample: Float32Array | null;
  prevStepIndex: number; // −1 before the first step
}

export function createUniPcState(): UniPcState {
  return { x0History: [null, null], lastSample: null, prevStepIndex: -1 };
}

/**
 * UniPCMultistepScheduler.set_timesteps(N) with use_flow_sigmas: σ = numpy.linspace(1, 1/T, N + 1)[:-1] shifted
 * (float64), σ_0 −= 1e-6 if within 1e-6 of 1, timesteps = int64(σ·T) (truncated, not rounded), then σ in float32 with 0 appended.
 */
export function uniPcPlan(steps: number, opts: UniPcOptions = {}): UniPcPlan {
  const { flowShift = 1, trainSteps = 1000, solverOrder = 2, solverType = 'bh2', lowerOrderFinal = true, disableCorrector = [] } = opts;
  checkSteps('uniPcPlan', steps);
  if (!(flowShift > 0 && Number.isFinite(flowShift))) throw new DiffusionConfigError(`uniPcPlan: flowShift must be a positive number, got ${flowShift}`);
  if (!(Number.isInteger(trainSteps) && trainSteps >= 1)) throw new DiffusionConfigError(`uniPcPlan: trainSteps must be a positive integer, got ${trainSteps}`);
  if (solverOrder !== 1 && solverOrder !== 2) throw new DiffusionConfigError(`uniPcPlan: solverOrder must be 1 or 2, got ${String(solverOrder)}`);
  if (solverType !== 'bh1' && solverType !== 'bh2') throw new DiffusionConfigError(`uniPcPlan: solverType must be 'bh1' or 'bh2', got ${String(solverType)}`);
  if (!disableCorrector.every((s) => Number.isInteger(s))) throw new DiffusionConfigError(`uniPcPlan: disableCorrector must hold step indices, got [${disableCorrector.join(', ')}]`);
  const unshifted = numpyLinspace(1, 1 / trainSteps, steps + 1).subarray(0, steps);
  const shifted = unshifted.map((s) => (flowShift * s) / (1 + (flowShift - 1) * s));
  if (Math.abs(shifted[0]! - 1) < 1e-6) shifted[0]! -= 1e-6; // diffusers: keeps log α finite at the first step
  const timesteps = Array.from(shifted, (s) => Math.trunc(s * trainSteps));
  const sigmas = Float64Array.from([...shifted, 0], f32);
  const alphas = sigmas.map((s) => f32(1 - s));
  const lambdas = sigmas.map((s, k) => f32(f32(Math.log(alphas[k]!)) - f32(Math.log(s))));
  const orders = timesteps.map((_, s) => {
    const cap = lowerOrderFinal ? Math.min(solverOrder, steps - s) : solverOrder;
    return Math.min(cap, s + 1) as 1 | 2;
  });
  if (!lowerOrderFinal && solverOrder === 2 && steps > 1) {
    // diffusers divides by r = (λ_{s−1} − λ_s)/h = 0 there (h = ∞ on the way to σ = 0) and returns ±∞/NaN
    throw new DiffusionConfigError('uniPcPlan: lowerOrderFinal false with order 2 makes the last step (to σ = 0) divide by zero in diffusers; keep it true');
  }
  return {
    kind: 'unipc',
    steps,
    timesteps,
    stepDistances: timesteps.map((t, s) => t - (timesteps[s + 1] ?? 0)),
    solverOrder,
    solverType,
    disableCorrector: [...disableCorrector],
    sigmas,
    alphas,
    lambdas,
    orders,
  };
}

/**
 * UniPCMultistepScheduler.step(v, timesteps[s], x) for step s: x0 = x − σ_s·v; the corrector (UniC, order of the
 * previous predictor) first refines x with this x0 unless s = 0 or s − 1 is in disableCorrector; then the predictor
 * (UniP, order orders[s]) moves to σ_{s+1}. Steps must come in order 0, 1, 2, … with the same state; returns a new array.
 */
export function uniPcStep(plan: UniPcPlan, state: UniPcState, stepIndex: number, x: Float32Array, velocity: Float32Array): Float32Array {
  checkStepIndex('uniPcStep', stepIndex, plan.steps);
  checkSameLength('uniPcStep velocity', x.length, velocity.length);
  if (state.prevStepIndex !== stepIndex - 1) {
    throw new DiffusionConfigError(`uniPcStep: step ${stepIndex} after step ${state.prevStepIndex}; steps must run in order, with a fresh createUniPcState() per request`);
  }
  const s = stepIndex;
  const sigma = plan.sigmas[s]!;
  const x0 = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) x0[i] = x[i]! - f32(sigma * velocity[i]!);
  const [older, newest] = state.x0History;
  let sample = x;
  if (s > 0 && !plan.disableCorrector.includes(s - 1) && state.lastSample !== null) {
    if (state.lastSample.length !== x.length) checkSameLength('uniPcStep (x changed size between steps)', state.lastSample.length, x.length);
    sample = corrector(plan, s, plan.orders[s - 1]!, state.lastSample, x0, newest!, older);
  }
  state.x0History = [newest ?? null, x0];
  state.lastSample = sample;
  state.prevStepIndex = s;
  return predictor(plan, s, plan.orders[s]!, sample, x0, newest ?? null);
}

/** The coefficients both updates share for a step from index `from` to `to`. */
function bhCoefficients(plan: UniPcPlan, from: number, to: number): { h: number; hPhi1: number; hPhiK: number; bh: number } {
  const h = f32(plan.lambdas[to]! - plan.lambdas[from]!);
  const hh = -h; // predict_x0
  const hPhi1 = f32(Math.expm1(hh));
  const hPhiK = f32(f32(hPhi1 / hh) - 1);
  return { h, hPhi1, hPhiK, bh: plan.solverType === 'bh1' ? hh : hPhi1 };
}

/** UniP from σ_s to σ_{s+1}: x' = (σ'/σ)·x − α'·hφ₁·m0 − α'·B(h)·½·D1, D1 = (m_prev − m0)/r (order 2 only). */
function predictor(plan: UniPcPlan, s: number, order: 1 | 2, x: Float32Array, m0: Float32Array, mPrev: Float32Array | null): Float32Array {
  const { h, hPhi1, bh } = bhCoefficients(plan, s, s + 1);
  const xCoef = f32(plan.sigmas[s + 1]! / plan.sigmas[s]!);
  const m0Coef = f32(plan.alphas[s + 1]! * hPhi1);
  const out = new Float32Array(x.length);
  if (order === 1 || mPrev === null) {
    for (let i = 0; i < x.length; i++) out[i] = f32(xCoef * x[i]!) - f32(m0Coef * m0[i]!);
    return out;
  }
  const r = f32(f32(plan.lambdas[s - 1]! - plan.lambdas[s]!) / h);
  const resCoef = f32(plan.alphas[s + 1]! * bh);
  for (let i = 0; i < x.length; i++) {
    const base = f32(f32(xCoef * x[i]!) - f32(m0Coef * m0[i]!));
    const d1 = f32(f32(mPrev[i]! - m0[i]!) / r);
    out[i] = base - f32(resCoef * (0.5 * d1)); // ρ = ½ for order 2; ×½ is exact
  }
  return out;
}

/**
 * UniC at σ_s, refining the predictor's x_s (which left `lastSample` at σ_{s−1}) with this step's x0 `model`:
 *   x_s = (σ_s/σ_{s−1})·lastSample − α_s·hφ₁·m0 − α_s·B(h)·(ρ₀·D1 + ρ₁·(model − m0))
 * m0 = x0 of step s − 1, D1 = (x0 of step s − 2 − m0)/r (order 2), ρ from the order's linear system (ρ = ½ at order 1).
 */
function corrector(plan: UniPcPlan, s: number, order: 1 | 2, lastSample: Float32Array, model: Float32Array, m0: Float32Array, mPrev: Float32Array | null): Float32Array {
  const { h, hPhi1, hPhiK, bh } = bhCoefficients(plan, s - 1, s);
  const xCoef = f32(plan.sigmas[s]! / plan.sigmas[s - 1]!);
  const m0Coef = f32(plan.alphas[s]! * hPhi1);
  const resCoef = f32(plan.alphas[s]! * bh);
  const out = new Float32Array(model.length);
  if (order === 1 || mPrev === null) {
    for (let i = 0; i < out.length; i++) {
      const base = f32(f32(xCoef * lastSample[i]!) - f32(m0Coef * m0[i]!));
      out[i] = base - f32(resCoef * f32(0.5 * f32(model[i]! - m0[i]!)));
    }
    return out;
  }
  const r = f32(f32(plan.lambdas[s - 2]! - plan.lambdas[s - 1]!) / h);
  // b_i = hφ_i·i!/B(h): hφ_1 = hφ₁/hh − 1, hφ_2 = hφ_1/hh − ½ (diffusers' recursion, float32)
  const hh = -h;
  const b1 = f32(hPhiK / bh);
  const hPhiK2 = f32(f32(hPhiK / hh) - 0.5);
  const b2 = f32(f32(hPhiK2 * 2) / bh);
  const [rho0, rho1] = solve2x2F32(r, b1, b2);
  for (let i = 0; i < out.length; i++) {
    const base = f32(f32(xCoef * lastSample[i]!) - f32(m0Coef * m0[i]!));
    const d1 = f32(f32(mPrev[i]! - m0[i]!) / r);
    const res = f32(f32(rho0 * d1) + f32(rho1 * f32(model[i]! - m0[i]!)));
    out[i] = base - f32(resCoef * res);
  }
  return out;
}

/**
 * torch.linalg.solve([[1, 1], [r, 1]], [b1, b2]) in float32, as LAPACK's sgesv does it: partial pivoting, the
 * pivot column scaled by the pivot's reciprocal, then forward and back substitution.
 */
function solve2x2F32(r: number, b1: number, b2: number): [number, number] {
  // rows (a11, a12 | rhs)
  let [a11, a12, c1] = [1, 1, b1];
  let [a21, a22, c2] = [r, 1, b2];
  if (Math.abs(a21) > Math.abs(a11)) [a11, a12, c1, a21, a22, c2] = [a21, a22, c2, a11, a12, c1];
  const l = f32(a21 * f32(1 / a11));
  const u22 = f32(a22 - f32(l * a12));
  const y2 = f32(c2 - f32(l * c1));
  const x2 = f32(y2 / u22);
  const x1 = f32(f32(c1 - f32(a12 * x2)) / a11);
  return [x1, x2];
}
