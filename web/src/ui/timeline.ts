// The decision timeline: one row per sample and CFG branch, one cell per step — computed (filled) or
// predicted (pale) — and, where a signal decided (TSI for TC-Padé, relative L1 for TeaCache / FBCache), a
// bar of the signal against its threshold (the tick): above the tick the step computed. Steps decided by a
// schedule, warm-up or the final step carry no bar; every cell's tooltip says what decided it.
import type { TimelineCell, TimelineRow } from '../engine/protocol.js';
import { svg } from './dom.js';
import { formatSignal } from './format.js';

/** Reasons that force a compute whatever the signal says. */
const FORCED = new Set(['always', 'warmup', 'final', 'history', 'max-skips', 'nan-fallback']);

const SIGNAL_NAMES: Readonly<Record<string, string>> = {
  tsi: 'TSI',
  teacache: 'accumulated relative L1 of block 0’s modulated input',
  fbcache: 'relative L1 change of block 0’s residual',
  'error-estimate': 'error estimate',
};

export function describeCell(step: number, c: TimelineCell, depth: number): string {
  const what = c.compute ? 'computed' : c.blocksComputed ? `${c.blocksComputed} of ${depth} blocks computed, the rest predicted` : 'predicted';
  const signal = c.signal !== undefined && c.threshold !== undefined ? `: ${SIGNAL_NAMES[c.reason] ?? 'signal'} ${formatSignal(c.signal)} vs threshold ${formatSignal(c.threshold)}` : '';
  return `step ${step} — ${what} (${c.reason}${signal})`;
}

export function renderTimeline(container: HTMLElement, rows: readonly TimelineRow[], steps: number, depth: number, className: (label: number) => string): void {
  const labelW = 92;
  // cells fill the box's width (it scrolls sideways below 5 px a step)
  const avail = Math.max(240, container.clientWidth - 28 - labelW);
  const cw = Math.max(5, Math.min(40, Math.floor(avail / steps)));
  const ch = 16;
  const gap = cw >= 10 ? 2 : 1;
  const axisH = 18;
  const width = labelW + steps * cw;
  const height = axisH + rows.length * (ch + gap);
  const root = svg('svg', { class: 'timeline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'computed and predicted steps per sample and CFG branch' });
  const tickEvery = steps <= 25 ? 5 : steps <= 100 ? 10 : 50;
  for (let s = 0; s < steps; s += tickEvery) root.append(svg('text', { x: labelW + s * cw + 1, y: 12, class: 'axis' }, String(s)));
  rows.forEach((row, i) => {
    const y = axisH + i * (ch + gap);
    const g = svg('g', { class: `row ${row.branch}` });
    g.append(svg('text', { x: 0, y: y + ch - 4, class: 'row-label' }, row.branch === 'cond' ? `#${row.sample} · ${className(row.label)}` : 'uncond'));
    row.cells.forEach((c, s) => {
      if (!c) return;
      const x = labelW + s * cw;
      const kind = c.compute ? (FORCED.has(c.reason) ? 'forced' : 'computed') : 'predicted';
      const cell = svg('g', { class: `cell ${kind}` });
      cell.append(svg('title', {}, describeCell(s, c, depth)));
      cell.append(svg('rect', { x, y, width: cw - gap, height: ch, rx: 2 }));
      if (!c.compute && c.blocksComputed) {
        cell.append(svg('rect', { x, y: y + ch * (1 - c.blocksComputed / depth), width: cw - gap, height: (ch * c.blocksComputed) / depth, class: 'partial' }));
      }
      if (c.signal !== undefined && c.threshold !== undefined && c.threshold > 0 && Number.isFinite(c.signal)) {
        // the bar spans twice the threshold: the tick at mid-height is the threshold itself
        const r = Math.max(0, Math.min(2, c.signal / c.threshold)) / 2;
        const bw = Math.max(2, Math.floor((cw - gap) / 3));
        const bx = x + (cw - gap - bw) / 2;
        cell.append(svg('rect', { x: bx, y: y + ch - 1 - (ch - 2) * r, width: bw, height: Math.max(1, (ch - 2) * r), class: 'signal' }));
        cell.append(svg('line', { x1: x + 1, x2: x + cw - gap - 1, y1: y + ch / 2, y2: y + ch / 2, class: 'tick' }));
      }
      g.append(cell);
    });
    root.append(g);
  });
  container.replaceChildren(root);
}
