// Per-request statistics of a sampling run: every decision per step, branch and sample with its
// reason, block compute actually done, time split by phase, and bytes held by cache history.

export interface SampleDecisionRecord {
  sample: number;
  compute: boolean;
  reason: string;
  signal?: number;
  threshold?: number;
  stage?: string;
  /** per-block partial steps: how many blocks of this row ran */
  blocksComputed?: number;
}

export interface StepRecord {
  step: number;
  tModel: number;
  branch: string;
  computed: number;
  predicted: number;
  decisions: SampleDecisionRecord[];
}

export interface PhaseTimes {
  embedMs: number;
  blocksMs: number;
  headMs: number;
  signalMs: number;
  cacheMs: number;
  samplerMs: number;
}

export interface RunStats {
  method: string;
  preset: string;
  settings: Record<string, unknown>;
  steps: number;
  sampler: string;
  samples: number;
  branches: string[];
  /** Sampling wall time (ms), without setupMs. */
  wallMs: number;
  /** One-time graph compilation this run triggered (ms): graphs the model had not used before. */
  setupMs: number;
  times: PhaseTimes;
  /** block evaluations run / block evaluations of the uncached run (same rows, same steps) */
  blockComputeRatio: number;
  blockFlopsRun: number;
  blockFlopsFull: number;
  /** (row, step) pairs whose blocks were predicted */
  predictedCount: number;
  computedCount: number;
  cacheBytesPeak: number;
  perStep: StepRecord[];
  /** VAE decode wall time (ms) of a latent model's samples, apart from sampling */
  vaeMs?: number;
}

/**
 * Steps on which the rows of a batch disagreed (some ran blocks that another row predicted), so the
 * blocks ran for part of the batch — in smaller, less efficient session calls than one for all rows.
 * Records of one batch's step are consecutive in `perStep` (one per branch).
 */
export function splitSteps(s: Pick<RunStats, 'perStep'>): number {
  let count = 0;
  for (let i = 0; i < s.perStep.length; ) {
    const kinds = new Set<string>();
    let j = i;
    for (; j < s.perStep.length && s.perStep[j].step === s.perStep[i].step; j++) {
      for (const d of s.perStep[j].decisions) kinds.add(d.compute ? 'all' : `blocks ${d.blocksComputed ?? 0}`);
    }
    if (kinds.size > 1) count++;
    i = j;
  }
  return count;
}

export function emptyTimes(): PhaseTimes {
  return { embedMs: 0, blocksMs: 0, headMs: 0, signalMs: 0, cacheMs: 0, samplerMs: 0 };
}

export function addTimes(a: PhaseTimes, b: PhaseTimes): PhaseTimes {
  return {
    embedMs: a.embedMs + b.embedMs,
    blocksMs: a.blocksMs + b.blocksMs,
    headMs: a.headMs + b.headMs,
    signalMs: a.signalMs + b.signalMs,
    cacheMs: a.cacheMs + b.cacheMs,
    samplerMs: a.samplerMs + b.samplerMs,
  };
}

/** One line a person reads after a run. */
export function summaryLine(s: RunStats, lastFullWallMs?: number): string {
  const rows = s.samples * s.branches.length;
  const perRow = rows ? s.computedCount / rows : 0;
  const stepsText = Number.isInteger(perRow) ? `${perRow}/${s.steps} steps` : `${perRow.toFixed(1)}/${s.steps} steps on average`;
  const fewer = s.blockComputeRatio >= 1 ? 'full block compute' : s.blockComputeRatio > 0 ? `${(1 / s.blockComputeRatio).toFixed(2)}× fewer block FLOPs` : 'no block compute';
  const faster = lastFullWallMs ? `, ${(lastFullWallMs / s.wallMs).toFixed(2)}× faster than the last full run` : '';
  const setup = s.setupMs >= 5 ? ` + ${(s.setupMs / 1000).toFixed(2)} s one-time graph setup` : '';
  const vae = s.vaeMs !== undefined ? ` + ${(s.vaeMs / 1000).toFixed(2)} s VAE decode` : '';
  return `${s.method}${s.preset ? `/${s.preset}` : ''}: computed ${stepsText} per sample and branch, ${fewer}${faster} (${(s.wallMs / 1000).toFixed(2)} s sampling${vae}${setup})`;
}
