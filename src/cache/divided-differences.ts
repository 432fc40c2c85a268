// Incremental divided-difference tables over unevenly spaced trajectory coordinates, evaluated in
// Newton form (exact on polynomials up to the order) or TaylorSeer's Taylor form (Σ f_j k^j / j!).

import { CacheUsageError } from './contract.js';
import { kernels } from './simd/kernels.js';
import { linearCombinationCheckedInto, linearCombinationInto } from './vec.js';

/**
 * - `newton`: D[j] = f[x0, …, xj] (true divided differences, newest node x0); evaluates the polynomial
 *   through the newest order+1 nodes: exact for polynomials of degree ≤ order at any spacing.
 * - `taylor`: TaylorSeer's recurrence D[j] = (D[j−1](new) − D[j−1](old)) / (x_new − x_old), predicted
 *   as Σ D[j] k^j / j! with k = x − x0. Backward differences: exact only up to degree 1.
 */
export type TableForm = 'newton' | 'taylor';

export class DividedDifferences {
  /** diag[j] = D[j] anchored at the newest node; diag.length − 1 = current order. */
  private readonly diag: Float32Array[] = [];
  /** Node coordinates, newest first, at most maxOrder + 1. */
  private readonly nodes: number[] = [];

  constructor(
    readonly maxOrder: number,
    readonly form: TableForm,
  ) {
    if (!Number.isInteger(maxOrder) || maxOrder < 0) {
      throw new CacheUsageError(`DividedDifferences: order must be a non-negative integer, got ${maxOrder}`);
    }
  }

  /** Order usable now: min(maxOrder, points − 1); −1 when empty. */
  get order(): number {
    return this.diag.length - 1;
  }

  get newestCoord(): number {
    if (this.nodes.length === 0) throw new CacheUsageError('DividedDifferences: no point added yet');
    return this.nodes[0];
  }

  /**
   * Add the value at a new coordinate (must differ from every node held). Returns whether `value` was
   * finite; if not, every difference is poisoned and the table must be replaced.
   */
  update(coord: number, value: Float32Array): boolean {
    if (this.diag.length > 0 && this.diag[0].length !== value.length) {
      throw new CacheUsageError(`DividedDifferences: element count changed from ${this.diag[0].length} to ${value.length}`);
    }
    const newOrder = Math.min(this.diag.length, this.maxOrder);
    const dens = new Array<number>(newOrder + 1).fill(0);
    for (let j = 1; j <= newOrder; j++) {
      dens[j] = this.form === 'newton' ? coord - this.nodes[j - 1] : coord - this.nodes[0];
      if (dens[j] === 0) throw new CacheUsageError(`DividedDifferences: coordinate ${coord} repeats a stored node; taus must be distinct`);
    }
    if (newOrder === this.diag.length) this.diag.push(new Float32Array(value.length));
    // The new D[j] needs the new D[j−1] and the old D[j−1], which it then overwrites (SIMD kernel).
    const finite = kernels.dividedDifferenceUpdate(this.diag.slice(0, newOrder + 1), value, dens);
    this.nodes.unshift(coord);
    if (this.nodes.length > this.maxOrder + 1) this.nodes.length = this.maxOrder + 1;
    return finite;
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

  private evaluate(out: Float32Array, coord: number, order: number, base: Float32Array | undefined, check: boolean): boolean {
    if (this.diag.length === 0) throw new CacheUsageError('DividedDifferences: evaluate before any point was added');
    const m = Math.min(order, this.order);
    const d = this.diag;
    // Both forms are a linear combination of the stored differences: Newton's weights are
    // Π_{l<j} (x − x_l), Taylor's k^j / j!. One fused pass over the elements (linearCombinationInto).
    const weights = new Array<number>(m + 1);
    weights[0] = 1;
    const k = coord - this.nodes[0];
    for (let j = 1; j <= m; j++) weights[j] = this.form === 'newton' ? weights[j - 1] * (coord - this.nodes[j - 1]) : (weights[j - 1] * k) / j;
    const terms = d.slice(0, m + 1);
    if (check) return linearCombinationCheckedInto(out, terms, weights, base);
    linearCombinationInto(out, terms, weights, base);
    return true;
  }

  bytesHeld(): number {
    let bytes = 0;
    for (const a of this.diag) bytes += a.byteLength;
    return bytes;
  }
}
