// TeaCache: accumulate the rescaled relative L1 change of block 0's modulated input between consecutive
// steps; compute (and reset) once it reaches the threshold, otherwise reuse the last stack residual.

import { CacheUsageError, type CacheSignals, type Decision, type SampleCacheContext, type StepInfo } from './contract.js';
import { fullStepGuard, maxSkipsGuard } from './guards.js';
import { ValueHistory } from './history.js';
import type { MethodDefinition } from './method-def.js';
import { polyval } from './polyfit.js';
import { SampleCacheBase, type CheckedPrediction } from './sample-base.js';
import { int, num, numbers, type ResolvedSettings } from './settings.js';
import { addCheckedInto, relativeL1 } from './vec.js';

const schema = {
  threshold: num(0.1, 'compute once the accumulated rescaled change reaches this', { min: 0 }),
  coefficients: numbers(
    [0, 1],
    'rescale polynomial, LOWEST degree first: rescale(x) = c0 + c1·x + …; [0, 1] = identity (numpy/TeaCache lists are highest first)',
  ),
  warmupSteps: int(1, 'steps 0..warmupSteps−1 always compute (TeaCache: the first step)', { min: 0 }),
  finalSteps: int(1, 'the last finalSteps steps always compute (TeaCache: the last step)', { min: 0 }),
  maxConsecutiveSkips: int(0, 'compute after this many reused steps in a row (0 = unlimited)', { min: 0 }),
};
type TeaSettings = ResolvedSettings<typeof schema>;

/**
 * TeaCache4FLUX's rescale polynomial, fitted by its authors on FLUX.1-dev's first double block (numpy order
 * 498.65·x⁴ − 283.78·x³ + 55.86·x² − 3.82·x + 0.264), here lowest degree first. Calibrated for the real
 * weights: on any other model, fit your own with `tcpade calibrate`.
 */
const FLUX_DEV_COEFFICIENTS = [2.64230861e-1, -3.82021401, 5.58554382e1, -2.83781631e2, 4.98651651e2];

class TeaCacheSampleCache extends SampleCacheBase {
  private readonly residual = new ValueHistory(1);
  private residualFinite = true;
  private previousInput: Float32Array | null = null;
  private accumulated = 0;

  constructor(
    ctx: SampleCacheContext,
    label: string,
    private readonly s: TeaSettings,
  ) {
    super(ctx, label);
  }

  protected plan(step: StepInfo, signals: CacheSignals): Decision {
    const modulated = this.requireSignal(signals, 'modulatedInput0', step);
    // The change is measured between consecutive steps, computed or not (TeaCache keeps the previous
    // modulated input every step).
    if (this.previousInput !== null && this.previousInput.length !== modulated.length) {
      throw new CacheUsageError(
        `${this.where()}: signals.modulatedInput0 has ${modulated.length} elements at step ${step.stepIndex}, earlier steps had ${this.previousInput.length}`,
      );
    }
    const change = this.previousInput === null ? NaN : relativeL1(modulated, this.previousInput);
    this.previousInput ??= new Float32Array(modulated.length);
    this.previousInput.set(modulated);

    const guard =
      fullStepGuard(step.stepIndex, step.totalSteps, this.s) ??
      (this.residual.length === 0 ? { compute: true, reason: 'history' as const } : null) ??
      (this.residualFinite && Number.isFinite(change) ? null : { compute: true, reason: 'nan-fallback' as const }) ??
      maxSkipsGuard(this.consecutiveSkips, this.s.maxConsecutiveSkips);
    if (guard !== null) return guard;
    this.accumulated += polyval(this.s.coefficients, change);
    if (!Number.isFinite(this.accumulated)) return { compute: true, reason: 'nan-fallback' };
    const base = { reason: 'teacache' as const, signal: this.accumulated, threshold: this.s.threshold };
    return this.accumulated < this.s.threshold ? { compute: false, ...base } : { compute: true, ...base };
  }

  protected predictSection(_step: StepInfo, _section: number, input: Float32Array, out: Float32Array): CheckedPrediction {
    return { data: out, finite: addCheckedInto(out, input, this.residual.at(0).data) };
  }

  protected record(step: StepInfo, _section: number, input: Float32Array, output: Float32Array, computed: boolean): void {
    if (!computed) return;
    this.residualFinite = this.residual.pushResidualChecked(step.stepIndex, step.tau, input, output);
    this.accumulated = 0;
  }

  bytesHeld(): number {
    return this.residual.bytesHeld() + (this.previousInput?.byteLength ?? 0);
  }
}

export const teaCacheDefinition: MethodDefinition<typeof schema> = {
  name: 'teacache',
  description: "TeaCache: accumulated rescaled relative L1 change of block 0's modulated input vs a threshold; reuses the stack residual.",
  schema,
  presets: {
    slow: { threshold: 0.1 },
    fast: { threshold: 0.2 },
    faster: { threshold: 0.3 },
    // TeaCache4FLUX's published operating points (≈1.5× and ≈2.0× on FLUX.1-dev at 28 steps, its README).
    'flux-slow': { threshold: 0.25, coefficients: FLUX_DEV_COEFFICIENTS },
    'flux-fast': { threshold: 0.6, coefficients: FLUX_DEV_COEFFICIENTS },
  },
  defaultPreset: 'slow',
  granularity: () => 'stack',
  needs: () => ({ modulatedInput0: true }),
  createSampleCache: (s, ctx, label) => new TeaCacheSampleCache(ctx, label, s),
};
