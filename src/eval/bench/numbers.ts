// Order statistics for benchmark summaries: median, quantiles (linear interpolation, as numpy's
// default), mean and a min/quartiles/max spread; NaN inputs are ignored, empty inputs give NaN.

function sortedFinite(xs: readonly number[]): number[] {
  return xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
}

/** q-quantile, q ∈ [0, 1], linear between order statistics (numpy 'linear'); ±Infinity sort to the ends. */
export function quantile(xs: readonly number[], q: number): number {
  const s = sortedFinite(xs);
  if (s.length === 0) return NaN;
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  if (lo === hi || s[lo] === s[hi]) return s[lo];
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function mean(xs: readonly number[]): number {
  const s = sortedFinite(xs);
  return s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly q1: number;
  readonly q3: number;
  readonly max: number;
}

export function spreadOf(xs: readonly number[]): Spread {
  return { median: median(xs), min: quantile(xs, 0), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), max: quantile(xs, 1) };
}
