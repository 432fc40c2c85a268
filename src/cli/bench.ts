// `tcpade bench`: the paper's tables in miniature — every cache method/preset and the fewer-steps
// baseline per model and step count, with a progress bar; results, plots and grids under bench/results.
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { defaultBenchConfig, quickBenchConfig, type BenchConfig } from '../eval/bench/config.js';
import { loadBenchFile } from '../eval/bench/rows.js';
import { writeReports } from '../eval/bench/report.js';
import { runBench, type BenchEvents } from '../eval/bench/runner.js';
import { benchMethodNames } from '../eval/bench/variants.js';
import { syntheticModelNames } from '../models/synthetic.js';
import { defaultThreads } from '../runtime/session.js';
import { floatArg, intArg, intListArg, threadsArg } from './args.js';

function listArg(v: string): string[] {
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (!parts.length) throw new InvalidArgumentError(`expected a comma-separated list, got "${v}"`);
  return parts;
}

interface BenchOptions {
  quick?: boolean;
  models?: string[];
  steps?: number[];
  n?: number;
  reps?: number;
  timingN?: number;
  batchSize?: number;
  threads: number;
  cfg?: number;
  seed?: number;
  methods?: string[];
  presets?: string[];
  study: boolean;
  studyN?: number;
  studySteps?: number[];
  classifier?: string;
  out: string;
  runName?: string;
  resume?: boolean;
  force?: boolean;
  reportOnly?: boolean;
  progress: boolean;
}

/** The configuration an invocation asks for: quick or default, then each option given. */
export function benchConfigFrom(o: BenchOptions): BenchConfig {
  const base = o.quick ? quickBenchConfig(o.threads) : defaultBenchConfig(o.threads);
  const study = !o.study || !base.study ? null : { ...base.study, n: o.studyN ?? base.study.n, steps: o.studySteps ?? base.study.steps };
  const n = o.n ?? base.n;
  return {
    ...base,
    models: o.models ?? base.models,
    steps: o.steps ?? base.steps,
    n,
    reps: o.reps ?? base.reps,
    timingN: o.timingN ?? Math.min(base.timingN, n),
    batchSize: o.batchSize ?? base.batchSize,
    cfgScale: o.cfg ?? base.cfgScale,
    seed: o.seed ?? base.seed,
    classifier: o.classifier ?? base.classifier,
    methods: o.methods,
    presets: o.presets,
    study,
  };
}

function progressEvents(enabled: boolean): { events: BenchEvents; stop: () => void } {
  const tty = enabled && process.stderr.isTTY === true;
  // A MultiBar with one bar: unlike SingleBar it can print log lines above the bar.
  const multi = tty
    ? new cliProgress.MultiBar(
        { format: 'bench |{bar}| {percentage}% | row {row}/{rows} {label} | elapsed {duration_formatted} | ETA {eta_formatted}', etaBuffer: 200, fps: 2, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let bar: cliProgress.SingleBar | undefined;
  let rows = 0;
  let started = false;
  const events: BenchEvents = {
    onPlan: (p) => {
      rows = p.rows;
      bar = multi?.create(Math.max(1, p.units), 0, { row: 0, rows, label: '' });
      started = true;
    },
    onUnits: (u) => bar?.increment(u),
    onRowStart: (p) => {
      bar?.update({ row: p.index + 1, rows, label: p.label });
      if (!bar) console.log(`[${p.index + 1}/${rows}] ${p.label}`);
    },
    onRow: (r) => {
      const num = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
      const line = `  ${r.label}: block compute ${num(r.blockComputeRatio, 3)}, ${num(r.speedupWall, 2)}×, PSNR ${num(r.psnr, 2)} dB, FID ${num(r.fid, 3)}`;
      if (multi) multi.log(line + '\n');
      else console.log(line);
    },
    onSpeedRow: (r) => {
      const num = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
      const line = `  ${r.label}: block compute ${num(r.blockComputeRatio, 3)}, ${num(r.speedupWall, 2)}× of ideal ${num(r.idealSpeedup, 2)}× (${num(r.speedupOverIdeal, 3)}; CPU time ${num(r.cpuSpeedupOverIdeal, 3)}), ${num(r.split.total, 0)} ms/step`;
      if (multi) multi.log(line + '\n');
      else console.log(line);
    },
    onLog: (m) => {
      if (multi) multi.log(m + '\n');
      else console.log(m);
    },
  };
  return {
    events,
    stop: () => {
      if (started) multi?.stop();
      started = false;
    },
  };
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark every cache method/preset vs full compute and fewer steps: block compute, wall speedup, PSNR/SSIM, FID; plus the residual-prediction study')
    .option('--quick', 'smoke configuration (minutes): N=20, 20 steps, 2 timing pairs on 4 samples, study at 20 steps')
    .option(
      '--models <list>',
      `comma-separated shipped model names, checkpoint paths, or synthetic models (random weights, speed-only rows: ${syntheticModelNames().join(', ')}) (default mnist-dit,mnist-dit-flow)`,
      listArg,
    )
    .option('--steps <list>', 'step counts (default 20,25,30,50; quick: 20)', intListArg(4, 1000))
    .option('--n <n>', 'samples per row for PSNR/SSIM/FID (default 64; quick 20)', intArg(2, 100000))
    .option('--reps <n>', 'interleaved (full, method) timing pairs per row (default 5; quick 2)', intArg(1, 1000))
    .option('--timing-n <n>', 'samples in the timing batch (default 8; quick 4)', intArg(1, 100000))
    .option('--batch-size <n>', 'samples per model batch in quality runs (default 64; quick 20)', intArg(1, 4096))
    .option('--threads <n>', 'ORT intra-op threads', threadsArg, defaultThreads())
    .option('--cfg <scale>', 'classifier-free guidance scale (default 1.5)', floatArg(0, 100))
    .option('--seed <n>', 'seed of the sample noise (default 0)', intArg(0))
    .option('--methods <list>', `only these methods (none always runs): ${benchMethodNames().join(', ')}`, listArg)
    .option('--presets <list>', "only these presets of the cache methods: 'default' (each method's default), 'all', or method/preset, e.g. default,tcpade/paper-fast", listArg)
    .option('--no-study', 'skip the residual-prediction study')
    .option('--study-n <n>', 'samples whose full trajectories the study records (default 8; quick 2)', intArg(1, 10000))
    .option('--study-steps <list>', 'step counts of the study (default 20,50; quick 20)', intListArg(4, 1000))
    .option('--classifier <name|path>', 'metric classifier (default mnist-classifier)')
    .option('--out <dir>', 'results folder', path.join('bench', 'results'))
    .option('--run-name <name>', 'result name: <out>/<name>.json, .md and <name>/ (default: "default", or "quick" — which a new --quick run overwrites)')
    .option('--resume', 'continue <run>.json: finished rows are skipped')
    .option('--force', 'start <run>.json over if it exists')
    .option('--report-only', 'only rewrite the .md, plots and grids from <run>.json')
    .option('--no-progress', 'no progress bar (one line per row instead)')
    .action(async (o: BenchOptions) => {
      const runName = o.runName ?? (o.quick ? 'quick' : 'default');
      if (!/^[\w.-]+$/.test(runName)) throw new InvalidArgumentError(`--run-name must be letters, digits, '.', '_' or '-', got "${runName}"`);
      if (o.reportOnly) {
        const data = loadBenchFile(path.join(o.out, `${runName}.json`));
        for (const f of await writeReports(data, o.out, runName)) console.log(`wrote ${f}`);
        return;
      }
      const config = benchConfigFrom(o);
      const { events, stop } = progressEvents(o.progress);
      const controller = new AbortController();
      // First Ctrl-C: finish nothing more, save, write the reports. Rows already measured are on disk either way.
      const onSigint = (): void => {
        if (controller.signal.aborted) process.exit(130);
        controller.abort();
        events.onLog?.('interrupted: stopping after the current row (Ctrl-C again to quit now; finished rows are saved)');
      };
      process.on('SIGINT', onSigint);
      try {
        // A quick run under its default name is a smoke test: it starts over instead of refusing.
        const force = o.force === true || (o.quick === true && o.runName === undefined && o.resume !== true);
        const r = await runBench(config, { outDir: o.out, runName, resume: o.resume === true, force, signal: controller.signal, events });
        stop();
        const state = r.failed.length ? `${r.failed.length} row(s) failed` : r.complete ? 'done' : 'interrupted';
        console.log(`${state}: ${r.rowsMeasured} rows measured, ${r.rowsSkipped} already there (${r.data.rows.length + (r.data.speedRows?.length ?? 0)} in ${r.file})`);
        for (const f of r.failed) console.error(`  ${f}`);
        for (const f of r.outputs.slice(1)) console.log(`wrote ${f}`);
        if (!r.complete) {
          console.log(`continue with: tcpade bench ${process.argv.slice(3).filter((a) => a !== '--resume' && a !== '--force').join(' ')} --resume`);
          process.exitCode = 1;
        }
      } finally {
        stop();
        process.off('SIGINT', onSigint);
      }
    });
}
