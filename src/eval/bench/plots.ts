// The bench's figures as vega-lite specs rendered headless to SVG (GitHub shows SVG inline): Pareto
// plots of speedup vs FID / PSNR per (model, steps), and the prediction-study error curves.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { finite, isOurs, paretoFront } from './compare.js';
import type { BenchRow } from './rows.js';
import type { StudyRecord } from './study-run.js';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

interface ParetoPoint {
  method: string;
  preset: string;
  label: string;
  speedup: number;
  lo: number;
  hi: number;
  fid: number;
  psnr: number;
  ours: boolean;
}

function paretoPoints(group: readonly BenchRow[]): ParetoPoint[] {
  return group
    .filter((r) => finite(r.speedupWall))
    .map((r) => ({
      method: r.method,
      preset: r.preset,
      label: r.method === 'fewer-steps' ? `${r.stepsRun} steps` : r.preset,
      speedup: r.speedupWall,
      lo: finite(r.timing.speedup.min) ? r.timing.speedup.min : r.speedupWall,
      hi: finite(r.timing.speedup.max) ? r.timing.speedup.max : r.speedupWall,
      fid: r.fid,
      psnr: r.psnr,
      ours: isOurs(r),
    }));
}

const WIDTH = 420;
const HEIGHT = 320;

function paretoPanel(points: ParetoPoint[], y: 'fid' | 'psnr', title: string, refs: { value: number; what: string }[]): Record<string, unknown> {
  const usable = points.filter((p) => finite(p[y]) && (y === 'fid' || p.method !== 'none'));
  const front = paretoFront(usable, (p) => p.speedup, (p) => p[y], y === 'fid');
  const yField = { field: y, type: 'quantitative', title: y === 'fid' ? 'FID (lower is better)' : 'PSNR vs full, dB (higher is better)', scale: { zero: false } };
  const xField = { field: 'speedup', type: 'quantitative', title: 'wall-clock speedup vs full (median; bar = min–max)', scale: { zero: false } };
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    layer: [
      ...refs.filter((r) => finite(r.value)).map((r) => ({
        data: { values: [r] },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
        encoding: { y: { field: 'value', type: 'quantitative', scale: yField.scale } },
      })),
      ...refs.filter((r) => finite(r.value)).map((r) => ({
        data: { values: [r] },
        mark: { type: 'text', align: 'left', dx: 2, dy: -6, color: '#666', fontSize: 9 },
        encoding: { y: { field: 'value', type: 'quantitative', scale: yField.scale }, x: { value: 2 }, text: { field: 'what' } },
      })),
      {
        data: { values: front },
        mark: { type: 'line', color: '#bbb', strokeWidth: 1.5, interpolate: 'step-after' },
        encoding: { x: xField, y: yField },
      },
      {
        data: { values: usable },
        mark: { type: 'rule' },
        encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, y: yField, color: { field: 'method', type: 'nominal', title: 'method' } },
      },
      {
        data: { values: usable },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: xField,
          y: yField,
          color: { field: 'method', type: 'nominal', title: 'method' },
          shape: { field: 'ours', type: 'nominal', title: 'tcpade fast/slow', scale: { domain: [false, true], range: ['circle', 'diamond'] } },
        },
      },
      {
        data: { values: usable },
        mark: { type: 'text', align: 'left', dx: 5, dy: 3, fontSize: 8 },
        encoding: { x: xField, y: yField, text: { field: 'label' }, color: { field: 'method', type: 'nominal', title: 'method' } },
      },
    ],
  };
}

/** One SVG per (model, steps): speedup vs FID (with fidFull and fidReal lines) and vs PSNR. */
export function paretoSpec(group: readonly BenchRow[], title: string): TopLevelSpec {
  const points = paretoPoints(group);
  const first = group[0];
  // Only the full run's FID is drawn: the real-data floor usually sits far below and would flatten the points.
  const refs = first ? [{ value: first.fidFull, what: 'FID full' }] : [];
  const floor = first && finite(first.fidReal) ? `; FID of N real images (floor) = ${first.fidReal.toFixed(2)}` : '';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 14 },
    background: 'white',
    hconcat: [paretoPanel(points, 'fid', `speedup vs FID${floor}`, refs), paretoPanel(points, 'psnr', 'speedup vs PSNR (full run excluded)', [])],
    resolve: { scale: { color: 'shared', shape: 'shared' } },
    // The panels are built as plain objects (vega-lite's layer types are too deep to spell out here);
    // vega-lite validates the spec when it compiles.
  } as unknown as TopLevelSpec;
}

/** Median relative L2 error vs gap, one line per predictor; rows = step counts, columns = residual / raw. */
export function predictionErrorSpec(records: readonly StudyRecord[], model: string): TopLevelSpec {
  const values = records
    .filter((r) => r.model === model)
    .flatMap((r) => r.cells.filter((c) => finite(c.median) && c.median > 0).map((c) => ({ steps: `${r.steps} steps`, target: c.target === 'residual' ? 'stack residual' : 'raw stack output', predictor: c.predictor, gap: c.gap, error: c.median })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${model}: extrapolating step s from s−g, s−2g, s−3g (median relative L2 error)`, fontSize: 14 },
    background: 'white',
    data: { values },
    facet: { row: { field: 'steps', type: 'nominal', title: null }, column: { field: 'target', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'gap', type: 'quantitative', title: 'gap g (steps)', axis: { tickMinStep: 1 } },
        y: { field: 'error', type: 'quantitative', title: '‖R̂ − R‖ / ‖R‖', scale: { type: 'log' } },
        color: { field: 'predictor', type: 'nominal', sort: null },
      },
    },
  } as TopLevelSpec;
}

/** Median error of the residual at each step, one panel per gap; rows = step counts. */
export function perStepErrorSpec(records: readonly StudyRecord[], model: string): TopLevelSpec {
  const values = records
    .filter((r) => r.model === model)
    .flatMap((r) =>
      r.perStep
        .filter((p) => p.target === 'residual')
        .flatMap((p) => p.medianByStep.flatMap((e, s) => (e !== null && finite(e) && e > 0 ? [{ steps: `${r.steps} steps`, gap: `g = ${p.gap}`, predictor: p.predictor, step: s, error: e }] : []))),
    );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${model}: stack-residual prediction error per step (median over trajectories)`, fontSize: 14 },
    background: 'white',
    data: { values },
    facet: { row: { field: 'steps', type: 'nominal', title: null }, column: { field: 'gap', type: 'nominal', title: null } },
    spec: {
      width: 160,
      height: 140,
      mark: { type: 'line', point: { size: 12 } },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step s' },
        y: { field: 'error', type: 'quantitative', title: 'rel. L2 error', scale: { type: 'log' } },
        color: { field: 'predictor', type: 'nominal', sort: null },
      },
    },
  } as TopLevelSpec;
}
