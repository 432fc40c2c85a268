// Writes every report file of a bench run from its result data: <run>.md, and under <run>/ the Pareto
// SVGs per (model, steps), the prediction-error SVGs per model, and the per-method image grids.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../../io/atomic.js';
import { safeName, stripPath, writeMethodGrid } from './grids.js';
import { paretoSpec, perStepErrorSpec, predictionErrorSpec, renderSvg } from './plots.js';
import { renderMarkdown, type FigureLinks } from './report-md.js';
import type { BenchFile } from './rows.js';

/** Returns the files written. Figures go to <outDir>/<run>/ and are linked relative to <outDir>/<run>.md. */
export async function writeReports(data: BenchFile, outDir: string, runName: string): Promise<string[]> {
  const figDir = path.join(outDir, runName);
  // Figures exist for quality rows and the study only (a speed-only run has none: no empty folder).
  if (data.rows.length > 0 || data.study.length > 0) fs.mkdirSync(figDir, { recursive: true });
  const written: string[] = [];
  const rel = (file: string): string => path.relative(outDir, file).split(path.sep).join('/');
  const pareto = new Map<string, string>();
  const grids = new Map<string, string>();
  const predErr = new Map<string, string>();
  const perStep = new Map<string, string>();
  const groupKey = (m: string, s: number): string => `${m}|${s}`;

  const groups = [...new Set(data.rows.map((r) => groupKey(r.model, r.steps)))];
  for (const g of groups) {
    const [model, stepsText] = g.split('|');
    const steps = Number(stepsText);
    const group = data.rows.filter((r) => r.model === model && r.steps === steps);
    const svgFile = path.join(figDir, `pareto-${safeName(model)}-${steps}steps.svg`);
    writeFileAtomicSync(svgFile, await renderSvg(paretoSpec(group, `${model} @ ${steps} steps (${group[0].sampler}), N = ${group[0].n}`)));
    pareto.set(g, rel(svgFile));
    written.push(svgFile);

    const gridFile = path.join(figDir, `grid-${safeName(model)}-${steps}steps.png`);
    const drawn = writeMethodGrid(
      gridFile,
      group.map((r) => ({ label: r.method === 'fewer-steps' ? `fewer-steps ${r.stepsRun}` : r.method === 'none' ? 'full' : `${r.method}/${r.preset}`, strip: stripPath(figDir, r.key) })),
      // Column k is sample k, whose class is k mod 10 (the bench's labels).
      (k) => String(k % 10),
    );
    if (drawn > 0) written.push(gridFile);
    // Without strips (e.g. a checkout that does not keep them) an earlier grid is still linked.
    if (drawn > 0 || fs.existsSync(gridFile)) grids.set(g, rel(gridFile));
  }
  for (const model of [...new Set(data.study.map((r) => r.model))]) {
    const a = path.join(figDir, `prediction-error-${safeName(model)}.svg`);
    writeFileAtomicSync(a, await renderSvg(predictionErrorSpec(data.study, model)));
    predErr.set(model, rel(a));
    const b = path.join(figDir, `prediction-error-per-step-${safeName(model)}.svg`);
    writeFileAtomicSync(b, await renderSvg(perStepErrorSpec(data.study, model)));
    perStep.set(model, rel(b));
    written.push(a, b);
  }
  const links: FigureLinks = {
    pareto: (m, s) => pareto.get(groupKey(m, s)),
    grid: (m, s) => grids.get(groupKey(m, s)),
    predictionError: (m) => predErr.get(m),
    perStepError: (m) => perStep.get(m),
  };
  const md = path.join(outDir, `${runName}.md`);
  writeFileAtomicSync(md, renderMarkdown(data, links));
  written.push(md);
  return written;
}
