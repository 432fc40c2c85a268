// One model batch made of the samples of one or more requests ("members") that share a model, a sampler
// plan and a cache method: every step, all members' rows go through the model together, and each member
// applies its own guidance and sampler step to its own rows. Rows never influence each other — noise is
// drawn per sample from (seed, sample index), every cache decides per row, and a row's model output does
// not depend on the other rows of its session call — so a member's samples are bit-identical to running
// it alone. `generate` runs each of its batches as a one-member joint batch; `tcpade serve` merges the
// requests that wait for the same model into one.
import type { CacheMethod, StepInfo } from '../cache/contract.js';
import { applyGuidance, epsChannels, guideLeadingChannels } from '../diffusion/guidance.js';
import { batchNoiseSource, noiseForSample } from '../diffusion/rng.js';
import { type SamplerPlan, createSampler, readsVarianceChannels } from '../diffusion/sampler.js';
import { type Conditioning, type Denoiser, concatRows, rowCount } from '../models/denoiser.js';
import { GenerateError } from './errors.js';
import { type PhaseTimes, type SampleDecisionRecord, type StepRecord } from './stats.js';
import { BatchEvaluator } from './step-eval.js';

/**
 * Which output channels classifier-free guidance mixes. 'all': every prediction channel (diffusers'
 * DiTPipeline, and every other pipeline). 'dit': the first 3 channels only, the rest from the conditional
 * branch — DiT's forward_with_cfg, kept to reproduce the DiT paper's samples.
 */
export type GuidanceChannels = 'all' | 'dit';

/** One request's share of a joint batch. */
export interface BatchMember {
  /** the samples' indices: sample k's noise depends only on (seed, k) */
  readonly sampleIndices: readonly number[];
  readonly seed: number;
  /** one conditioning row per sample */
  readonly cond: Conditioning;
  /** the CFG branch's rows (default: the model's `unconditional` of `cond`); unused at cfgScale 1 */
  readonly uncond?: Conditioning;
  /** 1 = no guidance (one branch) */
  readonly cfgScale: number;
  readonly guidanceChannels?: GuidanceChannels;
  /** called after every step of this member */
  readonly onStep?: (step: number) => void;
  /** polled at every step boundary; a member that returns true is dropped from the rest of the run */
  readonly cancelled?: () => boolean;
}

/** What one member got out of the joint batch. */
export interface MemberRun {
  /** final x of its samples, [B_m, …latentShape] */
  readonly x: Float32Array;
  readonly cancelled: boolean;
  /** its rows' block evaluations, and (row, step) pairs computed / predicted */
  readonly blockEvals: number;
  readonly computedRows: number;
  readonly predictedRows: number;
  readonly perStep: StepRecord[];
}

export interface JointBatchRun {
  readonly members: MemberRun[];
  /** the batch's phase times (shared by its members) */
  readonly times: PhaseTimes;
  readonly cacheBytesPeak: number;
  /** rows (samples × branches, all members) per model call */
  readonly rows: number;
}

/** Where one member's rows and samples sit in the batch. */
interface MemberLayout {
  readonly member: BatchMember;
  readonly branches: readonly string[];
  /** first row of the member (its cond rows, then its uncond rows) */
  readonly firstRow: number;
  readonly samples: number;
  readonly sampler: ReturnType<typeof createSampler>;
  x: Float32Array;
  perStep: StepRecord[];
  cancelled: boolean;
}

/**
 * Runs members (same model, plan and cache method) through every step of `plan` as one model batch.
 * Throws GenerateError on inconsistent members; a member cancelled midway keeps its rows in the batch
 * (the others' results do not depend on them) but gets no more progress calls.
 */
export async function runJointBatch(model: Denoiser, plan: SamplerPlan, cache: CacheMethod | undefined, members: readonly BatchMember[]): Promise<JointBatchRun> {
  if (members.length === 0) throw new GenerateError('a joint batch needs at least one member');
  const latent = model.latentShape;
  const C = latent[0];
  const px = latent.reduce((a, b) => a * b, 1);
  const stochastic = plan.kind === 'ddpm' || ('eta' in plan && !!plan.eta);
  const withVariance = readsVarianceChannels(plan);
  const layouts: MemberLayout[] = [];
  let firstRow = 0;
  let rowCond: Conditioning | undefined;
  const rowSamples: number[] = [];
  const rowBranches: string[] = [];
  for (const member of members) {
    const B = member.sampleIndices.length;
    if (B === 0 || rowCount(member.cond) !== B) throw new GenerateError(`a batch member has ${member.sampleIndices.length} samples but ${rowCount(member.cond)} conditioning rows`);
    const branches = member.cfgScale === 1 ? ['cond'] : ['cond', 'uncond'];
    const cond = branches.length === 1 ? member.cond : concatRows(member.cond, member.uncond ?? model.unconditional(member.cond));
    rowCond = rowCond ? concatRows(rowCond, cond) : cond;
    for (const b of branches) for (const s of member.sampleIndices) (rowSamples.push(s), rowBranches.push(b));
    // η-noise of DDIM and the ancestral DDPM noise: per sample, so a sample's result does not depend on its batch
    const sampler = createSampler(plan, { noise: stochastic ? batchNoiseSource(member.seed + 7919, member.sampleIndices) : undefined, batchSize: B });
    const x = new Float32Array(B * px);
    member.sampleIndices.forEach((s, k) => x.set(noiseForSample(member.seed, s, [...latent]), k * px));
    layouts.push({ member, branches, firstRow, samples: B, sampler, x, perStep: [], cancelled: false });
    firstRow += branches.length * B;
  }
  const R = firstRow;
  const taus = plan.timesteps.map((t) => t / 1000);
  // A clock that stops while the model compiles a graph on first use (reported apart as setupMs).
  const now = (): number => performance.now() - model.compileMs;
  const evaluator = new BatchEvaluator(model, cache, { cond: rowCond!, samples: rowSamples, branches: rowBranches }, { totalSteps: plan.steps, taus }, now);
  const predC = withVariance ? model.outputChannels : C;
  const outPx = model.outputShape(1).slice(1).reduce((a, b) => a * b, 1);
  const xRows = new Float32Array(R * px);
  let cacheBytesPeak = 0;

  for (let s = 0; s < plan.steps; s++) {
    for (const m of layouts) m.cancelled ||= !!m.member.cancelled?.();
    if (layouts.every((m) => m.cancelled)) break;
    const tModel = plan.timesteps[s];
    const step: StepInfo = { stepIndex: s, totalSteps: plan.steps, tau: taus[s] };
    // every CFG branch of a member evaluates the member's x_t
    for (const m of layouts) m.branches.forEach((_, bi) => xRows.set(m.x, (m.firstRow + bi * m.samples) * px));
    const { out, decisions, blocksComputed } = await evaluator.evaluate(step, tModel, xRows);

    const t0 = now();
    for (const m of layouts) {
      const B = m.samples;
      const rows = m.branches.length * B;
      const memberOut = out.subarray(m.firstRow * outPx, (m.firstRow + rows) * outPx);
      // the prediction is the first C output channels; a learned variance follows them (read by ancestral DDPM)
      const pred = model.learnedVariance && !withVariance ? epsChannels(memberOut, [rows, model.outputChannels, px / C, 1]) : memberOut;
      const guidedC = m.member.guidanceChannels === 'dit' ? Math.min(3, C) : C;
      const half = B * predC * (px / C);
      const guided =
        m.branches.length === 1
          ? pred
          : guidedC === predC
            ? applyGuidance(pred.subarray(0, half), pred.subarray(half), m.member.cfgScale)
            : guideLeadingChannels(pred.subarray(0, half), pred.subarray(half), m.member.cfgScale, [B, predC, px / C, 1], guidedC);
      m.x = m.sampler.step(s, m.x, guided);
    }
    evaluator.times.samplerMs += now() - t0;

    cacheBytesPeak = Math.max(cacheBytesPeak, evaluator.cacheBytes());
    for (const m of layouts) {
      m.branches.forEach((b, bi) => {
        const recs: SampleDecisionRecord[] = m.member.sampleIndices.map((sample, k) => {
          const r = m.firstRow + bi * m.samples + k;
          const d = decisions[r];
          return { sample, compute: d.compute, reason: d.reason, signal: d.signal, threshold: d.threshold, stage: d.stage, blocksComputed: blocksComputed?.[r] };
        });
        m.perStep.push({ step: s, tModel, branch: b, computed: recs.filter((d) => d.compute).length, predicted: recs.filter((d) => !d.compute).length, decisions: recs });
      });
      if (!m.cancelled) m.member.onStep?.(s);
    }
  }
  const rowsOf = (m: MemberLayout, a: readonly number[]): number => a.slice(m.firstRow, m.firstRow + m.branches.length * m.samples).reduce((x, y) => x + y, 0);
  return {
    members: layouts.map((m) => ({
      x: m.x,
      cancelled: m.cancelled,
      blockEvals: rowsOf(m, evaluator.rowBlockEvals),
      computedRows: rowsOf(m, evaluator.rowComputedSteps),
      predictedRows: rowsOf(m, evaluator.rowPredictedSteps),
      perStep: m.perStep,
    })),
    times: evaluator.times,
    cacheBytesPeak,
    rows: R,
  };
}
