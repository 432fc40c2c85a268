// The `none` method: every step computes every section. The uncached baseline every other method is
// compared against; it holds no state.

import { CacheUsageError, type CacheSignals, type Decision, type StepInfo } from './contract.js';
import type { MethodDefinition } from './method-def.js';
import { SampleCacheBase } from './sample-base.js';

class AlwaysCompute extends SampleCacheBase {
  protected plan(_step: StepInfo, _signals: CacheSignals): Decision {
    return { compute: true, reason: 'always' };
  }
  protected predictSection(step: StepInfo): Float32Array {
    // Unreachable: the base refuses predict after a compute decision.
    throw new CacheUsageError(`${this.where()}: 'none' never predicts (step ${step.stepIndex})`);
  }
  protected record(): void {}
  bytesHeld(): number {
    return 0;
  }
}

const schema = {};

export const noneDefinition: MethodDefinition<typeof schema> = {
  name: 'none',
  description: 'No caching: every step runs the whole block stack.',
  schema,
  presets: { default: {} },
  defaultPreset: 'default',
  granularity: () => 'stack',
  needs: () => ({}),
  createSampleCache: (_s, ctx, label) => new AlwaysCompute(ctx, label),
};
