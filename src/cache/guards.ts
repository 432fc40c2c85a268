// Reusable guards every skipping method composes: warm-up and final full steps, interval schedules,
// maximum consecutive skips and sampling stages, all derived from THIS request's step count.

import type { Decision, Stage } from './contract.js';

/** First step index at or after `fraction · totalSteps` (tolerant of 0.3·20 = 6.000000000000001). */
export function stageBoundary(fraction: number, totalSteps: number): number {
  return Math.max(0, Math.ceil(fraction * totalSteps - 1e-9));
}

/** early: s < early·S; late: s ≥ late·S; middle otherwise. */
export function stageOf(stepIndex: number, totalSteps: number, earlyFraction: number, lateFraction: number): Stage {
  if (stepIndex < stageBoundary(earlyFraction, totalSteps)) return 'early';
  if (stepIndex >= stageBoundary(lateFraction, totalSteps)) return 'late';
  return 'middle';
}

export interface FullStepGuards {
  /** Steps 0..warmupSteps-1 always compute. */
  readonly warmupSteps: number;
  /** The last finalSteps steps always compute. */
  readonly finalSteps: number;
}

/** A compute decision if the step is a warm-up or final step, else null. */
export function fullStepGuard(stepIndex: number, totalSteps: number, g: FullStepGuards): Decision | null {
  if (stepIndex < g.warmupSteps) return { compute: true, reason: 'warmup' };
  if (stepIndex >= totalSteps - g.finalSteps) return { compute: true, reason: 'final' };
  return null;
}

export type IntervalMode = 'grid' | 'since-compute';

/**
 * Whether an interval schedule makes this a full step.
 * - `grid`: full on anchor, anchor+N, anchor+2N, … where anchor = max(warmupSteps − 1, 0): the last
 *   warm-up step opens the first interval (TaylorSeer's counter: N−1 skips between full steps; with no
 *   warm-up, FORA's s % N == 0).
 * - `since-compute`: full when N or more steps passed since the last computed step (an extra compute
 *   forced by a gate restarts the interval).
 */
export function intervalFull(
  stepIndex: number,
  interval: number,
  warmupSteps: number,
  mode: IntervalMode,
  lastComputedStep: number,
): boolean {
  if (interval <= 1) return true;
  if (mode === 'since-compute') return lastComputedStep < 0 || stepIndex - lastComputedStep >= interval;
  const anchor = Math.max(warmupSteps - 1, 0);
  return stepIndex >= anchor && (stepIndex - anchor) % interval === 0;
}

/** A compute decision once `consecutiveSkips` reached `limit` (0 = unlimited), else null. */
export function maxSkipsGuard(consecutiveSkips: number, limit: number): Decision | null {
  if (limit > 0 && consecutiveSkips >= limit) {
    return { compute: true, reason: 'max-skips', signal: consecutiveSkips, threshold: limit };
  }
  return null;
}
