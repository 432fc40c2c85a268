// TC-Padé as the authors' released (FLUX) code behaves (method.md §4): element-wise σ, `1 − 0.1σ`
// denominator, clamp + blend, NaN fallback, small-history average, input drift, predicted history.

import type { CacheSignals, Decision, SampleCacheContext, Stage, StepInfo } from './contract.js';
import { maxSkipsGuard, stageOf } from './guards.js';
import { ValueHistory } from './history.js';
import type { MethodDefinition } from './method-def.js';
import { SampleCacheBase, type CheckedPrediction } from './sample-base.js';
import { flag, int, num, numbers, type ResolvedSettings } from './settings.js';
import { earlyBlendInto, guardDenominator, trajectoryStabilityIndicator } from './tcpade-math.js';
import { allFinite, linearCombinationCheckedInto } from './vec.js';
import { kernels, type Kernels } from './simd/kernels.js';

const schema = {
  warmupSteps: int(5, 'steps 0..warmupSteps−1 always compute (code: 0…4)', { min: 0 }),
  fullEvery: int(8, 'steps with s % fullEvery == 0 compute (code: 8)', { min: 1 }),
  finalSteps: int(1, 'the last finalSteps steps always compute', { min: 0 }),
  theta: num(1.4, 'gate: skip when TSI < theta (code: 1.4; TSI ≤ 1, so above 1 the gate is always open and the TSI is not computed)', { min: 0 }),
  lambda: num(10, 'element-wise σ = exp(−λ·|R1−R2| / (|R1|+|R2|+sigmaEpsilon))', { min: 0 }),
  sigmaEpsilon: num(1e-8, 'ε inside element-wise σ', { min: 0 }),
  denominatorScale: num(0.1, 'denominator 1 − denominatorScale·σ', { min: 0 }),
  epsilon: num(1e-6, 'denominator guard |den| ≥ ε, sign kept', { min: 1e-12 }),
  avgWeight: num(0.6, 'clamp centre avg = w·R1 + (1 − w)·R2', { min: 0, max: 1 }),
  deviationFactor: num(0.5, 'maxDev = max(deviationFactor·|R1−R2|, magnitudeFactor·½(|R1|+|R2|))', { min: 0 }),
  magnitudeFactor: num(0.1, 'see deviationFactor', { min: 0 }),
  blendSigmaWeight: num(0.7, 'blend w = blendSigmaWeight·σ + blendBase; R̂ = w·clamped + (1 − w)·avg', { min: 0 }),
  blendBase: num(0.3, 'see blendSigmaWeight', { min: 0 }),
  alpha1: num(0.9, 'early stage: R̂ = α1·R1 + (1 − α1)·R2', { min: 0, max: 1 }),
  beta: num(0.3, 'late stage: R̂ += β·(R1 − R2) after clamp and blend'),
  fallbackFactor: num(0.5, 'non-finite element → R1 + fallbackFactor·(R1 − R2)'),
  driftFactor: num(0.2, 'x_out = x_in + R̂ + driftFactor·(x_in(s) − x_in(s−1))'),
  smallHistoryWeights: numbers([0.4, 0.3, 0.2, 0.1], 'with fewer than minHistory residuals: weighted average of the newest, weights renormalised'),
  minHistory: int(3, 'residuals needed for the Padé path (and TSI)', { min: 2 }),
  appendPredicted: flag(true, 'append predicted residuals to the history (code), not only computed ones (paper)'),
  earlyFraction: num(0.3, 'early stage: s < earlyFraction·stageTotalSteps', { min: 0, max: 1 }),
  lateFraction: num(0.8, 'late stage: s ≥ lateFraction·stageTotalSteps', { min: 0, max: 1 }),
  stageTotalSteps: int(20, 'step count the stage boundaries assume (code: hard-coded 20; 0 = this request)', { min: 0 }),
  maxConsecutiveSkips: int(0, 'compute after this many skipped steps in a row (0 = unlimited; the code has none)', { min: 0 }),
};
export type ReferenceSettings = ResolvedSettings<typeof schema>;

const FLOAT32_MAX = 3.4028234663852886e38;
const LOG2E = Math.LOG2E;
const LN2 = Math.LN2;
/** 2^−k for k = 0 … 1022 (exact normal doubles), for the fast exponential below. */
const POW2_NEG = Float64Array.from({ length: 1023 }, (_, k) => 2 ** -k);

/**
 * e^x for x ≤ 0 (NaN stays NaN), relative error < 2e-7 — below float32 resolution, which is what the
 * released code computes σ in. Range reduction x = n·ln2 + r, |r| ≤ ln2/2, then a degree-6 Taylor
 * polynomial; ~4× faster than Math.exp in this per-element loop, which dominated `reference`'s cost.
 */
export function expNonPositive(x: number): number {
  if (!(x > -708)) return Math.exp(x); // NaN, or results near/below the subnormal range (never σ's)
  const n = Math.round(x * LOG2E);
  const r = x - n * LN2;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720))))));
  return p * POW2_NEG[-n];
}

/**
 * The released code's middle/late prediction, element-wise (R1 newest): element-wise σ, Padé with
 * denominator 1 − k·σ, clamp to avg ± maxDev, blend towards avg, late increment, NaN/Inf fallback.
 * Returns the number of elements that needed the fallback.
 */
export function referencePredictionInto(
  out: Float32Array,
  r1: Float32Array,
  r2: Float32Array,
  stage: Exclude<Stage, 'early'>,
  k: ReferenceSettings,
  using: Kernels = kernels,
): number {
  const beta = stage === 'late' ? k.beta : 0;
  // The wasm kernel computes in float32, as the released PyTorch code does; the loop below in float64.
  if (using.referencePredictionInto) return using.referencePredictionInto(out, r1, r2, { ...k, beta });
  let fallbacks = 0;
  // Constants hoisted: this loop runs over every element of the residual on every skipped step.
  const { lambda, sigmaEpsilon, denominatorScale, epsilon, avgWeight, deviationFactor, magnitudeFactor } = k;
  const { blendSigmaWeight, blendBase, fallbackFactor } = k;
  const halfMagnitude = 0.5 * magnitudeFactor;
  for (let i = 0; i < out.length; i++) {
    const a = r1[i];
    const b = r2[i];
    const absA = Math.abs(a);
    const absB = Math.abs(b);
    const diff = a - b;
    const absDiff = Math.abs(diff);
    const sigma = expNonPositive((-lambda * absDiff) / (absA + absB + sigmaEpsilon));
    let den = 1 - denominatorScale * sigma;
    if (!(Math.abs(den) >= epsilon)) den = guardDenominator(den, epsilon);
    const pade = (2 * sigma * a - sigma * b) / den;
    const avg = avgWeight * a + (1 - avgWeight) * b;
    const devA = deviationFactor * absDiff;
    const devB = halfMagnitude * (absA + absB);
    const maxDev = devA > devB ? devA : devB;
    const lo = avg - maxDev;
    const hi = avg + maxDev;
    const clamped = pade < lo ? lo : pade > hi ? hi : pade;
    const w = blendSigmaWeight * sigma + blendBase;
    let p = w * clamped + (1 - w) * avg + beta * diff;
    // NaN anywhere above propagates into p (every comparison with NaN is false); beyond FLOAT32_MAX the
    // stored float32 would be ±Inf.
    if (!(Math.abs(p) <= FLOAT32_MAX)) {
      p = a + fallbackFactor * diff;
      fallbacks++;
    }
    out[i] = p;
  }
  return fallbacks;
}

/** Weighted average of the newest residuals with `weights` renormalised over those available. */
export function smallHistoryAverageInto(out: Float32Array, newestFirst: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const n = Math.min(newestFirst.length, weights.length);
  let total = 0;
  for (let k = 0; k < n; k++) total += weights[k];
  out.fill(0);
  for (let k = 0; k < n; k++) {
    const w = weights[k] / total;
    const v = newestFirst[k];
    for (let i = 0; i < out.length; i++) out[i] += w * v[i];
  }
  return out;
}

class TcPadeReferenceSampleCache extends SampleCacheBase {
  private readonly history: ValueHistory;
  private prediction: Float32Array | null = null;
  private previousInput: Float32Array | null = null;
  private previousInputStep = -1;

  constructor(
    ctx: SampleCacheContext,
    label: string,
    private readonly s: ReferenceSettings,
  ) {
    super(ctx, label);
    this.history = new ValueHistory(Math.max(3, s.minHistory, s.smallHistoryWeights.length));
  }

  protected plan(step: StepInfo, _signals: CacheSignals): Decision {
    const { stepIndex: s, totalSteps } = step;
    const stage = stageOf(s, this.s.stageTotalSteps > 0 ? this.s.stageTotalSteps : totalSteps, this.s.earlyFraction, this.s.lateFraction);
    if (s < this.s.warmupSteps) return { compute: true, reason: 'warmup', stage };
    if (s >= totalSteps - this.s.finalSteps) return { compute: true, reason: 'final', stage };
    if (s % this.s.fullEvery === 0) return { compute: true, reason: 'schedule', stage };
    if (this.history.length === 0) return { compute: true, reason: 'history', stage };
    const skips = maxSkipsGuard(this.consecutiveSkips, this.s.maxConsecutiveSkips);
    if (skips !== null) return { ...skips, stage };

    const n = this.history.length;
    const r1 = this.history.at(0).data;
    if (this.prediction === null || this.prediction.length !== r1.length) this.prediction = new Float32Array(r1.length);
    const out = this.prediction;
    let tsi: number | undefined;
    if (n < this.s.minHistory) {
      const newest = Array.from({ length: n }, (_, k) => this.history.at(k).data);
      smallHistoryAverageInto(out, newest, this.s.smallHistoryWeights);
    } else {
      const r2 = this.history.at(1).data;
      // TSI ≤ 1, so a threshold above 1 (the code's 1.4) never closes the gate: no TSI pass then. A NaN
      // history still ends in a computed step, through the prediction's finiteness check.
      if (this.s.theta <= 1) {
        tsi = trajectoryStabilityIndicator(r1, r2, this.history.at(2).data);
        if (Number.isNaN(tsi)) return { compute: true, reason: 'nan-fallback', stage, signal: tsi, threshold: this.s.theta };
        if (!(tsi < this.s.theta)) return { compute: true, reason: 'tsi', stage, signal: tsi, threshold: this.s.theta };
      }
      if (stage === 'early') {
        earlyBlendInto(out, r1, r2, this.s.alpha1);
        if (!allFinite(out)) {
          for (let i = 0; i < out.length; i++) {
            if (!Number.isFinite(out[i])) out[i] = r1[i] + this.s.fallbackFactor * (r1[i] - r2[i]);
          }
        }
      } else {
        referencePredictionInto(out, r1, r2, stage, this.s);
      }
    }
    const gate = tsi === undefined ? {} : { signal: tsi, threshold: this.s.theta };
    // A non-finite R̂ makes x_in + R̂ non-finite, which predict() reports: the pipeline then computes.
    return { compute: false, reason: tsi === undefined ? 'schedule' : 'tsi', stage, ...gate };
  }

  protected predictSection(step: StepInfo, _section: number, input: Float32Array, out: Float32Array): CheckedPrediction {
    const r = this.prediction!;
    const prev = this.previousInputStep === step.stepIndex - 1 ? this.previousInput : null;
    const drift = this.s.driftFactor;
    // x_in + R̂ + drift·(x_in − x_in(s−1)), one fused pass
    const finite =
      prev === null
        ? linearCombinationCheckedInto(out, [r], [1], input)
        : linearCombinationCheckedInto(out, [input, r, prev], [1 + drift, 1, -drift]);
    return { data: out, finite };
  }

  protected record(step: StepInfo, _section: number, input: Float32Array, output: Float32Array, computed: boolean): void {
    if (computed) this.history.pushResidual(step.stepIndex, step.tau, input, output);
    // the prediction buffer itself joins the history; the buffer it frees holds the next prediction
    else if (this.s.appendPredicted) this.prediction = this.history.pushAdopt(step.stepIndex, step.tau, this.prediction!);
    this.previousInput ??= new Float32Array(input.length);
    this.previousInput.set(input);
    this.previousInputStep = step.stepIndex;
  }

  bytesHeld(): number {
    return this.history.bytesHeld() + (this.prediction?.byteLength ?? 0) + (this.previousInput?.byteLength ?? 0);
  }
}

export const tcPadeReferenceDefinition: MethodDefinition<typeof schema> = {
  name: 'tcpade',
  description: "TC-Padé as the released code behaves (method.md §4).",
  schema,
  presets: { reference: {} },
  defaultPreset: 'reference',
  granularity: () => 'stack',
  needs: () => ({}),
  createSampleCache: (s, ctx, label) => new TcPadeReferenceSampleCache(ctx, label, s),
};
