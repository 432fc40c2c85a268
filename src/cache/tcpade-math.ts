// TC-Padé's formulas (method.md §3) and the project's alternative extrapolators, as pure functions over
// residuals R1 (newest), R2, R3 of one sample. Scalars accumulate in float64.

import { polyfit, polyval } from './polyfit.js';
import { kernels, type Kernels } from './simd/kernels.js';
import { diffAndSumNorms, linearCombinationInto } from './vec.js';

/** σ = exp(−λ·‖R1 − R2‖ / ‖R1 + R2‖): 1 when the residual is steady; 0 when R1 = −R2 ≠ 0. */
export function stabilityFactor(r1: Float32Array, r2: Float32Array, lambda: number): number {
  const { diff, sum } = diffAndSumNorms(r1, r2);
  return stabilityFromNorms(diff, sum, lambda);
}

/** σ from the two norms ‖R1 − R2‖ and ‖R1 + R2‖ (shared with the TSI pass, see trajectoryNorms). */
export function stabilityFromNorms(diff: number, sum: number, lambda: number): number {
  if (Number.isNaN(diff) || Number.isNaN(sum)) return NaN;
  if (diff === 0) return 1;
  if (sum === 0) return 0;
  return Math.exp((-lambda * diff) / sum);
}

/**
 * ‖R1 − R2‖², ‖R2 − R3‖², ⟨R1 − R2, R2 − R3⟩ and ‖R1 + R2‖², float64, from ONE pass over the three
 * residuals (kernels.trajectorySums): the TSI and σ both follow from them.
 */
export interface TrajectoryNorms {
  newMove2: number;
  oldMove2: number;
  /** ⟨R1 − R2, R2 − R3⟩ */
  moveDot: number;
  sum2: number;
}

export function trajectoryNorms(r1: Float32Array, r2: Float32Array, r3: Float32Array): TrajectoryNorms {
  const [newMove2, oldMove2, moveDot, sum2] = kernels.trajectorySums(r1, r2, r3);
  return { newMove2, oldMove2, moveDot, sum2 };
}

/**
 * TSI = ½‖unit(R1 − R2) − unit(R2 − R3)‖ ∈ [0, 1]: 0 = moving in a straight line, √2/2 = right-angle
 * turn, 1 = reversal. A zero move has no direction and counts as stable (0). NaN if any input is NaN.
 * ‖u1 − u2‖² = 2 − 2·cos from the one-pass sums; where that cancels (nearly straight, ‖u1 − u2‖² < 1e-6,
 * TSI < 5e-4) a second pass sums the difference of the unit moves directly, so a straight line gives 0.
 */
export function trajectoryStabilityIndicator(r1: Float32Array, r2: Float32Array, r3: Float32Array, norms: TrajectoryNorms = trajectoryNorms(r1, r2, r3)): number {
  const nNew = norms.newMove2;
  const nOld = norms.oldMove2;
  if (Number.isNaN(nNew) || Number.isNaN(nOld) || !Number.isFinite(nNew) || !Number.isFinite(nOld)) return NaN;
  if (nNew === 0 || nOld === 0) return 0;
  const invNew = 1 / Math.sqrt(nNew);
  const invOld = 1 / Math.sqrt(nOld);
  let turn2 = 2 - 2 * norms.moveDot * invNew * invOld;
  if (Number.isNaN(turn2)) return NaN;
  if (turn2 < 1e-6) [turn2] = kernels.sumSquaresOfMoves(r1, r2, r3, [[invNew, -invOld]]);
  return Math.min(1, 0.5 * Math.sqrt(Math.max(0, turn2)));
}

/** |den| ≥ ε keeping its sign (0 → +ε); NaN stays NaN so the caller's finiteness check sees it. */
export function guardDenominator(den: number, epsilon: number): number {
  if (Number.isNaN(den)) return NaN;
  if (Math.abs(den) >= epsilon) return den;
  return den < 0 ? -epsilon : epsilon;
}

/**
 * Paper Padé [2/1]: R̂ = (b0·R1 + b1·R2) / guard(1 + a1·R1), b0 = 2σ, b1 = −σ, a1 = σ/λ, element-wise.
 * `ratio` r generalises the numerator to σ·((1 + r)·R1 − r·R2) for spacing-aware use; r = 1 is the paper.
 * Options fuse the late-stage increment + β·(R1 − R2) and x_in (`base`) into the same pass; the wasm
 * kernel computes in float32 (`using` picks the implementation, default: the SIMD kernels).
 */
export function padePaperInto(
  out: Float32Array,
  r1: Float32Array,
  r2: Float32Array,
  sigma: number,
  lambda: number,
  epsilon: number,
  ratio = 1,
  opts: { base?: Float32Array; beta?: number; using?: Kernels } = {},
): Float32Array {
  const { base, beta = 0, using = kernels } = opts;
  const b0 = sigma * (1 + ratio);
  const b1 = -sigma * ratio;
  const a1 = sigma / lambda;
  if (using.padePaperInto) return using.padePaperInto(out, r1, r2, { b0, b1, a1, epsilon, beta }, base);
  for (let i = 0; i < out.length; i++) {
    const p = (b0 * r1[i] + b1 * r2[i]) / guardDenominator(1 + a1 * r1[i], epsilon) + beta * (r1[i] - r2[i]);
    out[i] = base ? base[i] + p : p;
  }
  return out;
}

/** Early stage: R̂ = α1·R1 + (1 − α1)·R2 (plus `base` element-wise when given: x_in + R̂ in one pass). */
export function earlyBlendInto(out: Float32Array, r1: Float32Array, r2: Float32Array, alpha1: number, base?: Float32Array): Float32Array {
  return linearCombinationInto(out, [r1, r2], [alpha1, 1 - alpha1], base);
}

/** Late stage: out += β·(R1 − R2). */
export function addIncrementInto(out: Float32Array, r1: Float32Array, r2: Float32Array, beta: number): Float32Array {
  if (beta === 0) return out;
  for (let i = 0; i < out.length; i++) out[i] += beta * (r1[i] - r2[i]);
  return out;
}

/**
 * Damped linear extrapolation: R̂ = R1 + damping·ratio·(R1 − R2), ratio = (x − x1)/(x1 − x2)
 * (plus `base` element-wise when given: x_in + R̂ in one pass).
 */
export function linearExtrapolateInto(
  out: Float32Array,
  r1: Float32Array,
  r2: Float32Array,
  ratio: number,
  damping: number,
  base?: Float32Array,
): Float32Array {
  const f = damping * ratio;
  return linearCombinationInto(out, [r1, r2], [1 + f, -f], base);
}

/**
 * Element-wise [1/1] rational interpolation through (x1, R1), (x2, R2), (x3, R3) (Thiele's inverse
 * differences), evaluated at x: exact on f = (a + b·x)/(1 + c·x). Where an element's fit is degenerate
 * or its pole lies between x1 and x, that element falls back to linear extrapolation through x1, x2.
 * The result is then damped towards R1: R̂ = R1 + damping·(r(x) − R1). Returns the fallback count.
 */
export function rationalExtrapolateInto(
  out: Float32Array,
  points: readonly { readonly coord: number; readonly data: Float32Array }[],
  x: number,
  damping: number,
): number {
  const [p1, p2, p3] = points;
  const x1 = p1.coord;
  const x2 = p2.coord;
  const x3 = p3.coord;
  const slopeScale = (x - x1) / (x1 - x2);
  let fallbacks = 0;
  for (let i = 0; i < out.length; i++) {
    const f1 = p1.data[i];
    const f2 = p2.data[i];
    const f3 = p3.data[i];
    const phi12 = (x2 - x1) / (f2 - f1);
    const phi13 = (x3 - x1) / (f3 - f1);
    const phi123 = (x3 - x2) / (phi13 - phi12);
    const denAt = (t: number): number => phi12 + (t - x2) / phi123;
    const dTarget = denAt(x);
    const dNewest = denAt(x1);
    let r = f1 + (x - x1) / dTarget;
    if (!Number.isFinite(r) || !Number.isFinite(dTarget) || !Number.isFinite(dNewest) || dTarget * dNewest <= 0) {
      r = f1 + slopeScale * (f1 - f2);
      fallbacks++;
    }
    out[i] = f1 + damping * (r - f1);
  }
  return fallbacks;
}

/**
 * Weights w_k with Σ w_k·v_k = value at `x` of the least-squares polynomial of `degree` through
 * (coords[k], v_k): one linear combination serves every element. Coordinates are centred on coords[0].
 */
export function leastSquaresWeights(coords: readonly number[], x: number, degree: number): number[] {
  // Pure in its arguments, and every sample of a request asks with the same coordinates on a step:
  // remember recent answers (a bounded memo, not request state — the result depends on nothing else).
  const key = `${degree}|${x}|${coords.join(',')}`;
  const hit = weightMemo.get(key);
  if (hit) return hit;
  const w = Object.freeze(computeLeastSquaresWeights(coords, x, degree)) as number[];
  if (weightMemo.size >= 512) weightMemo.delete(weightMemo.keys().next().value!);
  weightMemo.set(key, w);
  return w;
}

const weightMemo = new Map<string, number[]>();

function computeLeastSquaresWeights(coords: readonly number[], x: number, degree: number): number[] {
  const c0 = coords[0];
  const centred = coords.map((c) => c - c0);
  return coords.map((_, k) => {
    const unit = coords.map((__, j) => (j === k ? 1 : 0));
    return polyval(polyfit(centred, unit, degree), x - c0);
  });
}
