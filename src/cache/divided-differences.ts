// Incremental divided-difference tables over unevenly spaced trajectory coordinates, evaluated in
// Newton form (exact on polynomials up to the order) or TaylorSeer's Taylor form (Σ f_j k^j / j!).
//
// Every difference D[j] is a linear combination of the newest j+1 stored values, so the table keeps
// the VALUES (one copy per update) and carries each D[j] as a small vector of scalar coefficients over
// them. A forecast folds those into one weight per value and makes one fused pass. Updating the vector
// tables instead (read value + O differences, write O+1 per update) cost 3–5× the traffic of this copy,
// and per-block forecasters update one table per block (docs/findings.md §9).

import { CacheUsageError } from './contract.js';
import { ValueHistory } from './history.js';
import { linearCombinationCheckedInto, linearCombinationInto } from './vec.js';

/**
 * - `newton`: D[j] = f[x0, …, xj] (true divided differences, newest node x0); evaluates the polynomial
 *   through the newest order+1 nodes: exact for polynomials of degree ≤ order at any spacing.
 * - `taylor`: TaylorSeer's recurrence D[j] = (D[j−1](new) − D[j−1](old)) / (x_new − x_old), predicted
 *   as Σ D[j] k^j / j! with k = x − x0. Backward differences: exact only up to degree 1.
 */
export type TableForm = 'newton' | 'taylor';

export class DividedDifferences {
  /** Stored values, newest first, at most maxOrder + 1 (their taus are the nodes). */
  private readonly values: ValueHistory;
  /** coefs[j][a] = weight of the value of age a (0 = newest) in D[j]; coefs.length − 1 = current order. */
  private coefs: number[][] = [];
  private updates = 0;

  constructor(
    readonly maxOrder: number,
    readonly form: TableForm,
  ) {
    if (!Number.isInteger(maxOrder) || maxOrder < 0) {
      throw new CacheUsageError(`DividedDifferences: order must be a non-negative integer, got ${maxOrder}`);
    }
    this.values = new ValueHistory(maxOrder + 1);
  }

  /** Order usable now: min(maxOrder, points − 1); −1 when empty. */
  get order(): number {
    return this.coefs.length - 1;
  }

  private node(age: number): number {
    return this.values.at(age).tau;
  }

  /**
   * Add the value at a new coordinate (must differ from every node held). Returns whether `value` was
   * finite; if not, every later forecast would be poisoned and the table must be replaced.
   */
  update(coord: number, value: Float32Array): boolean {
    if (this.values.length > 0 && this.values.at(0).data.length !== value.length) {
      throw new CacheUsageError(`DividedDifferences: element count changed from ${this.values.at(0).data.length} to ${value.length}`);
    }
    const newOrder = Math.min(this.coefs.length, this.maxOrder);
    const dens = new Array<number>(newOrder + 1).fill(0);
    for (let j = 1; j <= newOrder; j++) {
      dens[j] = this.form === 'newton' ? coord - this.node(j - 1) : coord - this.node(0);
      if (dens[j] === 0) throw new CacheUsageError(`DividedDifferences: coordinate ${coord} repeats a stored node; taus must be distinct`);
    }
    // The new D[j] = (new D[j−1] − old D[j−1]) / dens[j], with the old one's ages shifted by the new value.
    const width = newOrder + 1;
    const next: number[][] = [];
    for (let j = 0; j <= newOrder; j++) {
      const c = new Array<number>(width).fill(0);
      if (j === 0) c[0] = 1;
      else {
        const prevNew = next[j - 1];
        const prevOld = this.coefs[j - 1];
        for (let a = 0; a < width; a++) c[a] = (prevNew[a] - (a > 0 ? (prevOld[a - 1] ?? 0) : 0)) / dens[j];
      }
      next.push(c);
    }
    this.coefs = next;
    return this.values.pushCopyChecked(this.updates++, coord, value);
  }

  /**
   * Extrapolate/interpolate to `coord` using terms up to `order` (default: all held); with `base`, writes
   * base + p(coord) (one pass for x_in + predicted residual).
   */
  evaluateInto(out: Float32Array, coord: number, order: number = this.order, base?: Float32Array): Float32Array {
    this.evaluate(out, coord, order, base, false);
    return out;
  }

  /** evaluateInto, returning whether every element of `out` is finite (checked as it is made). */
  evaluateCheckedInto(out: Float32Array, coord: number, order: number = this.order, base?: Float32Array): boolean {
    return this.evaluate(out, coord, order, base, true);
  }

  /** The weight of each stored value (newest first) in p(coord) truncated to `order`. */
  private valueWeights(coord: number, order: number): number[] {
    if (this.coefs.length === 0) throw new CacheUsageError('DividedDifferences: evaluate before any point was added');
    const m = Math.min(order, this.order);
    // Newton's term weights are Π_{l<j} (x − x_l), Taylor's k^j / j!.
    const k = coord - this.node(0);
    const weights = new Array<number>(m + 1).fill(0);
    let term = 1;
    for (let j = 0; j <= m; j++) {
      if (j > 0) term = this.form === 'newton' ? term * (coord - this.node(j - 1)) : (term * k) / j;
      for (let a = 0; a <= j; a++) weights[a] += term * this.coefs[j][a]; // D[j] uses ages 0..j only
    }
    return weights;
  }

  private evaluate(out: Float32Array, coord: number, order: number, base: Float32Array | undefined, check: boolean): boolean {
    const weights = this.valueWeights(coord, order);
    const terms = weights.map((_, a) => this.values.at(a).data);
    if (check) return linearCombinationCheckedInto(out, terms, weights, base);
    linearCombinationInto(out, terms, weights, base);
    return true;
  }

  bytesHeld(): number {
    return this.values.bytesHeld();
  }
}
