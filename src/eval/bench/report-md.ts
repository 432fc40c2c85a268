// The human-readable report of a bench run (bench/results/<run>.md): setup, targets, headline table,
// one table per (model, steps) with its figures, baselines that beat ours, and the prediction study.
import { FID_BOOTSTRAP } from './quality.js';
import { baselinesBeatingOurs, bestSetting, checkSpeedTarget, finite, isOurs } from './compare.js';
import { machineLine } from './machine.js';
import { median } from './numbers.js';
import { PSNR_CAP_DB, type BenchFile, type BenchRow } from './rows.js';
import { renderSpeedSections } from './report-speed-md.js';
import { STUDY_PREDICTORS, type StudyCell } from './study.js';
import type { StudyRecord } from './study-run.js';

/** Figure paths relative to the .md, per group and model (made by report.ts). */
export interface FigureLinks {
  pareto(model: string, steps: number): string | undefined;
  grid(model: string, steps: number): string | undefined;
  predictionError(model: string): string | undefined;
  perStepError(model: string): string | undefined;
}

const dash = '—';
const f = (x: number | null | undefined, digits: number): string => (finite(x) ? x.toFixed(digits) : dash);
const pct = (x: number | null | undefined, digits = 1): string => (finite(x) ? `${(100 * x).toFixed(digits)} %` : dash);

function speedupCell(r: BenchRow): string {
  const s = r.timing?.speedup;
  if (!finite(r.speedupWall)) return dash;
  return s && finite(s.min) && finite(s.max) ? `${r.speedupWall.toFixed(2)}× [${s.min.toFixed(2)}–${s.max.toFixed(2)}]` : `${r.speedupWall.toFixed(2)}×`;
}

function psnrCell(r: BenchRow): string {
  return finite(r.psnr) && r.psnr >= PSNR_CAP_DB ? `${PSNR_CAP_DB} (cap)` : f(r.psnr, 2);
}

function methodCell(r: BenchRow): string {
  const name = r.method === 'fewer-steps' ? `fewer-steps (${r.stepsRun} of ${r.steps})` : `${r.method}/${r.preset}`;
  return isOurs(r) ? `**${name}**` : name;
}

const GROUP_HEADER =
  '| method | block compute | ideal | wall speedup [min–max] | floor 0.9/(1−f·b) | PSNR dB | SSIM | FID | class acc | cache ms/step (% of full step) |\n' +
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';

function groupLine(r: BenchRow): string {
  const split = r.splitSteps ? ` (${r.splitSteps} split)` : '';
  const below = finite(r.speedupWall) && finite(r.speedupBound) && r.speedupWall < r.speedupBound && r.method !== 'none' ? ` ⚠${split}` : '';
  const ideal = finite(r.blockComputeRatio) && r.blockComputeRatio > 0 ? `${(1 / r.blockComputeRatio).toFixed(2)}×` : dash;
  const fid = !finite(r.fid) && r.fidError ? 'n/a †' : finite(r.fidStd) ? `${f(r.fid, 3)} ± ${f(r.fidStd, 1)}` : f(r.fid, 3);
  return `| ${methodCell(r)} | ${pct(r.blockComputeRatio)} | ${ideal} | ${speedupCell(r)}${below} | ${f(r.speedupBound, 2)}× | ${psnrCell(r)} | ${f(r.ssim, 3)} | ${fid} | ${pct(r.classAcc)} | ${f(r.cacheMsPerStep, 2)} (${f(r.cacheOverheadPct, 2)} %) |`;
}

function headlineRows(group: readonly BenchRow[]): BenchRow[] {
  const out: BenchRow[] = [];
  const full = group.find((r) => r.method === 'none');
  if (full) out.push(full);
  // fewer-steps at the cached rows' median computed steps (recomputed: a resumed run may have added rows).
  const cached = group.filter((r) => r.method !== 'none' && r.method !== 'fewer-steps' && finite(r.computedSteps));
  const k = Math.max(1, Math.round(median(cached.map((r) => r.computedSteps))));
  const matched = group.find((r) => r.method === 'fewer-steps' && r.stepsRun === k);
  if (matched) out.push(matched);
  const methods = [...new Set(group.map((r) => r.method))].filter((m) => m !== 'none' && m !== 'fewer-steps' && m !== 'tcpade');
  for (const m of methods) {
    const best = bestSetting(group.filter((r) => r.method === m));
    if (best) out.push(best);
  }
  for (const p of ['paper-slow', 'paper-fast', 'reference', 'slow', 'fast', 'lite-slow', 'lite-fast']) {
    const r = group.find((x) => x.method === 'tcpade' && x.preset === p);
    if (r) out.push(r);
  }
  return out;
}

function studyTable(cells: readonly StudyCell[], target: StudyCell['target'], maxGap: number): string {
  const gaps = Array.from({ length: maxGap }, (_, i) => i + 1);
  const lines = [`| predictor | ${gaps.map((g) => `g=${g}`).join(' | ')} |`, `|---|${gaps.map(() => '---:').join('|')}|`];
  for (const p of STUDY_PREDICTORS) {
    const row = gaps.map((g) => {
      const c = cells.find((x) => x.target === target && x.predictor === p && x.gap === g);
      return c ? (finite(c.median) ? c.median.toPrecision(3) : '∞') : dash;
    });
    if (row.every((v) => v === dash)) continue;
    lines.push(`| ${p} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Per gap: does the Padé form (paper rule or the bare formula) beat the best Taylor order? */
function padeVsTaylor(rec: StudyRecord, target: StudyCell['target']): string {
  const gaps = [...new Set(rec.cells.map((c) => c.gap))].sort((a, b) => a - b);
  const parts = gaps.map((g) => {
    const med = (p: string): number => rec.cells.find((c) => c.target === target && c.gap === g && c.predictor === p)?.median ?? NaN;
    const taylor = Math.min(med('taylor1'), med('taylor2'));
    const pade = Math.min(med('pade'), med('paper'));
    if (!finite(taylor) || !finite(pade)) return `g=${g}: n/a`;
    return `g=${g}: ${pade < taylor ? 'Padé' : 'Taylor'} (${pade.toPrecision(3)} vs ${taylor.toPrecision(3)})`;
  });
  return parts.join('; ');
}

/** The setup lines of the quality rows (samples, speed, quality, block compute, one per quality model). */
function qualityHeader(data: BenchFile, fp: Record<string, unknown>): string[] {
  const out: string[] = [];
  out.push(
    `- **Samples**: N = **${String(fp.n)}** per row, sample k has class k mod 10 and noise from (seed ${String(fp.seed)}, k) — the same samples in every row; CFG scale ${String(fp.cfgScale)}; quality runs in batches of ${String(fp.batchSize)}.`,
  );
  out.push(
    `- **Speed**: ${String(fp.reps)} interleaved (full, method) pairs per row in this one process, order alternating, on the first ${String(fp.timingN)} samples in one batch; speedup = full wall / method wall per pair, median [min–max]. ⚠ marks a row below issue 5's floor 0.9/(1 − f·b) (f = skipped share of block FLOPs, b = blocks' share of a full step, measured on the same runs); "(n split)" beside it counts the steps on which the timing batch's rows decided differently, so the blocks ran for part of the batch in a smaller, less efficient call.`,
  );
  out.push(
    `- **Quality**: PSNR = mean per-image PSNR vs the full run of the same seeds, each capped at ${PSNR_CAP_DB} dB (identical images); SSIM (Gaussian 11×11, σ 1.5) likewise; FID = Fréchet distance of the metric classifier's features (\`${String(fp.classifier)}\`) vs the MNIST test set (± its standard deviation over ${FID_BOOTSTRAP} bootstrap resamples of the row's N samples), with FID full (same N, full compute) and FID real (N real training images: the floor at this N) beside it; class accuracy = share classified as the requested class.`,
  );
  out.push('- **Block compute** = block evaluations / those of the full run at the requested steps (fewer-steps counted against the requested steps); ideal = 1 / block compute. Cache ms/step = cache bookkeeping + prediction per step of the timing batch.');
  for (const m of Object.values(data.models)) {
    if (m.speedOnly) continue;
    out.push(`- **${m.name}**: \`${m.path}\` (${m.objective} objective, ${m.sampler}, depth ${m.depth}, hidden ${m.hiddenSize}, ${m.tokens} tokens); TeaCache coefficients ${m.teacache.source === 'teacache.json' ? 'from' : '**calibrated on the fly**:'} ${m.teacache.detail}`);
  }
  return out;
}

export function renderMarkdown(data: BenchFile, links: FigureLinks): string {
  const c = data.config as Record<string, unknown>;
  const rows = data.rows;
  // Quality models only: speed-only (synthetic) models have their own sections (report-speed-md.ts).
  const speedOnly = new Set(Object.values(data.models).filter((m) => m.speedOnly).map((m) => m.name));
  const models = [...new Set(rows.map((r) => r.model)), ...Object.keys(data.models)].filter((m, i, a) => a.indexOf(m) === i && !speedOnly.has(m));
  const stepsList = [...new Set(rows.map((r) => r.steps))].sort((a, b) => a - b);
  const fp = data.fingerprint as Record<string, unknown>;
  const out: string[] = [];
  out.push(`# tcpade bench: \`${data.run}\`${c.quick ? ' (quick smoke configuration — not for conclusions)' : ''}`);
  out.push('');
  out.push(`- **Machine**: ${machineLine(data.machine)}; ORT intra-op threads: **${String(fp.threads)}**`);
  out.push(`- **Commit**: ${data.git.commit ?? 'unknown'}${data.git.dirty ? ' (working tree had uncommitted changes)' : ''}; created ${data.created}, updated ${data.updated}`);
  if (models.length) out.push(...qualityHeader(data, fp));
  for (const n of data.notes) out.push(`- Note: ${n}`);
  out.push('');

  // Targets of issue 6, evaluated from the rows (never typed in).
  if (stepsList.includes(20) && models.length) {
    out.push('## Targets at 20 steps (issue 6)');
    out.push('');
    for (const m of models) {
      const t = checkSpeedTarget(rows, m);
      if (!t.row) {
        out.push(`- ${m}: no \`tcpade/fast\` row at 20 steps.`);
        continue;
      }
      const r = t.row;
      const mark = (ok: boolean): string => (ok ? 'met' : '**not met**');
      out.push(
        `- ${m}: \`tcpade/fast\` ${f(r.speedupWall, 2)}× (≥ 2.5×: ${mark(t.speedupOk)}), PSNR ${f(r.psnr, 2)} dB (≥ 25: ${mark(t.psnrOk)}), FID ${f(r.fid, 3)} vs full ${f(r.fidFull, 3)} = ${f(r.fid / r.fidFull, 3)}× (≤ 1.10×: ${mark(t.fidOk)}).`,
      );
      const beats = baselinesBeatingOurs(rows.filter((x) => x.model === m && x.steps === 20));
      out.push(beats.length ? `  - at speedup ≥ 1.5×, ${beats.length} baseline row(s) beat ours at 20 steps (see the table below).` : '  - at speedup ≥ 1.5×, no baseline row is at least as fast as `tcpade/fast` or `tcpade/slow` and better on FID or PSNR.');
    }
    out.push('');
    out.push('## Headline: 20 steps');
    out.push('');
    out.push('Full, fewer-steps at the cached rows\' median computed steps, each baseline at its best setting (lowest FID among its presets with speedup ≥ 1.5×, else its fastest), and every TC-Padé form.');
    out.push('');
    out.push('| model | ' + GROUP_HEADER.split('\n')[0].slice(2));
    out.push('|---|' + GROUP_HEADER.split('\n')[1].slice(1));
    for (const m of models) for (const r of headlineRows(rows.filter((x) => x.model === m && x.steps === 20))) out.push(`| ${m} ${groupLine(r)}`);
    out.push('');
  }

  for (const m of models) {
    for (const s of stepsList) {
      const group = rows.filter((r) => r.model === m && r.steps === s);
      if (!group.length) continue;
      const full = group.find((r) => r.method === 'none');
      out.push(`## ${m} @ ${s} steps (${group[0].sampler})`);
      out.push('');
      if (full) {
        const fullStepMs = median(full.timing.fullWallMs) / s;
        out.push(`Full run: FID ${f(full.fid, 3)} (real floor ${f(full.fidReal, 3)}), class accuracy ${pct(full.classAcc)}; blocks' share of a full step b = ${pct(full.blocksShare)}; full step ${f(fullStepMs, 1)} ms on the ${full.timing.samples}-sample timing batch.`);
        out.push('');
      }
      const pareto = links.pareto(m, s);
      if (pareto) out.push(`![speedup vs FID and PSNR, ${m} @ ${s} steps](${pareto})`, '');
      out.push(GROUP_HEADER);
      for (const r of group) out.push(groupLine(r));
      out.push('');
      const failedFid = [...new Set(group.filter((r) => !finite(r.fid) && r.fidError).map((r) => r.fidError!))];
      if (failedFid.length) out.push(`† FID could not be computed: ${failedFid.join('; ')}`, '');
      const beats = baselinesBeatingOurs(group);
      if (beats.length) {
        out.push('Baselines that beat ours at speedup ≥ 1.5× (at least as fast, better on the named metric; FID only by more than twice the rows\' combined bootstrap spread):');
        out.push('');
        for (const b of beats) {
          out.push(
            `- \`${b.baseline.label}\` (${f(b.baseline.speedupWall, 2)}×, FID ${f(b.baseline.fid, 3)}, PSNR ${f(b.baseline.psnr, 2)}) beats \`${b.ours.label}\` (${f(b.ours.speedupWall, 2)}×, FID ${f(b.ours.fid, 3)}, PSNR ${f(b.ours.psnr, 2)}) on ${b.metrics.join(' and ')}`,
          );
        }
        out.push('');
      }
      const grid = links.grid(m, s);
      if (grid) out.push(`Same seeds, one row per method (first row: full); column k is sample k, labelled with its class:`, '', `![samples per method, ${m} @ ${s} steps](${grid})`, '');
    }
  }

  out.push(...renderSpeedSections(data));

  if (data.study.length) {
    out.push('## Residual-prediction study (RQ1)');
    out.push('');
    out.push(
      'Full trajectories (every step computed) of the block-stack residual R = x_out − x_in and of the raw stack output x_out, per (sample, CFG branch). At each step s ≥ 3g the value is predicted from the true values at s−g, s−2g, s−3g; the table gives the median over trajectories and steps of ‖R̂ − R‖ / ‖R‖. Predictors: reuse (R(s−g)); taylor1/taylor2 (Newton divided differences in the actual tau, TaylorSeer O=1/2); pade (the paper\'s [2/1] formula alone); paper (tcpade/paper-* rule: early blend, Padé, late kick); reference (released-code rule, without its input-drift term); ours (tcpade/fast rule).',
    );
    out.push('');
    for (const m of [...new Set(data.study.map((r) => r.model))]) {
      for (const link of [links.predictionError(m), links.perStepError(m)]) if (link) out.push(`![prediction error, ${m}](${link})`, '');
      for (const rec of data.study.filter((r) => r.model === m).sort((a, b) => a.steps - b.steps)) {
        const maxGap = Math.max(...rec.cells.map((c) => c.gap));
        for (const target of ['residual', 'raw'] as const) {
          out.push(`### ${m} @ ${rec.steps} steps, ${target === 'residual' ? 'stack residual' : 'raw stack output'} (${rec.trajectories} trajectories)`);
          out.push('');
          out.push(studyTable(rec.cells, target, maxGap));
          out.push('');
          out.push(`Padé form vs best Taylor order, per gap: ${padeVsTaylor(rec, target)}.`);
          out.push('');
        }
      }
    }
  }
  return out.join('\n') + '\n';
}
