// Which training timesteps a sampler with N steps visits: diffusers' `timestep_spacing` options,
// reproduced value for value (numpy rounding is round-half-to-even).
import { DiffusionConfigError } from './errors.js';
import { numpyLinspace } from './schedule.js';

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/**
 * 'ddim': DDIMScheduler.set_timesteps (N points, the last may be t = 0).
 * 'dpmsolver': DPMSolverMultistepScheduler.set_timesteps ('leading'/'linspace' lay out N + 1 points and drop
 * the final 0, because that solver then steps to its own final sigma).
 */
export type SpacingConvention = 'ddim' | 'dpmsolver';

export interface SpacingOptions {
  /** added to 'leading' timesteps (diffusers `steps_offset`; SD 1.x uses 1). Default 0. */
  stepsOffset?: number;
  convention?: SpacingConvention; // default 'ddim'
}

/** numpy.round: halves go to the even neighbour (166.5 → 166, 499.5 → 500). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds halves up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Model timesteps, descending, length `steps`. With T = trainSteps, N = steps, the diffusers formulas are:
 *   ddim leading:      (arange(0, N) * (T // N)).round()[::-1] + steps_offset
 *   ddim linspace:     linspace(0, T − 1, N).round()[::-1]
 *   dpm leading:       (arange(0, N + 1) * ((T) // (N + 1))).round()[::-1][:-1] + steps_offset
 *   dpm linspace:      linspace(0, T − 1, N + 1).round()[::-1][:-1]
 *   trailing (both):   round(arange(T, 0, −T / N)) − 1
 * DiT's respacing: `space_timesteps(T, "ddimN")` equals ddim 'leading' when T % N == 0; the plain
 * `space_timesteps(T, [N])` (DiT's sample.py `str(N)`) is ditSpaceTimesteps: ddim 'linspace' but for exact
 * .5 ties, which its accumulated stride rounds by float error (N = 21: 499 there, 500 here; 278 N in 1 … 1000 differ).
 * Trailing evaluates numpy's arange values (T + k·δ, δ = (T − T/N) − T, so ties round as numpy's do) but
 * always returns N of them: numpy's float arange yields N + 1 for some N (61, 103, …), which diffusers mishandles.
 */
export function spaceTimesteps(trainSteps: number, steps: number, spacing: TimestepSpacing, opts: SpacingOptions = {}): number[] {
  const { stepsOffset = 0, convention = 'ddim' } = opts;
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new DiffusionConfigError(`spaceTimesteps: steps must be an integer in [1, ${trainSteps}], got ${steps}`);
  }
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) {
    throw new DiffusionConfigError(`spaceTimesteps: stepsOffset must be a non-negative integer, got ${stepsOffset}`);
  }
  const points = convention === 'dpmsolver' ? steps + 1 : steps; // dpmsolver drops the trailing 0
  let descending: number[];
  if (spacing === 'leading') {
    const ratio = Math.floor(trainSteps / points);
    descending = Array.from({ length: points }, (_, k) => k * ratio + stepsOffset).reverse().slice(0, steps);
  } else if (spacing === 'linspace') {
    descending = Array.from(numpyLinspace(0, trainSteps - 1, points), roundHalfEven).reverse().slice(0, steps);
  } else if (spacing === 'trailing') {
    const delta = trainSteps - trainSteps / steps - trainSteps; // numpy arange's fill: start + k·((start + step) − start)
    descending = Array.from({ length: steps }, (_, k) => roundHalfEven(trainSteps + k * delta) - 1);
  } else {
    throw new DiffusionConfigError(`spaceTimesteps: unknown spacing "${String(spacing)}" (use leading, trailing or linspace)`);
  }
  checkTimesteps(descending, trainSteps, spacing);
  return descending;
}

function checkTimesteps(ts: readonly number[], trainSteps: number, spacing: string): void {
  ts.forEach((t, i) => {
    if (t < 0 || t >= trainSteps) {
      throw new DiffusionConfigError(`spaceTimesteps(${spacing}): timestep ${t} outside [0, ${trainSteps - 1}]; lower stepsOffset`);
    }
    if (i > 0 && t >= ts[i - 1]!) {
      throw new DiffusionConfigError(`spaceTimesteps(${spacing}): ${ts.length} steps repeat timestep ${t}; use fewer steps or another spacing`);
    }
  });
}

/**
 * DiT's (improved-diffusion's) `space_timesteps(T, [N])`, descending: one section whose k-th timestep is
 * Python's round (half to even) of the stride (T − 1)/(N − 1) accumulated k times in float64. Accumulating
 * moves exact .5 ties off .5, so a few N differ from 'linspace' (see spaceTimesteps); this reproduces DiT's.
 */
export function ditSpaceTimesteps(trainSteps: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new DiffusionConfigError(`ditSpaceTimesteps: steps must be an integer in [1, ${trainSteps}], got ${steps}`);
  }
  const stride = steps === 1 ? 1 : (trainSteps - 1) / (steps - 1);
  const ascending: number[] = [];
  let position = 0;
  for (let k = 0; k < steps; k++) {
    ascending.push(roundHalfEven(position));
    position += stride;
  }
  return ascending.reverse();
}
