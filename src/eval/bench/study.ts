// The residual-prediction study (the paper's RQ1): on full trajectories, how well does each predictor
// extrapolate the value at step s from the values at s−g, s−2g, s−3g, on the stack residual and raw output?
import {
  DividedDifferences,
  createCacheMethod,
  earlyBlendInto,
  padePaperInto,
  referencePredictionInto,
  stabilityFactor,
  stageOf,
  tcPadePredictInto,
  resolveAutoExtrapolation,
  isAuto,
  type ReferenceSettings,
  type ResidualPoint,
  type TcPadeSettings,
} from '../../cache/index.js';
import { mean, median, quantile } from './numbers.js';

/**
 * - reuse: the value at s−g (FORA, TeaCache, FBCache);
 * - taylor1 / taylor2: Newton divided differences over the actual tau of the history (TaylorSeer O=1/2, exact on
 *   polynomials of that degree at any spacing);
 * - pade: the paper's [2/1] formula alone (σ-damped, denominator 1 + (σ/λ)·R1), every stage;
 * - paper: TC-Padé paper presets' full rule (early blend, Padé, late β kick), as `tcpade/paper-fast` predicts;
 * - reference: the released code's rule (element-wise σ, clamp, blend; stages for 20 steps), without its
 *   input-drift term (that belongs to reconstruction, not to the residual);
 * - ours: `tcpade/fast`'s rule — the same function src/cache/tcpade.ts predicts with.
 */
export const STUDY_PREDICTORS = ['reuse', 'taylor1', 'taylor2', 'pade', 'paper', 'reference', 'ours'] as const;
export type StudyPredictor = (typeof STUDY_PREDICTORS)[number];
export const STUDY_TARGETS = ['residual', 'raw'] as const;
export type StudyTarget = (typeof STUDY_TARGETS)[number];

/** One history value: the step it belongs to, its trajectory coordinate, the flattened tensor [T*D]. */
export type HistoryPoint = ResidualPoint;

/** One full trajectory of one (sample, branch): per step the stack residual and the stack output. */
export interface Trajectory {
  /** taus[s] = the cache coordinate of step s (DDPM: t/1000, flow: sigma). */
  readonly taus: readonly number[];
  readonly residual: readonly Float32Array[];
  readonly raw: readonly Float32Array[];
}

export interface PredictorSettings {
  readonly paper: TcPadeSettings;
  readonly ours: TcPadeSettings;
  readonly reference: ReferenceSettings;
}

/** Settings of the registered presets the study's TC-Padé predictors stand for. */
export function registeredPredictorSettings(): PredictorSettings {
  // The registry's settings record is typed loosely (every method shares it); these presets are tcpade's.
  return {
    paper: createCacheMethod('tcpade', 'paper-fast').settings as unknown as TcPadeSettings,
    ours: createCacheMethod('tcpade', 'fast').settings as unknown as TcPadeSettings,
    reference: createCacheMethod('tcpade', 'reference').settings as unknown as ReferenceSettings,
  };
}

export interface TargetStep {
  readonly stepIndex: number;
  readonly totalSteps: number;
  readonly tau: number;
}

/** The released code's residual rule (method.md §4) for history `h` (newest first, ≥ 2 points). */
export function referencePredictInto(out: Float32Array, s: ReferenceSettings, h: readonly HistoryPoint[], step: TargetStep): Float32Array {
  const r1 = h[0].data;
  const r2 = h[1].data;
  const stage = stageOf(step.stepIndex, s.stageTotalSteps > 0 ? s.stageTotalSteps : step.totalSteps, s.earlyFraction, s.lateFraction);
  if (stage === 'early') {
    earlyBlendInto(out, r1, r2, s.alpha1);
    for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) out[i] = r1[i] + s.fallbackFactor * (r1[i] - r2[i]);
    return out;
  }
  referencePredictionInto(out, r1, r2, stage, s);
  return out;
}

/** Newton divided differences of `order` through the history (oldest added first), evaluated at step.tau. */
function taylorPredictInto(out: Float32Array, order: number, h: readonly HistoryPoint[], step: TargetStep): Float32Array {
  const dd = new DividedDifferences(order, 'newton');
  for (let k = Math.min(h.length, order + 1) - 1; k >= 0; k--) dd.update(h[k].tau, h[k].data);
  return dd.evaluateInto(out, step.tau);
}

/** One predictor's estimate of the value at `step` from history `h` (newest first, 3 points). */
export function predictInto(out: Float32Array, predictor: StudyPredictor, h: readonly HistoryPoint[], step: TargetStep, settings: PredictorSettings): Float32Array {
  switch (predictor) {
    case 'reuse':
      out.set(h[0].data);
      return out;
    case 'taylor1':
      return taylorPredictInto(out, 1, h, step);
    case 'taylor2':
      return taylorPredictInto(out, 2, h, step);
    case 'pade': {
      const p = settings.paper;
      return padePaperInto(out, h[0].data, h[1].data, stabilityFactor(h[0].data, h[1].data, p.lambda), p.lambda, p.epsilon, 1);
    }
    case 'paper':
      return tcPadePredictInto(out, settings.paper, h, step);
    case 'reference':
      return referencePredictInto(out, settings.reference, h, step);
    case 'ours': {
      // 'auto' picks its order by backtesting on the newest value (needs a 4th, older point), as the cache does.
      const { settings: ours, backtest } = isAuto(settings.ours) ? resolveAutoExtrapolation(settings.ours, h) : { settings: settings.ours, backtest: undefined };
      return tcPadePredictInto(out, ours, h.slice(0, 3), step, { backtest });
    }
  }
}

/** ‖pred − truth‖ / ‖truth‖ in float64; Infinity when the prediction is not finite, NaN when truth is 0. */
export function relativeL2Error(pred: Float32Array, truth: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < truth.length; i++) {
    const d = pred[i] - truth[i];
    num += d * d;
    den += truth[i] * truth[i];
  }
  if (!Number.isFinite(num)) return Infinity;
  return den === 0 ? NaN : Math.sqrt(num / den);
}

/** Aggregate error of one (target, predictor, gap) over every trajectory and eligible step s ≥ 3g. */
export interface StudyCell {
  readonly target: StudyTarget;
  readonly predictor: StudyPredictor;
  readonly gap: number;
  readonly median: number;
  readonly mean: number;
  readonly p90: number;
  /** (trajectory, step) pairs measured. */
  readonly count: number;
}

/** Per step s: the median over trajectories of the error at that step (null where s < 3g). */
export interface StudyPerStep {
  readonly target: StudyTarget;
  readonly predictor: StudyPredictor;
  readonly gap: number;
  readonly medianByStep: readonly (number | null)[];
}

export interface StudyErrors {
  readonly cells: StudyCell[];
  readonly perStep: StudyPerStep[];
}

export interface StudyOptions {
  readonly maxGap: number;
  readonly predictors?: readonly StudyPredictor[];
  readonly targets?: readonly StudyTarget[];
  readonly settings?: PredictorSettings;
}

/**
 * Errors of every predictor at gaps 1..maxGap: at each step s with s − 3g ≥ 0 the history is the true
 * values at s−g, s−2g, s−3g (the same eligible steps for every predictor, so they compare like for like).
 */
export function studyErrors(trajectories: readonly Trajectory[], o: StudyOptions): StudyErrors {
  const predictors = o.predictors ?? STUDY_PREDICTORS;
  const targets = o.targets ?? STUDY_TARGETS;
  const settings = o.settings ?? registeredPredictorSettings();
  const cells: StudyCell[] = [];
  const perStep: StudyPerStep[] = [];
  if (trajectories.length === 0) return { cells, perStep };
  const totalSteps = trajectories[0].taus.length;
  for (const t of trajectories) {
    if (t.taus.length !== totalSteps || t.residual.length !== totalSteps || t.raw.length !== totalSteps) {
      throw new RangeError(`study: every trajectory needs ${totalSteps} taus, residuals and raw outputs; got ${t.taus.length}, ${t.residual.length}, ${t.raw.length}`);
    }
  }
  const size = trajectories[0].residual[0].length;
  const out = new Float32Array(size);
  for (const target of targets) {
    for (let gap = 1; gap <= o.maxGap; gap++) {
      const errors = new Map<StudyPredictor, number[]>(predictors.map((p) => [p, []]));
      const byStep = new Map<StudyPredictor, (number | null)[]>(predictors.map((p) => [p, new Array<number | null>(totalSteps).fill(null)]));
      for (let s = 3 * gap; s < totalSteps; s++) {
        const atStep = new Map<StudyPredictor, number[]>(predictors.map((p) => [p, []]));
        for (const t of trajectories) {
          const values = target === 'residual' ? t.residual : t.raw;
          const depth = s - 4 * gap >= 0 ? 4 : 3; // the 4th point only feeds ours' order backtest
          const h: HistoryPoint[] = Array.from({ length: depth }, (_, i) => i + 1).map((k) => ({ stepIndex: s - k * gap, tau: t.taus[s - k * gap], data: values[s - k * gap] }));
          const step: TargetStep = { stepIndex: s, totalSteps, tau: t.taus[s] };
          for (const p of predictors) {
            const e = relativeL2Error(predictInto(out, p, h, step, settings), values[s]);
            if (Number.isNaN(e)) continue;
            errors.get(p)!.push(e);
            atStep.get(p)!.push(e);
          }
        }
        for (const p of predictors) {
          const m = median(atStep.get(p)!);
          byStep.get(p)![s] = Number.isNaN(m) ? null : m;
        }
      }
      for (const p of predictors) {
        const e = errors.get(p)!;
        cells.push({ target, predictor: p, gap, median: median(e), mean: mean(e), p90: quantile(e, 0.9), count: e.length });
        perStep.push({ target, predictor: p, gap, medianByStep: byStep.get(p)! });
      }
    }
  }
  return { cells, perStep };
}
