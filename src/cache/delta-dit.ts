// Δ-DiT-style partial reuse (per-block): on in-between steps only a range of blocks is replaced by its
// input plus the residual stored at its last compute, the rear range early in sampling, the front late.
// The pipeline cuts the stack at the ranges' edges (`blockRanges`), so a range is one section with one
// residual (Δ-DiT's Δ-cache) rather than one per block: the same sum, a third of the passes.

import type { CacheSignals, Decision, SampleCacheContext, StepInfo } from './contract.js';
import { fullStepGuard, intervalFull, maxSkipsGuard, stageBoundary } from './guards.js';
import { ValueHistory } from './history.js';
import type { MethodDefinition } from './method-def.js';
import { SampleCacheBase, type CheckedPrediction } from './sample-base.js';
import { int, num, type ResolvedSettings } from './settings.js';
import { addCheckedInto } from './vec.js';

const schema = {
  interval: int(2, 'N: a full step every N steps; the N−1 between are partial', { min: 1 }),
  warmupSteps: int(1, 'steps 0..warmupSteps−1 always compute fully', { min: 0 }),
  finalSteps: int(0, 'the last finalSteps steps always compute fully', { min: 0 }),
  maxConsecutiveSkips: int(0, 'full step after this many partial steps in a row (0 = unlimited)', { min: 0 }),
  cachedFraction: num(0.5, 'share of the blocks replaced on a partial step (rounded, at least 1 block)', { min: 0, max: 1 }),
  boundaryFraction: num(0.5, 'steps s < boundary·S cache the rear blocks, later steps the front blocks', { min: 0, max: 1 }),
};
type DeltaSettings = ResolvedSettings<typeof schema>;

class DeltaDitSampleCache extends SampleCacheBase {
  private readonly stored: ValueHistory[];
  private readonly finite: boolean[];
  /** Step of each section's last compute; a stored residual from an older one is stale. */
  private readonly lastComputed: number[];
  /** Blocks [from, to) of each section. */
  private readonly blocks: readonly (readonly [number, number])[];
  /** Blocks replaced on a partial step. */
  private readonly cachedCount: number;

  constructor(
    ctx: SampleCacheContext,
    label: string,
    private readonly s: DeltaSettings,
  ) {
    super(ctx, label);
    this.stored = Array.from({ length: ctx.sections }, () => new ValueHistory(1));
    this.finite = new Array<boolean>(ctx.sections).fill(true);
    this.lastComputed = new Array<number>(ctx.sections).fill(-1);
    this.blocks = ctx.sectionBlocks ?? Array.from({ length: ctx.sections }, (_, i) => [i, i + 1] as const);
    this.cachedCount = cachedBlocks(s, this.blocks.at(-1)![1]);
  }

  /** true for sections that run on a partial step at `stepIndex`. */
  private runMask(stepIndex: number, totalSteps: number): { mask: boolean[]; early: boolean } {
    const early = stepIndex < stageBoundary(this.s.boundaryFraction, totalSteps);
    const depth = this.blocks.at(-1)![1];
    // Early steps shape the outline, which the front blocks produce: keep them, reuse the rear. Sections
    // never straddle a range edge when the pipeline cut at blockRanges (or one block per section).
    const mask = this.blocks.map(([from, to]) => (early ? to <= depth - this.cachedCount : from >= this.cachedCount));
    return { mask, early };
  }

  protected plan(step: StepInfo, _signals: CacheSignals): Decision {
    const { stepIndex, totalSteps } = step;
    const guard =
      fullStepGuard(stepIndex, totalSteps, this.s) ??
      (intervalFull(stepIndex, this.s.interval, this.s.warmupSteps, 'grid', this.lastFullStep) ? { compute: true, reason: 'schedule' as const } : null) ??
      maxSkipsGuard(this.consecutiveSkips, this.s.maxConsecutiveSkips);
    if (guard !== null) return guard;
    const { mask, early } = this.runMask(stepIndex, totalSteps);
    const cached = mask.flatMap((run, i) => (run ? [] : [i]));
    if (cached.some((i) => this.stored[i].length === 0 || this.stored[i].at(0).stepIndex !== this.lastComputed[i])) {
      return { compute: true, reason: 'history' };
    }
    if (cached.some((i) => !this.finite[i])) return { compute: true, reason: 'nan-fallback' };
    return { compute: false, reason: 'schedule', stage: early ? 'early' : 'late', computeSections: mask };
  }

  protected predictSection(_step: StepInfo, section: number, input: Float32Array, out: Float32Array): CheckedPrediction {
    return { data: out, finite: addCheckedInto(out, input, this.stored[section].at(0).data) };
  }

  /**
   * Whether a partial step before the next scheduled full step (at most interval − 1 steps ahead) would
   * replace `section`: only then is its residual worth storing. Half the sections per full step — the
   * other half's residuals would be overwritten before any use — which halves the bookkeeping.
   */
  private neededSoon(stepIndex: number, totalSteps: number, section: number): boolean {
    for (let t = stepIndex + 1; t < Math.min(totalSteps, stepIndex + this.s.interval); t++) {
      if (!this.runMask(t, totalSteps).mask[section]) return true;
    }
    return false;
  }

  protected record(step: StepInfo, section: number, input: Float32Array, output: Float32Array, computed: boolean): void {
    if (!computed) return;
    this.lastComputed[section] = step.stepIndex;
    if (!this.neededSoon(step.stepIndex, step.totalSteps, section)) return;
    this.finite[section] = this.stored[section].pushResidualChecked(step.stepIndex, step.tau, input, output);
  }

  bytesHeld(): number {
    return this.stored.reduce((b, h) => b + h.bytesHeld(), 0);
  }
}

/** Blocks a partial step replaces: the rounded share, at least one, at most all. */
function cachedBlocks(s: DeltaSettings, depth: number): number {
  return Math.min(depth, Math.max(1, Math.round(s.cachedFraction * depth)));
}

/** Sections cut at the edges of the early (rear) and late (front) reused ranges. */
function deltaBlockRanges(s: DeltaSettings, depth: number): [number, number][] {
  const c = cachedBlocks(s, depth);
  const edges = [...new Set([0, c, depth - c, depth])].sort((a, b) => a - b); // 1 ≤ c ≤ depth: all in [0, depth]
  return edges.slice(1).map((to, k) => [edges[k], to]);
}

export const deltaDitDefinition: MethodDefinition<typeof schema> = {
  name: 'delta-dit',
  description: 'Δ-DiT-style partial reuse: on in-between steps the rear (early) or front (late) blocks are replaced by input + stored residual.',
  schema,
  presets: {
    n2: { interval: 2 },
    n3: { interval: 3 },
  },
  defaultPreset: 'n2',
  granularity: () => 'per-block',
  blockRanges: deltaBlockRanges,
  needs: () => ({}),
  createSampleCache: (s, ctx, label) => new DeltaDitSampleCache(ctx, label, s),
};
