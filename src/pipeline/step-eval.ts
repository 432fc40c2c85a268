// One sampling step's model evaluation for a batch of rows (branch × sample) with feature caching:
// every row decides for itself; the rows that compute a section run it together in one session call,
// the others are predicted by their own sample cache.
import type { CacheMethod, CacheSignals, Decision, SampleCache, StepInfo } from '../cache/contract.js';
import { CachePredictionError } from '../cache/contract.js';
import { subInto } from '../cache/vec.js';
import { type Conditioning, type Denoiser, type SegmentOut, rowCount, selectRows } from '../models/denoiser.js';
import { GenerateError } from './errors.js';
import { type PhaseTimes, emptyTimes } from './stats.js';

/** The rows of a batch: CFG branches stacked, samples within each. */
export interface BatchRows {
  /** every row's conditioning */
  readonly cond: Conditioning;
  readonly samples: readonly number[];
  readonly branches: readonly string[];
}

/** What one step's evaluation did: the model output of every row and each row's decision. */
export interface StepEvaluation {
  /** [R, outC, H, W] */
  readonly out: Float32Array;
  readonly decisions: readonly Decision[];
  /** per-block methods: how many blocks each row ran */
  readonly blocksComputed?: readonly number[];
}

/** Copies rows `idx` of a row-major [R, rowSize] array into a new [idx.length, rowSize] one. */
export function gatherRows(a: Float32Array, idx: readonly number[], rowSize: number): Float32Array {
  const out = new Float32Array(idx.length * rowSize);
  idx.forEach((r, k) => out.set(a.subarray(r * rowSize, (r + 1) * rowSize), k * rowSize));
  return out;
}

function row(a: Float32Array, r: number, rowSize: number): Float32Array {
  return a.subarray(r * rowSize, (r + 1) * rowSize);
}

/** Ranges cut further wherever the block kind changes (FLUX: double → single), so no section mixes two kinds. */
function splitAtKindChanges(ranges: readonly (readonly [number, number])[], kinds: readonly string[] | undefined): [number, number][] {
  return ranges.flatMap(([from, to]) => {
    const out: [number, number][] = [];
    let start = from;
    for (let i = from + 1; i < to; i++) {
      if (kinds && kinds[i] !== kinds[i - 1]) {
        out.push([start, i]);
        start = i;
      }
    }
    out.push([start, to]);
    return out;
  });
}

/** Contiguous block ranges the method's granularity cuts the stack into. */
function sectionCuts(method: CacheMethod, depth: number, kinds?: readonly string[]): [number, number][] {
  switch (method.granularity) {
    case 'stack':
      return [[0, depth]];
    case 'per-block': {
      const ranges = method.blockRanges?.(depth) ?? Array.from({ length: depth }, (_, i) => [i, i + 1] as const);
      const ok = ranges.length > 0 && ranges.every(([from, to], k) => from === (k === 0 ? 0 : ranges[k - 1][1]) && to > from) && ranges.at(-1)![1] === depth;
      if (!ok) {
        throw new GenerateError(`${method.name}/${method.preset}: block ranges ${JSON.stringify(ranges)} must be contiguous, non-empty and cover blocks 0..${depth - 1} in order`);
      }
      return splitAtKindChanges(ranges, kinds);
    }
    case 'first-block':
      if (depth < 2) throw new GenerateError('first-block caching needs a model with at least 2 blocks');
      return [[1, depth]];
    case 'output':
      return [];
  }
}

/** A session call's outputs for a run of consecutive sections that the same rows compute. */
interface SectionGroup {
  readonly start: number;
  readonly end: number;
  readonly rows: readonly number[];
  readonly outs: readonly Float32Array[];
}

/**
 * Evaluates the model for one batch, step after step, keeping the batch's sample caches (one per row,
 * created from the request's schedule), two reused hidden-state buffers, and the tallies the run's
 * stats are made of. Times are taken with `now`, a clock that stops while graphs compile.
 */
export class BatchEvaluator {
  readonly times: PhaseTimes = emptyTimes();
  /** per row: block evaluations run, steps computed, steps predicted (rows of several requests are told apart by these) */
  readonly rowBlockEvals: number[];
  readonly rowComputedSteps: number[];
  readonly rowPredictedSteps: number[];
  private readonly caches: SampleCache[] | undefined;

  private readonly R: number;
  private readonly px: number;
  private readonly outPx: number;
  /** elements of one row's hidden state [T, D] */
  private readonly TD: number;
  /**
   * The part of a row's hidden state the caches see, as an element offset and length: the model's output
   * tokens at stack and first-block granularity (FLUX: the image tokens), every token per block.
   */
  private readonly cacheOffset: number;
  private readonly cacheLength: number;
  private readonly cuts: [number, number][];
  private readonly perBlock: boolean;
  private readonly runsFirstBlock: boolean;
  /**
   * A history-only forecaster that needs no signal decides from its history alone, so it decides before
   * the embedding; when every row is then predicted, the step needs no stack input at all.
   */
  private readonly decidesBeforeEmbedding: boolean;
  /** Two [R, T, D] buffers reused for the whole batch (caches copy what they keep): a fresh 0.4–1 MB
   * array per section and step kept V8's collector busy inside the timed cache calls. */
  private readonly stackBuffers: readonly [Float32Array, Float32Array];
  private readonly firstBlockResiduals: Float32Array;

  constructor(
    private readonly model: Denoiser,
    private readonly method: CacheMethod | undefined,
    private readonly rows: BatchRows,
    schedule: { totalSteps: number; taus: readonly number[] },
    private readonly now: () => number,
  ) {
    this.R = rowCount(rows.cond);
    this.rowBlockEvals = new Array<number>(this.R).fill(0);
    this.rowComputedSteps = new Array<number>(this.R).fill(0);
    this.rowPredictedSteps = new Array<number>(this.R).fill(0);
    this.px = model.latentShape.reduce((a, b) => a * b, 1);
    this.outPx = model.outputShape(1).slice(1).reduce((a, b) => a * b, 1);
    this.TD = model.tokens * model.hiddenSize;
    if (model.blockKinds && model.blockKinds.length !== model.depth) {
      throw new GenerateError(`the ${model.family} model lists ${model.blockKinds.length} block kinds for ${model.depth} blocks`);
    }
    this.cuts = method ? sectionCuts(method, model.depth, model.blockKinds) : [[0, model.depth]];
    this.perBlock = method?.granularity === 'per-block';
    const outputTokens = this.perBlock ? undefined : model.outputTokens;
    this.cacheOffset = outputTokens ? outputTokens.start * model.hiddenSize : 0;
    this.cacheLength = outputTokens ? outputTokens.count * model.hiddenSize : this.TD;
    const sections = this.perBlock ? this.cuts.length : 1;
    this.caches = method
      ? rows.samples.map((sampleIndex, r) =>
          method.createSampleCache({ ...schedule, branch: rows.branches[r], sampleIndex, sections, ...(this.perBlock ? { sectionBlocks: this.cuts } : {}) }),
        )
      : undefined;
    this.stackBuffers = [new Float32Array(this.R * this.TD), new Float32Array(this.R * this.TD)];
    this.runsFirstBlock = !!method && (method.needs.firstBlock || method.granularity === 'first-block');
    this.firstBlockResiduals = new Float32Array(this.runsFirstBlock ? this.R * this.cacheLength : 0);
    this.decidesBeforeEmbedding =
      !!method?.historyOnlyForecast && (method.granularity === 'stack' || this.perBlock) && !method.needs.modulatedInput0 && !method.needs.firstBlock;
  }

  /** Row r's part of a hidden state [R, T, D] that the caches see (all of it, or the output tokens). */
  private readonly cacheView = (a: Float32Array, r: number): Float32Array => {
    const start = r * this.TD + this.cacheOffset;
    return a.subarray(start, start + this.cacheLength);
  };

  /** block evaluations run (rows × blocks) */
  get blockEvals(): number {
    return sum(this.rowBlockEvals);
  }

  /** (row, step) pairs computed / predicted */
  get computedRows(): number {
    return sum(this.rowComputedSteps);
  }

  get predictedRows(): number {
    return sum(this.rowPredictedSteps);
  }

  /** Bytes the sample caches hold now. */
  cacheBytes(): number {
    return this.caches ? this.caches.reduce((a, ch) => a + ch.bytesHeld(), 0) : 0;
  }

  /** The model output for every row of `xRows` ([R, C, H, W]) at `step` (model time `tModel`). */
  evaluate(step: StepInfo, tModel: number, xRows: Float32Array): Promise<StepEvaluation> {
    return this.method?.granularity === 'output' ? this.evaluateOutputLevel(step, tModel, xRows) : this.evaluateSections(step, tModel, xRows);
  }

  /** Opaque model: the cached section is the whole network, input = x_t, output = model output. */
  private async evaluateOutputLevel(step: StepInfo, tModel: number, xRows: Float32Array): Promise<StepEvaluation> {
    const { R, px, outPx, model, times } = this;
    const caches = this.caches!;
    let t0 = this.now();
    const decisions: Decision[] = caches.map((ch, r) => ch.decide(step, { xIn: row(xRows, r, px) }));
    times.cacheMs += this.now() - t0;
    const out = new Float32Array(R * outPx);
    const computeRows: number[] = [];
    const predicted = new Map<number, Float32Array>();
    t0 = this.now();
    for (let r = 0; r < R; r++) {
      if (decisions[r].compute) computeRows.push(r);
      else {
        try {
          predicted.set(r, caches[r].predict(step, 0, row(xRows, r, px)));
        } catch (e) {
          if (!(e instanceof CachePredictionError)) throw e;
          decisions[r] = { compute: true, reason: 'nan-fallback' };
          computeRows.push(r);
        }
      }
    }
    times.cacheMs += this.now() - t0;
    if (computeRows.length) {
      t0 = this.now();
      const shape = [computeRows.length, ...model.latentShape];
      const res = await model.forward(gatherRows(xRows, computeRows, px), shape, computeRows.map(() => tModel), selectRows(this.rows.cond, computeRows));
      times.blocksMs += this.now() - t0;
      computeRows.forEach((r, k) => out.set(res.subarray(k * outPx, (k + 1) * outPx), r * outPx));
      for (const r of computeRows) this.rowBlockEvals[r] += model.depth;
    }
    for (const [r, p] of predicted) out.set(p, r * outPx);
    t0 = this.now();
    for (let r = 0; r < R; r++) caches[r].observe(step, 0, row(xRows, r, px), row(out, r, outPx), decisions[r].compute);
    times.cacheMs += this.now() - t0;
    for (let r = 0; r < R; r++) {
      if (decisions[r].compute) this.rowComputedSteps[r]++;
      else this.rowPredictedSteps[r]++;
    }
    return { out, decisions };
  }

  /**
   * Every row predicted by a history-only forecaster: the last section's forecast is the stack output,
   * and the conditioning comes with the head in one session call, so the embedding is skipped. Returns
   * undefined (nothing observed) when a row's forecast is not finite: the step then runs the usual way.
   */
  private async evaluateForecastOnly(step: StepInfo, tModel: number, decisions: Decision[]): Promise<StepEvaluation | undefined> {
    const { R, times, cuts, cacheView } = this;
    const caches = this.caches!;
    const last = cuts.length - 1;
    const [hOut, unused] = this.stackBuffers; // a history-only forecast ignores its input
    let t0 = this.now();
    const served = forecastLastSection(step, caches, decisions, last, unused, hOut, cacheView);
    if (served.size < R) {
      times.cacheMs += this.now() - t0;
      return undefined;
    }
    for (let r = 0; r < R; r++) {
      for (let k = 0; k < cuts.length; k++) caches[r].observe(step, k, cacheView(unused, r), k === last ? cacheView(hOut, r) : undefined, false);
    }
    times.cacheMs += this.now() - t0;
    t0 = this.now();
    const out = await this.model.conditionedHead(hOut, new Array<number>(R).fill(tModel), this.rows.cond, R);
    times.headMs += this.now() - t0;
    for (let r = 0; r < R; r++) this.rowPredictedSteps[r]++;
    return { out, decisions, ...(this.perBlock ? { blocksComputed: new Array<number>(R).fill(0) } : {}) };
  }

  /** Embed, then the block stack section by section (computed together or predicted per row), then the head. */
  private async evaluateSections(step: StepInfo, tModel: number, xRows: Float32Array): Promise<StepEvaluation> {
    const { R, TD, model, times, cuts } = this;
    let early: Decision[] | undefined;
    if (this.caches && this.decidesBeforeEmbedding) {
      const t0 = this.now();
      early = this.caches.map((ch) => ch.decide(step, {}));
      times.cacheMs += this.now() - t0;
      if (early.every(predictsEverySection)) {
        const forecast = await this.evaluateForecastOnly(step, tModel, early);
        if (forecast) return forecast;
      }
    }
    let t0 = this.now();
    const e = await model.embed(xRows, [R, ...model.latentShape], new Array<number>(R).fill(tModel), this.rows.cond, {
      withModulatedInput0: !!this.method?.needs.modulatedInput0,
    });
    times.embedMs += this.now() - t0;
    const { decisions, block0 } = early ? { decisions: early, block0: undefined } : await this.decideAll(step, e);
    let h = this.method?.granularity === 'first-block' ? block0! : e.tokens;
    const rowComputedBlocks = new Array<number>(R).fill(0);
    // Section k's output lands in stackBuffers[k % 2] (h starts as the embedding's own array).
    t0 = this.now();
    const elided =
      this.caches && this.method!.historyOnlyForecast && cuts.length > 1
        ? forecastLastSection(step, this.caches, decisions, cuts.length - 1, h, this.stackBuffers[(cuts.length - 1) % 2], this.cacheView)
        : new Set<number>();
    times.cacheMs += this.now() - t0;
    let group: SectionGroup | null = null;
    for (let k = 0; k < cuts.length; k++) {
      if (group === null || k >= group.end) group = await this.runGroup(k, decisions, h, e.cond, rowComputedBlocks);
      h = await this.completeSection(step, k, group, decisions, elided, h, e.cond, rowComputedBlocks);
    }
    for (let r = 0; r < R; r++) {
      if (rowComputedBlocks[r] > 0 && decisions[r].compute) this.rowComputedSteps[r]++;
      else this.rowPredictedSteps[r]++;
    }
    t0 = this.now();
    const out = await model.head(h, e.cond, R);
    times.headMs += this.now() - t0;
    return { out, decisions, ...(this.perBlock ? { blocksComputed: rowComputedBlocks } : {}) };
  }

  /**
   * Every row's decision, from the cheap per-row signals the method asked for; with `block0`, block 0's
   * output for all rows when the method runs it every step (its residual is FBCache's signal).
   */
  private async decideAll(step: StepInfo, e: SegmentOut): Promise<{ decisions: Decision[]; block0?: Float32Array }> {
    const { R, times, cacheView, cacheLength } = this;
    let t0 = this.now();
    let b0: Float32Array | undefined;
    if (this.runsFirstBlock) {
      b0 = await this.model.blocks(0, 1, e.tokens, e.cond, R);
      for (let r = 0; r < R; r++) this.rowBlockEvals[r]++;
    }
    times.signalMs += this.now() - t0;
    if (!this.caches) return { decisions: new Array<Decision>(R).fill({ compute: true, reason: 'always' }), block0: b0 };
    t0 = this.now();
    const h = e.tokens;
    const decisions = this.caches.map((ch, r) => {
      const signals: CacheSignals = {
        xIn: cacheView(h, r),
        modulatedInput0: e.modulatedInput0 && cacheView(e.modulatedInput0, r),
        firstBlockResidual: b0 && subInto(row(this.firstBlockResiduals, r, cacheLength), cacheView(b0, r), cacheView(h, r)),
      };
      return ch.decide(step, signals);
    });
    times.cacheMs += this.now() - t0;
    return { decisions, block0: b0 };
  }

  /**
   * Runs section k for the rows planned to compute it — and the following sections too while the same
   * rows are planned (a full step of a per-block method, the computed front or rear of a Δ-DiT step) —
   * as ONE session call with one output per section.
   */
  private async runGroup(k: number, decisions: readonly Decision[], h: Float32Array, cond: Float32Array, rowComputedBlocks: number[]): Promise<SectionGroup> {
    const { R, TD, cuts } = this;
    const plannedAt = (s: number): number[] => decisions.flatMap((d, r) => (d.compute || d.computeSections?.[s] ? [r] : []));
    const rows = plannedAt(k);
    const same = (other: number[]): boolean => other.length === rows.length && other.every((r, j) => r === rows[j]);
    let end = k + 1;
    while (end < cuts.length && same(plannedAt(end))) end++;
    if (!rows.length) return { start: k, end, rows, outs: [] };
    const t0 = this.now();
    const all = rows.length === R;
    const hIn = all ? h : gatherRows(h, rows, TD);
    const cIn = all ? cond : gatherRows(cond, rows, this.model.condSize);
    const from = cuts[k][0];
    const last = cuts[end - 1][1];
    const outs =
      end - k === 1 ? [await this.model.blocks(from, cuts[k][1], hIn, cIn, rows.length)] : await this.model.blocksSplit(from, cuts.slice(k, end).map((cut) => cut[1]), hIn, cIn, rows.length);
    this.times.blocksMs += this.now() - t0;
    rows.forEach((r) => {
      rowComputedBlocks[r] += last - from;
      this.rowBlockEvals[r] += last - from;
    });
    return { start: k, end, rows, outs };
  }

  /**
   * Section k's output for every row: the group's rows from its session call, the rest predicted; rows
   * whose prediction comes out non-finite (or that turned to compute earlier this step) run the section
   * in a call of their own. Every row's cache then observes the section. Returns the output [R, T, D].
   */
  private async completeSection(
    step: StepInfo,
    k: number,
    group: SectionGroup,
    decisions: Decision[],
    elided: ReadonlySet<number>,
    h: Float32Array,
    cond: Float32Array,
    rowComputedBlocks: number[],
  ): Promise<Float32Array> {
    const { R, TD, times, caches, cacheView } = this;
    const [from, to] = this.cuts[k];
    let hOut: Float32Array = h === this.stackBuffers[0] ? this.stackBuffers[1] : this.stackBuffers[0];
    const grouped = new Set(group.rows);
    const extraRows: number[] = [];
    let t0 = this.now();
    for (let r = 0; r < R; r++) {
      if (grouped.has(r) || elided.has(r)) continue;
      const d = decisions[r];
      if (d.compute || d.computeSections?.[k]) {
        extraRows.push(r);
        continue;
      }
      try {
        caches![r].predict(step, k, cacheView(h, r), cacheView(hOut, r));
      } catch (err) {
        if (!(err instanceof CachePredictionError)) throw err;
        decisions[r] = { ...d, compute: true, reason: 'nan-fallback' };
        extraRows.push(r);
      }
    }
    times.cacheMs += this.now() - t0;
    if (group.rows.length === R) {
      // Every row ran this section: its output array is the section's output as it is (nothing else
      // writes into it; the caches copy what they keep). No elided rows exist on such a step.
      hOut = group.outs[k - group.start];
    } else if (group.rows.length) {
      const res = group.outs[k - group.start];
      group.rows.forEach((r, j) => hOut.set(res.subarray(j * TD, (j + 1) * TD), r * TD));
    }
    if (extraRows.length) {
      t0 = this.now();
      const extra = await this.model.blocks(from, to, gatherRows(h, extraRows, TD), gatherRows(cond, extraRows, this.model.condSize), extraRows.length);
      times.blocksMs += this.now() - t0;
      extraRows.forEach((r, j) => hOut.set(extra.subarray(j * TD, (j + 1) * TD), r * TD));
      extraRows.forEach((r) => {
        rowComputedBlocks[r] += to - from;
        this.rowBlockEvals[r] += to - from;
      });
    }
    if (caches) {
      t0 = this.now();
      const computed = new Set([...group.rows, ...extraRows]);
      for (let r = 0; r < R; r++) caches[r].observe(step, k, cacheView(h, r), elided.has(r) ? undefined : cacheView(hOut, r), computed.has(r));
      times.cacheMs += this.now() - t0;
    }
    return hOut;
  }
}

/**
 * For a history-only forecaster cut into several sections, a row predicted in every section this step
 * needs only the last section's forecast: the earlier ones feed predictions that ignore their input.
 * Makes that forecast first, into the row of `into` where the last section's output lands, and returns
 * the rows so served. A row whose forecast is not finite is left to the section-by-section path, which
 * predicts it again and then computes (the same outcome as without the shortcut).
 */
function forecastLastSection(
  step: StepInfo,
  caches: readonly SampleCache[],
  decisions: readonly Decision[],
  last: number,
  input: Float32Array,
  into: Float32Array,
  view: (a: Float32Array, r: number) => Float32Array,
): Set<number> {
  const served = new Set<number>();
  decisions.forEach((d, r) => {
    if (!predictsEverySection(d)) return;
    try {
      caches[r].predict(step, last, view(input, r), view(into, r));
      served.add(r);
    } catch (err) {
      if (!(err instanceof CachePredictionError)) throw err;
    }
  });
  return served;
}

function sum(a: readonly number[]): number {
  return a.reduce((x, y) => x + y, 0);
}

/** The row runs no section this step (no full compute, no partial one). */
function predictsEverySection(d: Decision): boolean {
  return !d.compute && !d.computeSections?.some((c) => c);
}
