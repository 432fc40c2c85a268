// FORA-style reuse: on a full step store each section's residual (or raw output); on the N−1 steps
// between full steps reuse it unchanged. Reuse is exact when the cached quantity is constant.

import type { CacheSignals, Decision, SampleCacheContext, StepInfo } from './contract.js';
import { fullStepGuard, intervalFull, maxSkipsGuard } from './guards.js';
import { ValueHistory } from './history.js';
import type { MethodDefinition } from './method-def.js';
import { SampleCacheBase, type CheckedPrediction } from './sample-base.js';
import { int, oneOf, type ResolvedSettings } from './settings.js';
import { addCheckedInto } from './vec.js';

const schema = {
  interval: int(3, 'N: a full step every N steps, N−1 reused steps between', { min: 1 }),
  warmupSteps: int(0, 'steps 0..warmupSteps−1 always compute; the last one opens the first interval', { min: 0 }),
  finalSteps: int(0, 'the last finalSteps steps always compute', { min: 0 }),
  maxConsecutiveSkips: int(0, 'compute after this many reused steps in a row (0 = unlimited)', { min: 0 }),
  granularity: oneOf(['stack', 'per-block', 'output'], 'stack', 'where the pipeline cuts (per-block reuse of every block equals stack reuse up to rounding)'),
  target: oneOf(['residual', 'raw'], 'residual', "residual: reuse output − input, added to this step's input; raw: reuse the output itself"),
};
type ForaSettings = ResolvedSettings<typeof schema>;

/** Reuse of the last computed value per section; `target` says residual or raw output. */
export class ReuseSampleCache extends SampleCacheBase {
  private readonly stored: ValueHistory[];
  /** Per section: whether the stored value is finite (a NaN/Inf compute must not be reused). */
  private readonly finite: boolean[];

  constructor(
    ctx: SampleCacheContext,
    label: string,
    private readonly s: ForaSettings,
  ) {
    super(ctx, label);
    this.stored = Array.from({ length: ctx.sections }, () => new ValueHistory(1));
    this.finite = new Array<boolean>(ctx.sections).fill(true);
  }

  protected plan(step: StepInfo, _signals: CacheSignals): Decision {
    const { stepIndex, totalSteps } = step;
    return (
      fullStepGuard(stepIndex, totalSteps, this.s) ??
      (intervalFull(stepIndex, this.s.interval, this.s.warmupSteps, 'grid', this.lastFullStep) ? { compute: true, reason: 'schedule' } : null) ??
      (this.stored.some((h) => h.length === 0) ? { compute: true, reason: 'history' } : null) ??
      (this.finite.every((f) => f) ? null : { compute: true, reason: 'nan-fallback' }) ??
      maxSkipsGuard(this.consecutiveSkips, this.s.maxConsecutiveSkips) ?? { compute: false, reason: 'schedule' }
    );
  }

  protected predictSection(_step: StepInfo, section: number, input: Float32Array, out: Float32Array): Float32Array | CheckedPrediction {
    const last = this.stored[section].at(0).data;
    if (this.s.target === 'raw') {
      out.set(last);
      return { data: out, finite: this.finite[section] }; // a copy of a value checked when stored
    }
    return { data: out, finite: addCheckedInto(out, input, last) };
  }

  protected record(step: StepInfo, section: number, input: Float32Array, output: Float32Array, computed: boolean): void {
    if (!computed) return;
    const h = this.stored[section];
    if (this.s.target === 'raw') this.finite[section] = h.pushCopyChecked(step.stepIndex, step.tau, output);
    else this.finite[section] = h.pushResidualChecked(step.stepIndex, step.tau, input, output);
  }

  bytesHeld(): number {
    return this.stored.reduce((b, h) => b + h.bytesHeld(), 0);
  }
}

export const foraDefinition: MethodDefinition<typeof schema> = {
  name: 'fora',
  description: 'FORA-style reuse: full step every N steps, the last residual (or output) reused in between.',
  schema,
  presets: {
    n2: { interval: 2 },
    n3: { interval: 3 },
    n4: { interval: 4 },
    'lite-n3': { interval: 3, granularity: 'output', target: 'raw' },
  },
  defaultPreset: 'n3',
  granularity: (s) => s.granularity,
  needs: () => ({}),
  // Raw reuse copies the stored output whatever the input, and reused steps record nothing.
  historyOnlyForecast: (s) => s.target === 'raw',
  createSampleCache: (s, ctx, label) => new ReuseSampleCache(ctx, label, s),
};
