// Drive one SampleCache of a stack-level method by hand: a chosen input per step and a chosen true
// residual per step, so tests know exactly what history the method saw and what it should predict.

import { CachePredictionError, createRequestCache, type CacheMethod, type CacheSignals, type Decision, type StepInfo } from '../../src/cache/index.js';

export interface DriveStep {
  readonly decision: Decision;
  readonly input: Float32Array;
  readonly output: Float32Array;
}

export interface DriveOptions {
  readonly taus: readonly number[];
  /** True residual of the stack at step s (what a compute returns on top of the input). */
  readonly residual: (s: number, tau: number) => Float32Array;
  readonly input?: (s: number, tau: number) => Float32Array;
  readonly signals?: (s: number, tau: number) => CacheSignals;
  /** Override the output of computed steps (e.g. inject NaN). */
  readonly computedOutput?: (s: number, input: Float32Array, output: Float32Array) => Float32Array;
}

export function drive(method: CacheMethod, opts: DriveOptions): DriveStep[] {
  const totalSteps = opts.taus.length;
  const cache = createRequestCache(method, { totalSteps, taus: opts.taus, sections: 1 }, ['cond'], 1).get('cond', 0);
  const steps: DriveStep[] = [];
  for (let s = 0; s < totalSteps; s++) {
    const tau = opts.taus[s];
    const step: StepInfo = { stepIndex: s, totalSteps, tau };
    const r = opts.residual(s, tau);
    const input = opts.input?.(s, tau) ?? new Float32Array(r.length);
    let decision = cache.decide(step, opts.signals?.(s, tau) ?? {});
    let output: Float32Array | undefined;
    if (!decision.compute) {
      try {
        output = cache.predict(step, 0, input);
      } catch (e) {
        // as the pipeline does: a non-finite prediction is computed instead
        if (!(e instanceof CachePredictionError)) throw e;
        decision = { ...decision, compute: true, reason: 'nan-fallback' };
      }
    }
    if (decision.compute) {
      output = Float32Array.from(input, (v, i) => v + r[i]);
      if (opts.computedOutput) output = opts.computedOutput(s, input, output);
    }
    if (output === undefined) throw new Error('internal: no output');
    cache.observe(step, 0, input, output, decision.compute);
    steps.push({ decision, input, output });
  }
  return steps;
}

export function computedSet(steps: readonly DriveStep[]): number[] {
  return steps.flatMap((st, s) => (st.decision.compute ? [s] : []));
}

export function evenTaus(totalSteps: number): number[] {
  return Array.from({ length: totalSteps }, (_, s) => 1 - s / totalSteps);
}
