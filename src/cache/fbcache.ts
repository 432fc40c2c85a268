// First-block cache: block 0 always runs; when its residual changed little (relative L1) since the last
// computed step, blocks 1..L-1 are replaced by their residual stored at that step.

import { CacheUsageError, type CacheSignals, type Decision, type SampleCacheContext, type StepInfo } from './contract.js';
import { fullStepGuard, maxSkipsGuard } from './guards.js';
import { ValueHistory } from './history.js';
import type { MethodDefinition } from './method-def.js';
import { SampleCacheBase, type CheckedPrediction } from './sample-base.js';
import { int, num, type ResolvedSettings } from './settings.js';
import { addCheckedInto, relativeL1 } from './vec.js';

const schema = {
  threshold: num(0.05, 'skip blocks 1..L-1 while the first-block residual changed less than this (relative L1)', { min: 0 }),
  warmupSteps: int(1, 'steps 0..warmupSteps−1 always compute', { min: 0 }),
  finalSteps: int(0, 'the last finalSteps steps always compute', { min: 0 }),
  maxConsecutiveSkips: int(0, 'compute after this many skipped steps in a row (0 = unlimited)', { min: 0 }),
};
type FbSettings = ResolvedSettings<typeof schema>;

class FirstBlockSampleCache extends SampleCacheBase {
  private readonly tailResidual = new ValueHistory(1);
  private tailFinite = true;
  /** First-block residual at the last computed step (the reference), and a spare buffer for the next one. */
  private reference: Float32Array | null = null;
  private candidate: Float32Array | null = null;
  /** This step's first-block residual (the pipeline's buffer, valid until the step ends). */
  private firstNow: Float32Array | null = null;

  constructor(
    ctx: SampleCacheContext,
    label: string,
    private readonly s: FbSettings,
  ) {
    super(ctx, label);
  }

  protected plan(step: StepInfo, signals: CacheSignals): Decision {
    const first = this.requireSignal(signals, 'firstBlockResidual', step);
    if (this.reference !== null && this.reference.length !== first.length) {
      throw new CacheUsageError(
        `${this.where()}: signals.firstBlockResidual has ${first.length} elements at step ${step.stepIndex}, earlier steps had ${this.reference.length}`,
      );
    }
    this.firstNow = first;
    const guard =
      fullStepGuard(step.stepIndex, step.totalSteps, this.s) ??
      (this.reference === null || this.tailResidual.length === 0 ? { compute: true, reason: 'history' as const } : null) ??
      maxSkipsGuard(this.consecutiveSkips, this.s.maxConsecutiveSkips);
    if (guard !== null) return guard;
    const change = relativeL1(first, this.reference!);
    if (!Number.isFinite(change) || !this.tailFinite) return { compute: true, reason: 'nan-fallback', signal: change, threshold: this.s.threshold };
    return { compute: !(change < this.s.threshold), reason: 'fbcache', signal: change, threshold: this.s.threshold };
  }

  protected predictSection(_step: StepInfo, _section: number, input: Float32Array, out: Float32Array): CheckedPrediction {
    return { data: out, finite: addCheckedInto(out, input, this.tailResidual.at(0).data) };
  }

  protected record(step: StepInfo, _section: number, input: Float32Array, output: Float32Array, computed: boolean): void {
    if (!computed) return;
    this.tailFinite = this.tailResidual.pushResidualChecked(step.stepIndex, step.tau, input, output);
    // The comparison is against the last COMPUTED step, so the reference only moves on a compute; the
    // signal is copied only then (its buffer belongs to the pipeline and is still this step's).
    const next = this.candidate ?? new Float32Array(this.firstNow!.length);
    next.set(this.firstNow!);
    this.candidate = this.reference;
    this.reference = next;
  }

  bytesHeld(): number {
    return this.tailResidual.bytesHeld() + (this.reference?.byteLength ?? 0) + (this.candidate?.byteLength ?? 0);
  }
}

export const fbCacheDefinition: MethodDefinition<typeof schema> = {
  name: 'fbcache',
  description: 'First-block cache: block 0 always runs; blocks 1..L-1 reuse their residual while the first-block residual barely changes.',
  schema,
  presets: {
    slow: { threshold: 0.05 },
    fast: { threshold: 0.1 },
    'fast-capped': { threshold: 0.1, maxConsecutiveSkips: 3 },
  },
  defaultPreset: 'slow',
  granularity: () => 'first-block',
  needs: () => ({ firstBlock: true }),
  createSampleCache: (s, ctx, label) => new FirstBlockSampleCache(ctx, label, s),
};
