// TaylorSeer-style forecasting: on full steps update a divided-difference table per section; on the
// steps between, extrapolate in the trajectory coordinate (true tau spacing by default, method.md §7).

import type { CacheSignals, Decision, SampleCacheContext, StepInfo } from './contract.js';
import { DividedDifferences } from './divided-differences.js';
import { fullStepGuard, intervalFull, maxSkipsGuard } from './guards.js';
import type { MethodDefinition } from './method-def.js';
import { SampleCacheBase, type CheckedPrediction } from './sample-base.js';
import { int, oneOf, type ResolvedSettings } from './settings.js';
import { subInto } from './vec.js';

const schema = {
  interval: int(4, 'N: a full step every N steps, N−1 forecast steps between', { min: 1 }),
  order: int(2, 'O: highest divided-difference order (uses the newest O+1 full steps)', { min: 0, max: 8 }),
  warmupSteps: int(3, 'first_enhance: steps 0..warmupSteps−1 always compute; the last one opens the first interval', { min: 0 }),
  finalSteps: int(0, 'the last finalSteps steps always compute', { min: 0 }),
  maxConsecutiveSkips: int(0, 'compute after this many forecast steps in a row (0 = unlimited)', { min: 0 }),
  granularity: oneOf(
    ['stack', 'per-block', 'output'],
    'stack',
    'where the pipeline cuts: the block stack, each block (the same output as stack up to rounding, at the cost of a table per block), or the model output (embed and head skipped too)',
  ),
  target: oneOf(['raw', 'residual'], 'raw', 'raw: forecast the section output itself (TaylorSeer); residual: forecast output − input and add the actual input'),
  form: oneOf(['newton', 'taylor'], 'newton', "newton: divided differences over the nodes' spans (exact on degree ≤ O); taylor: official recurrence Σ f_j k^j/j!"),
  spacing: oneOf(['tau', 'step'], 'tau', 'coordinate of the expansion: the sampler time tau, or the step index (official)'),
};
type TaylorSettings = ResolvedSettings<typeof schema>;

class TaylorSeerSampleCache extends SampleCacheBase {
  private readonly tables: DividedDifferences[]; // one per section, replaced on NaN
  private readonly finite: boolean[];
  private residual: Float32Array | null = null;

  constructor(
    ctx: SampleCacheContext,
    label: string,
    private readonly s: TaylorSettings,
  ) {
    super(ctx, label);
    this.tables = Array.from({ length: ctx.sections }, () => new DividedDifferences(s.order, s.form));
    this.finite = new Array<boolean>(ctx.sections).fill(true);
  }

  private coord(step: StepInfo): number {
    return this.s.spacing === 'tau' ? step.tau : step.stepIndex;
  }

  protected plan(step: StepInfo, _signals: CacheSignals): Decision {
    const { stepIndex, totalSteps } = step;
    return (
      fullStepGuard(stepIndex, totalSteps, this.s) ??
      (intervalFull(stepIndex, this.s.interval, this.s.warmupSteps, 'grid', this.lastFullStep) ? { compute: true, reason: 'schedule' } : null) ??
      (this.finite.every((f) => f) ? null : { compute: true, reason: 'nan-fallback' }) ??
      (this.tables.some((t) => t.order < 0) ? { compute: true, reason: 'history' } : null) ??
      maxSkipsGuard(this.consecutiveSkips, this.s.maxConsecutiveSkips) ?? { compute: false, reason: 'schedule' }
    );
  }

  protected predictSection(step: StepInfo, section: number, input: Float32Array, target: Float32Array): CheckedPrediction {
    const table = this.tables[section];
    const finite = table.evaluateCheckedInto(target, this.coord(step), table.order, this.s.target === 'residual' ? input : undefined);
    return { data: target, finite };
  }

  protected record(step: StepInfo, section: number, input: Float32Array, output: Float32Array, computed: boolean): void {
    if (!computed) return;
    let value = output;
    if (this.s.target === 'residual') {
      if (this.residual === null || this.residual.length !== output.length) this.residual = new Float32Array(output.length);
      value = subInto(this.residual, output, input);
    }
    // A NaN/Inf compute poisons every divided difference: restart the table, and compute
    // ('nan-fallback') until a finite value arrives.
    this.finite[section] = this.tables[section].update(this.coord(step), value);
    if (!this.finite[section]) this.tables[section] = new DividedDifferences(this.s.order, this.s.form);
  }

  bytesHeld(): number {
    return this.tables.reduce((b, t) => b + t.bytesHeld(), 0) + (this.residual?.byteLength ?? 0);
  }
}

export const taylorSeerDefinition: MethodDefinition<typeof schema> = {
  name: 'taylorseer',
  description: 'TaylorSeer-style forecasting: divided differences over full steps, extrapolated in tau on the steps between.',
  schema,
  presets: {
    n3o2: { interval: 3, order: 2, warmupSteps: 3 },
    n4o1: { interval: 4, order: 1, warmupSteps: 3 },
    n4o2: { interval: 4, order: 2, warmupSteps: 3 },
    n4o4: { interval: 4, order: 4, warmupSteps: 2 },
    n5o2: { interval: 5, order: 2, warmupSteps: 3 },
    'block-n4o2': { interval: 4, order: 2, warmupSteps: 3, granularity: 'per-block' },
    'block-n4o4': { interval: 4, order: 4, warmupSteps: 2, granularity: 'per-block' },
    'lite-n4o2': { interval: 4, order: 2, warmupSteps: 3, granularity: 'output' },
    'official-dit': { interval: 4, order: 4, warmupSteps: 2, granularity: 'per-block', form: 'taylor', spacing: 'step' },
    'official-flux': { interval: 5, order: 2, warmupSteps: 3, form: 'taylor', spacing: 'step' },
  },
  defaultPreset: 'n4o2',
  granularity: (s) => s.granularity,
  needs: () => ({}),
  // A raw-output forecast ignores its input and predicted steps record nothing.
  historyOnlyForecast: (s) => s.target === 'raw',
  createSampleCache: (s, ctx, label) => new TaylorSeerSampleCache(ctx, label, s),
};
