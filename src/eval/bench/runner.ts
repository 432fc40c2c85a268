// `tcpade bench`'s engine: per model and step count, the full run, then every method/preset and the
// fewer-steps baselines, each measured (compute, speed, fidelity, FID) and saved the moment it finishes.
// Synthetic models (random weights) get speed-only rows instead (speed-group.ts) and their decoder's time.
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot, resolveModelPath } from '../../models/shipped.js';
import { type Denoiser, classCount } from '../../models/denoiser.js';
import { generate } from '../../pipeline/generate.js';
import { toUnitRange } from '../../pipeline/images.js';
import { loadClassifier, MnistReference } from '../metrics.js';
import { BenchConfigError, configFingerprint, fingerprintDiff, validateBenchConfig, type BenchConfig } from './config.js';
import { gitInfo, machineInfo, machineLine } from './machine.js';
import { timeDecoder } from './decoder-timing.js';
import { measureRow } from './measure-row.js';
import { modelEntries, openDenoiser, portablePath, type ModelEntry } from './model-entries.js';
import { sha256Of } from './quality.js';
import { writeReports } from './report.js';
import { BENCH_FORMAT, appendRow, appendSpeedRow, loadBenchFile, rowKey, saveBenchFile, type BenchFile, type BenchRow, type ModelRecord, type SpeedRow } from './rows.js';
import { runSpeedGroup } from './speed-group.js';
import { runStudy } from './study-run.js';
import { teaCacheCoefficients } from './teacache-coefficients.js';
import { cachedVariants, checkMethodFilter, checkPresetFilter, fewerStepsVariants, type Variant } from './variants.js';

/** Progress callbacks; units are sample-steps (one sample through one sampler step, both CFG branches). */
export interface BenchEvents {
  onPlan?(p: { rows: number; units: number }): void;
  onUnits?(units: number): void;
  onRowStart?(p: { label: string; index: number; rows: number }): void;
  onRow?(row: BenchRow): void;
  onSpeedRow?(row: SpeedRow): void;
  onLog?(message: string): void;
}

export interface RunOptions {
  /** Folder of <run>.json, <run>.md and the <run>/ figures (bench/results). */
  readonly outDir: string;
  readonly runName: string;
  /** Continue an existing <run>.json: finished rows are skipped. */
  readonly resume: boolean;
  /** Start over even if <run>.json exists. */
  readonly force?: boolean;
  /** Checked between rows: an aborted run saves what it has, writes the reports and returns (complete = false). */
  readonly signal?: AbortSignal;
  readonly events?: BenchEvents;
  /**
   * Metric reference to use (and keep: the caller releases its classifier) instead of loading
   * config.classifier; lets several runs in one process share the test-set statistics.
   */
  readonly reference?: MnistReference;
}

export interface BenchOutcome {
  readonly file: string;
  readonly data: BenchFile;
  readonly complete: boolean;
  readonly rowsMeasured: number;
  readonly rowsSkipped: number;
  /** Rows whose measurement threw ("key failed: error"); they are not in the file, --resume retries them. */
  readonly failed: readonly string[];
  readonly outputs: readonly string[];
}

function openFile(file: string, config: BenchConfig, o: RunOptions): BenchFile {
  const exists = fs.existsSync(file);
  if (exists && o.resume) {
    const data = loadBenchFile(file);
    const diff = fingerprintDiff(data.fingerprint, configFingerprint(config));
    if (diff.length) {
      throw new BenchConfigError(`--resume: ${file} was measured with other settings (${diff.join('; ')}); rerun with the stored settings or use another --run-name`);
    }
    return data;
  }
  if (exists && !o.force) {
    throw new BenchConfigError(`${file} exists; pass --resume to continue it, --force to start it over, or another --run-name`);
  }
  const root = packageRoot();
  const now = new Date().toISOString();
  return {
    format: BENCH_FORMAT,
    run: o.runName,
    created: now,
    updated: now,
    fingerprint: configFingerprint(config),
    config: { ...config, methods: config.methods ?? 'all', presets: config.presets ?? 'all' },
    machine: machineInfo(root),
    git: gitInfo(root),
    models: {},
    rows: [],
    speedRows: [],
    study: [],
    notes: [],
  };
}

/** Estimated sample-steps of a row (an upper bound for cached rows: they run fewer blocks per step). */
function rowUnits(c: BenchConfig, steps: number, stepsRun: number, isNone: boolean): number {
  return (isNone ? 0 : c.n * stepsRun + c.timingN * stepsRun) + c.reps * c.timingN * (steps + stepsRun);
}

interface Group {
  readonly model: ModelEntry;
  readonly steps: number;
}

export async function runBench(configIn: BenchConfig, o: RunOptions): Promise<BenchOutcome> {
  const config = validateBenchConfig(configIn);
  checkMethodFilter(config.methods);
  checkPresetFilter(config.presets, config.methods);
  const ev = o.events ?? {};
  const models = modelEntries(config.models);
  fs.mkdirSync(o.outDir, { recursive: true });
  const file = path.join(o.outDir, `${o.runName}.json`);
  const figDir = path.join(o.outDir, o.runName);
  const data = openFile(file, config, o);
  for (const m of models) {
    const prev = data.models[m.name];
    if (prev && prev.path !== m.shownPath) {
      throw new BenchConfigError(`model name "${m.name}" means ${prev.path} in ${file}, but ${m.shownPath} now; pass the same model or use another --run-name`);
    }
  }
  saveBenchFile(file, data);
  const done = (key: string): boolean => data.rows.some((r) => r.key === key) || (data.speedRows ?? []).some((r) => r.key === key);
  const variantsFor = (): Variant[] => cachedVariants(config.methods, config.presets);
  const keyOf = (g: Group, v: Variant): string => rowKey(g.model.name, g.steps, v.method, v.preset);
  const includeFewer = config.methods === undefined || config.methods.includes('fewer-steps');
  /** Computed steps of a group's cached rows so far (fewer-steps is matched to their median). */
  const cachedComputedSteps = (g: Group): number[] =>
    [...data.rows, ...(data.speedRows ?? [])].filter((r) => r.model === g.model.name && r.steps === g.steps && r.method !== 'none' && r.method !== 'fewer-steps').map((r) => r.computedSteps);
  const fewerFor = (g: Group): Variant[] => {
    if (!includeFewer) return [];
    // Speed-only groups: the matched row only (fewer-steps does the full run's work per step).
    if (g.model.synthetic) return fewerStepsVariants(g.steps, [], cachedComputedSteps(g));
    const cached = data.rows.filter((r) => r.model === g.model.name && r.steps === g.steps && r.method !== 'none' && r.method !== 'fewer-steps');
    return fewerStepsVariants(g.steps, config.fewerStepsDivisors, cached.map((r) => r.computedSteps));
  };
  /** Rows of a group still to measure; fewer-steps ones are only known once its cached rows are (estimated until then). */
  const pendingIn = (g: Group): { fixed: Variant[]; fewer: number } => {
    const fixed = variantsFor().filter((v) => !done(keyOf(g, v)));
    const cachedPending = fixed.some((v) => v.method !== 'none');
    const fewerEstimate = g.model.synthetic ? 1 : config.fewerStepsDivisors.length + 1;
    const fewer = !includeFewer ? 0 : cachedPending ? fewerEstimate : fewerFor(g).filter((v) => !done(keyOf(g, v))).length;
    return { fixed, fewer };
  };

  // Plan: rows still to measure and their estimated work, for the progress bar's ETA.
  const groups: Group[] = models.flatMap((model) => config.steps.map((steps) => ({ model, steps })));
  let plannedRows = 0;
  let plannedUnits = 0;
  for (const g of groups) {
    const { fixed, fewer } = pendingIn(g);
    plannedRows += fixed.length + fewer;
    if (g.model.synthetic) {
      // Per method row ⌈reps/2⌉ (method, full) runs (upper bound: method runs as long as a full one); none: one more full.
      plannedUnits += config.timingN * g.steps * ((fixed.length + fewer) * 2 * Math.ceil(config.reps / 2) + 1);
      continue;
    }
    if (fixed.length + fewer > 0) plannedUnits += (config.n + config.timingN) * g.steps;
    for (const v of fixed) plannedUnits += rowUnits(config, g.steps, g.steps, v.method === 'none');
    plannedUnits += fewer * rowUnits(config, g.steps, Math.round(g.steps / 2), false);
  }
  // Speed-only models have no study: their random weights make residual-prediction errors meaningless.
  const studyPending = (m: ModelEntry): number[] => (config.study && !m.synthetic ? config.study.steps.filter((s) => !data.study.some((r) => r.model === m.name && r.steps === s)) : []);
  for (const m of models) {
    for (const s of studyPending(m)) {
      plannedUnits += config.study!.n * s;
      plannedRows++;
    }
  }
  ev.onPlan?.({ rows: plannedRows, units: plannedUnits });

  // The metric classifier only when a quality model has work left (a speed-only run needs none).
  let clf: Awaited<ReturnType<typeof loadClassifier>> | undefined;
  let refLoaded: MnistReference | undefined = o.reference;
  const reference = async (): Promise<MnistReference> => {
    if (!refLoaded) {
      clf = await loadClassifier(resolveModelPath(config.classifier), config.threads);
      refLoaded = new MnistReference(clf);
    }
    return refLoaded;
  };
  let measured = 0;
  let skipped = 0;
  const failed: string[] = [];
  let rowIndex = 0;
  const aborted = (): boolean => o.signal?.aborted === true;
  const progress = (n: number, bs: number) => (p: { batch: number }) => ev.onUnits?.(Math.min(bs, n - p.batch * bs));

  try {
    for (const m of models) {
      if (aborted()) break;
      const anyRows = groups.some((g) => g.model === m && (pendingIn(g).fixed.length > 0 || pendingIn(g).fewer > 0));
      if (!anyRows && studyPending(m).length === 0) {
        skipped += [...data.rows, ...(data.speedRows ?? [])].filter((r) => r.model === m.name).length;
        continue;
      }
      // A synthetic model's decoder is timed before its denoiser is built (lower peak memory).
      const decoder = m.synthetic && !data.models[m.name] ? await timeDecoder(m, { threads: config.threads, reps: Math.max(2, config.reps), seed: config.seed }) : undefined;
      if (m.synthetic) ev.onLog?.(`${m.name}: building ${m.synthetic.architecture} with random weights…`);
      const model = await openDenoiser(m, config.threads);
      try {
        if (!data.models[m.name]) {
          ev.onLog?.(`${m.name}: TeaCache coefficients…`);
          // A speed-only model is calibrated on the timing batch at the smallest step count: its coefficients only
          // steer how often TeaCache computes, and a DiT-XL run cannot afford the quality models' calibration.
          const calibration = m.synthetic ? { steps: [Math.min(...config.steps)], samples: config.timingN } : config.teacacheCalibration;
          const teacache = await teaCacheCoefficients(model, m.synthetic ? undefined : m.path, portablePath, { sampler: m.sampler, steps: calibration.steps, samples: calibration.samples, cfgScale: config.cfgScale, seed: config.seed });
          if (teacache.source === 'calibrated-on-the-fly') ev.onLog?.(`${m.name}: ${teacache.detail}`);
          const rec: ModelRecord = {
            name: m.name,
            path: m.shownPath,
            objective: m.objective,
            sampler: m.sampler,
            depth: model.depth,
            hiddenSize: model.hiddenSize,
            tokens: model.tokens,
            teacache,
            ...(m.synthetic ? { speedOnly: { architecture: m.synthetic.architecture, weights: m.synthetic.weights } } : {}),
            ...(decoder ? { decoder } : {}),
          };
          data.models[m.name] = rec;
          saveBenchFile(file, data);
        }
        const record = data.models[m.name];
        for (const steps of config.steps) {
          if (aborted()) break;
          const g: Group = { model: m, steps };
          const r = m.synthetic ? await runSpeed(g, model, record) : await runGroup(g, model, record);
          measured += r.measured;
          skipped += r.skipped;
        }
        for (const steps of studyPending(m)) {
          if (aborted()) break;
          ev.onRowStart?.({ label: `${m.name} @ ${steps}: prediction study`, index: rowIndex++, rows: plannedRows });
          const st = await runStudy(model, m.name, {
            steps,
            n: config.study!.n,
            seed: config.seed,
            cfgScale: config.cfgScale,
            sampler: m.sampler,
            batchSize: config.batchSize,
            maxGap: config.study!.maxGap,
            onStep: (k) => ev.onUnits?.(k),
          });
          data.study.push(st);
          saveBenchFile(file, data);
        }
      } finally {
        await model.release();
      }
    }
  } finally {
    await clf?.release();
  }

  async function runSpeed(g: Group, model: Denoiser, record: ModelRecord): Promise<{ measured: number; skipped: number }> {
    const r = await runSpeedGroup({
      config,
      model,
      entry: g.model,
      steps: g.steps,
      teacache: record.teacache,
      machine: machineLine(data.machine),
      variants: variantsFor().filter((v) => v.method !== 'none'),
      includeFewerSteps: includeFewer,
      done,
      cachedComputedSteps: () => cachedComputedSteps(g),
      save: (row) => appendSpeedRow(file, data, row),
      aborted,
      onRowStart: (label) => ev.onRowStart?.({ label, index: rowIndex++, rows: plannedRows }),
      onRow: (row) => ev.onSpeedRow?.(row),
      onUnits: ev.onUnits,
      onLog: ev.onLog,
    });
    failed.push(...r.failed);
    return r;
  }

  async function runGroup(g: Group, model: Denoiser, record: ModelRecord): Promise<{ measured: number; skipped: number }> {
    const pending = pendingIn(g);
    if (pending.fixed.length === 0 && pending.fewer === 0) {
      return { measured: 0, skipped: data.rows.filter((r) => r.model === g.model.name && r.steps === g.steps).length };
    }
    const ref = await reference();
    const labels = Array.from({ length: config.n }, (_, i) => i % classCount(model));
    const base = { labels, seed: config.seed, sampler: g.model.sampler, cfgScale: config.cfgScale, batchSize: Math.min(config.batchSize, config.n) };
    ev.onLog?.(`${g.model.name} @ ${g.steps} steps: full run of ${config.n} samples`);
    const full = await generate(model, { ...base, steps: g.steps, onStep: progress(config.n, base.batchSize) });
    const fullImages = toUnitRange(full.samples);
    const digest = sha256Of(full.samples);
    const noneRow = data.rows.find((r) => r.key === rowKey(g.model.name, g.steps, 'none', 'default'));
    if (noneRow?.samplesSha256 && noneRow.samplesSha256 !== digest) {
      const note = `${g.model.name} @ ${g.steps}: the resumed full run differs from the stored one (sha256 ${noneRow.samplesSha256.slice(0, 12)}… vs ${digest.slice(0, 12)}…); fidelity of rows measured in different invocations is against slightly different references`;
      data.notes.push(note);
      ev.onLog?.(note);
    }
    // Untimed: the first run of a new batch shape pays ORT's allocation planning; keep it out of the pairs.
    const timingLabels = labels.slice(0, config.timingN);
    await generate(model, { ...base, labels: timingLabels, batchSize: config.timingN, steps: g.steps, onStep: progress(config.timingN, config.timingN) });
    let measuredHere = 0;
    let skippedHere = 0;
    const runVariants = async (variants: readonly Variant[]): Promise<void> => {
      for (const v of variants) {
        if (done(keyOf(g, v))) {
          skippedHere++;
          continue;
        }
        if (aborted()) return;
        ev.onRowStart?.({ label: `${g.model.name} @ ${g.steps}: ${v.method}/${v.preset}`, index: rowIndex++, rows: plannedRows });
        let row: BenchRow;
        try {
          row = await measureRow(
            { config, model, entry: g.model, steps: g.steps, teacache: record.teacache, full, fullImages, fullSha256: digest, fullFid: data.rows.find((r) => r.key === keyOf(g, { method: 'none', preset: 'default' }))?.fid, ref, figDir, machine: machineLine(data.machine), onUnits: ev.onUnits },
            v,
          );
        } catch (e) {
          // One broken method must not cost an hour of other rows: note it, leave the row missing
          // (a --resume retries it), go on.
          const msg = `${keyOf(g, v)} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
          failed.push(msg);
          ev.onLog?.(msg);
          continue;
        }
        appendRow(file, data, row);
        ev.onRow?.(row);
        measuredHere++;
      }
    };
    await runVariants(variantsFor());
    if (!aborted()) await runVariants(fewerFor(g));
    return { measured: measuredHere, skipped: skippedHere };
  }

  if (failed.length) {
    // Recorded in the file too, so the report says which rows are missing and why.
    for (const f of failed) if (!data.notes.includes(f)) data.notes.push(f);
    saveBenchFile(file, data);
  }
  const outputs = await writeReports(data, o.outDir, o.runName);
  const complete = !aborted() && failed.length === 0;
  return { file, data, complete, rowsMeasured: measured, rowsSkipped: skipped, failed, outputs: [file, ...outputs] };
}
