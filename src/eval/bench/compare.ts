// Judgements the report makes from rows, kept apart from formatting so they can be tested: which
// baseline beats `tcpade/fast|slow` at speedup ≥ 1.5×, each method's best setting, the Pareto front.
import type { BenchRow } from './rows.js';

export const OURS_PRESETS: readonly string[] = ['fast', 'slow', 'lite-fast', 'lite-slow'];

export function isOurs(r: Pick<BenchRow, 'method' | 'preset'>): boolean {
  return r.method === 'tcpade' && OURS_PRESETS.includes(r.preset);
}

/** null (JSON for a non-finite number) counts as "no value". */
export function finite(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

export interface Beat {
  readonly baseline: BenchRow;
  readonly ours: BenchRow;
  /** Where the baseline is better: lower FID, higher PSNR. */
  readonly metrics: readonly ('FID' | 'PSNR')[];
}

/**
 * Whether FID a is lower than FID b beyond sampling noise: by more than twice their combined bootstrap
 * spread when both rows have one (rows from older files without it: any difference counts).
 */
export function fidClearlyLower(a: Pick<BenchRow, 'fid' | 'fidStd'>, b: Pick<BenchRow, 'fid' | 'fidStd'>): boolean {
  if (!finite(a.fid) || !finite(b.fid)) return false;
  const noise = finite(a.fidStd) && finite(b.fidStd) ? 2 * Math.hypot(a.fidStd, b.fidStd) : 0;
  return a.fid < b.fid - noise;
}

/**
 * Rows of one (model, steps) group in which a baseline (any row but `none` and ours) reaches a speedup
 * ≥ minSpeedup, is at least as fast as an `ours` row, and is better on PSNR or clearly better on FID
 * (fidClearlyLower: at N = 64, FID differences of a few points are the draw of samples, not the method).
 */
export function baselinesBeatingOurs(group: readonly BenchRow[], minSpeedup = 1.5): Beat[] {
  const ours = group.filter(isOurs);
  const out: Beat[] = [];
  for (const b of group) {
    if (b.method === 'none' || isOurs(b) || !finite(b.speedupWall) || b.speedupWall < minSpeedup) continue;
    for (const o of ours) {
      if (!finite(o.speedupWall) || b.speedupWall < o.speedupWall) continue;
      const metrics: ('FID' | 'PSNR')[] = [];
      if (fidClearlyLower(b, o)) metrics.push('FID');
      if (finite(b.psnr) && finite(o.psnr) && b.psnr > o.psnr) metrics.push('PSNR');
      if (metrics.length) out.push({ baseline: b, ours: o, metrics });
    }
  }
  return out;
}

/**
 * A method's best setting in a group: lowest FID among its presets with speedup ≥ minSpeedup; if none
 * reaches it, its fastest preset.
 */
export function bestSetting(rows: readonly BenchRow[], minSpeedup = 1.5): BenchRow | undefined {
  const fastEnough = rows.filter((r) => finite(r.speedupWall) && r.speedupWall >= minSpeedup && finite(r.fid));
  if (fastEnough.length) return fastEnough.reduce((a, b) => (b.fid < a.fid ? b : a));
  return rows.filter((r) => finite(r.speedupWall)).reduce<BenchRow | undefined>((a, b) => (a === undefined || b.speedupWall > a.speedupWall ? b : a), undefined);
}

/**
 * Points not dominated by another (another is at least as fast and at least as good, better in one),
 * sorted by speed; `lowerIsBetter` says whether a smaller quality value is better (FID) or a larger one (PSNR).
 */
export function paretoFront<T>(points: readonly T[], speed: (p: T) => number, quality: (p: T) => number, lowerIsBetter: boolean): T[] {
  const q = (p: T): number => (lowerIsBetter ? quality(p) : -quality(p));
  const ok = points.filter((p) => Number.isFinite(speed(p)) && Number.isFinite(q(p)));
  const front = ok.filter((p) => !ok.some((o) => o !== p && speed(o) >= speed(p) && q(o) <= q(p) && (speed(o) > speed(p) || q(o) < q(p))));
  return front.sort((a, b) => speed(a) - speed(b));
}

export interface TargetCheck {
  readonly model: string;
  readonly row: BenchRow | undefined;
  readonly speedupOk: boolean;
  readonly psnrOk: boolean;
  readonly fidOk: boolean;
}

/** Issue 6's first target at 20 steps: `tcpade/fast` ≥ 2.5× wall speedup, PSNR ≥ 25 dB, FID ≤ 1.10 × fidFull. */
export function checkSpeedTarget(rows: readonly BenchRow[], model: string): TargetCheck {
  const row = rows.find((r) => r.model === model && r.steps === 20 && r.method === 'tcpade' && r.preset === 'fast');
  return {
    model,
    row,
    speedupOk: row !== undefined && finite(row.speedupWall) && row.speedupWall >= 2.5,
    psnrOk: row !== undefined && finite(row.psnr) && row.psnr >= 25,
    fidOk: row !== undefined && finite(row.fid) && finite(row.fidFull) && row.fid <= 1.1 * row.fidFull,
  };
}
