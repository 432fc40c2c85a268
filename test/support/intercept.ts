// A pass-through wrapper around a real cache method for pipeline tests: each sample cache forwards to the
// method's own, and the hooks may replace a decision or a prediction (to force a compute, inject a NaN,
// count calls) without re-implementing the SampleCache protocol in every test.
import type { CacheMethod, Decision, SampleCacheContext, StepInfo } from '../../src/cache/contract.js';

export interface CacheHooks {
  /** Return a decision to use instead of the method's (which is still made, so its state advances). */
  decide?(ctx: SampleCacheContext, step: StepInfo, made: Decision): Decision;
  /** Called with the method's prediction; may alter it, throw, or count. */
  predict?(ctx: SampleCacheContext, step: StepInfo, section: number, made: Float32Array): Float32Array;
}

export function interceptCache(inner: CacheMethod, hooks: CacheHooks, overrides: Partial<Pick<CacheMethod, 'historyOnlyForecast'>> = {}): CacheMethod {
  return {
    ...inner,
    ...overrides,
    createSampleCache(ctx) {
      const c = inner.createSampleCache(ctx);
      return {
        decide: (step, signals) => {
          const made = c.decide(step, signals);
          return hooks.decide ? hooks.decide(ctx, step, made) : made;
        },
        predict: (step, section, input, out) => {
          const made = c.predict(step, section, input, out);
          return hooks.predict ? hooks.predict(ctx, step, section, made) : made;
        },
        observe: (step, section, input, output, computed) => c.observe(step, section, input, output, computed),
        bytesHeld: () => c.bytesHeld(),
      };
    },
  };
}
