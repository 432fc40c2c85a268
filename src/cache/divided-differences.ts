// Incremental divided-difference tables over unevenly spaced trajectory coordinates, evaluated in
// Newton form (exact on polynomials up to the order) or TaylorSeer's Taylor form (Σ f_j k^j / j!).

import { CacheUsageError } from './contract.js';

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

  /** Add the value at a new coordinate (must differ from every node held). */
  update(coord: number, value: Float32Array): void {
    if (this.diag.length > 0 && this.diag[0].length !== value.length) {
      throw new CacheUsageError(`DividedDifferences: element count changed from ${this.diag[0].length} to ${value.length}`);
    }
    const newOrder = Math.min(this.diag.length, this.maxOrder);
    const dens = new Float64Array(newOrder + 1);
    for (let j = 1; j <= newOrder; j++) {
      dens[j] = this.form === 'newton' ? coord - this.nodes[j - 1] : coord - this.nodes[0];
      if (dens[j] === 0) throw new CacheUsageError(`DividedDifferences: coordinate ${coord} repeats a stored node; taus must be distinct`);
    }
    if (newOrder === this.diag.length) this.diag.push(new Float32Array(value.length));
    const d = this.diag;
    // Per element, walk up the diagonal: the new D[j] needs the new D[j−1] and the old D[j−1], which
    // it then overwrites; the chain stays in float64 and only storage rounds to float32.
    for (let i = 0; i < value.length; i++) {
      let cur = value[i];
      for (let j = 1; j <= newOrder; j++) {
        const old = d[j - 1][i];
        d[j - 1][i] = cur;
        cur = (cur - old) / dens[j];
      }
      d[newOrder][i] = cur;
    }
    this.nodes.unshift(coord);
    if (this.nodes.length > this.maxOrder + 1) this.nodes.length = this.maxOrder + 1;
  }

  /**
   * Extrapolate/interpolate to `coord` using terms up to `order` (default: all held); with `base`, writes
   * base + p(coord) (one pass for x_in + predicted residual).
   */
  evaluateInto(out: Float32Array, coord: number, order: number = this.order, base?: Float32Array): Float32Array {
    if (this.diag.length === 0) throw new CacheUsageError('DividedDifferences: evaluate before any point was added');
    const m = Math.min(order, this.order);
    const d = this.diag;
    if (this.form === 'newton' && m <= 2) {
      // The common orders, unrolled: this runs over every element on every skipped step.
      const o0 = coord - this.nodes[0];
      const o1 = m === 2 ? coord - this.nodes[1] : 0;
      const d0 = d[0];
      const d1 = m >= 1 ? d[1] : d0;
      const d2 = m === 2 ? d[2] : d0;
      const c1 = m >= 1 ? 1 : 0;
      const c2 = m === 2 ? 1 : 0;
      if (base) for (let i = 0; i < out.length; i++) out[i] = base[i] + d0[i] + o0 * c1 * (d1[i] + o1 * c2 * d2[i]);
      else for (let i = 0; i < out.length; i++) out[i] = d0[i] + o0 * c1 * (d1[i] + o1 * c2 * d2[i]);
      return out;
    }
    if (this.form === 'newton') {
      const offsets = new Float64Array(m);
      for (let j = 0; j < m; j++) offsets[j] = coord - this.nodes[j];
      for (let i = 0; i < out.length; i++) {
        let p = d[m][i];
        for (let j = m - 1; j >= 0; j--) p = d[j][i] + offsets[j] * p;
        out[i] = base ? base[i] + p : p;
      }
    } else {
      const k = coord - this.nodes[0];
      const factors = new Float64Array(m + 1);
      factors[0] = 1;
      for (let j = 1; j <= m; j++) factors[j] = (factors[j - 1] * k) / j;
      for (let i = 0; i < out.length; i++) {
        let p = 0;
        for (let j = 0; j <= m; j++) p += factors[j] * d[j][i];
        out[i] = base ? base[i] + p : p;
      }
    }
    return out;
  }

  bytesHeld(): number {
    let bytes = 0;
    for (const a of this.diag) bytes += a.byteLength;
    return bytes;
  }
}
