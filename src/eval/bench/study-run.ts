// Records full trajectories (every step computed) of the block-stack residual and output per (sample,
// branch) through the real pipeline, for the residual-prediction study; nothing is skipped or changed.
import type { CacheMethod, SampleCache, SampleCacheContext, StepInfo } from '../../cache/contract.js';
import { type Denoiser, classCount } from '../../models/denoiser.js';
import { generate, type SamplerName } from '../../pipeline/generate.js';
import { studyErrors, type StudyErrors, type Trajectory } from './study.js';

interface Recording {
  readonly branch: string;
  readonly sampleIndex: number;
  readonly taus: number[];
  readonly residual: Float32Array[];
  readonly raw: Float32Array[];
}

/** A `stack` cache method that always computes and copies x_out − x_in and x_out of every step. */
export function trajectoryRecorder(into: Recording[]): CacheMethod {
  return Object.freeze({
    name: 'trajectory-recorder',
    preset: '',
    settings: {},
    granularity: 'stack' as const,
    needs: {},
    createSampleCache(ctx: SampleCacheContext): SampleCache {
      const rec: Recording = { branch: ctx.branch, sampleIndex: ctx.sampleIndex, taus: [], residual: [], raw: [] };
      into.push(rec);
      return {
        decide: () => ({ compute: true, reason: 'always' as const }),
        predict(step: StepInfo): Float32Array {
          throw new Error(`trajectory recorder never predicts (asked at step ${step.stepIndex})`);
        },
        observe(step: StepInfo, _section: number, input: Float32Array, output: Float32Array): void {
          const r = new Float32Array(output.length);
          for (let i = 0; i < r.length; i++) r[i] = output[i] - input[i];
          rec.taus.push(step.tau);
          rec.residual.push(r);
          rec.raw.push(Float32Array.from(output));
        },
        bytesHeld: () => rec.residual.reduce((b, a) => b + 2 * a.byteLength, 0),
      };
    },
  });
}

export interface RecordOptions {
  readonly steps: number;
  readonly n: number;
  readonly seed: number;
  readonly cfgScale: number;
  readonly sampler: SamplerName;
  readonly batchSize: number;
  readonly onStep?: (samplesInBatch: number) => void;
}

/** Full trajectories of samples 0..n−1 (labels i mod classes), every CFG branch. */
export async function recordTrajectories(model: Denoiser, o: RecordOptions): Promise<Trajectory[]> {
  const recs: Recording[] = [];
  const labels = Array.from({ length: o.n }, (_, i) => i % classCount(model));
  const bs = Math.min(o.batchSize, o.n);
  await generate(model, {
    labels,
    seed: o.seed,
    steps: o.steps,
    sampler: o.sampler,
    cfgScale: o.cfgScale,
    cache: trajectoryRecorder(recs),
    batchSize: bs,
    onStep: (p) => o.onStep?.(Math.min(bs, o.n - p.batch * bs)),
  });
  return recs.map((r) => ({ taus: r.taus, residual: r.residual, raw: r.raw }));
}

/** What the bench stores per (model, step count). */
export interface StudyRecord extends StudyErrors {
  readonly model: string;
  readonly steps: number;
  readonly sampler: SamplerName;
  /** Trajectories measured (samples × CFG branches). */
  readonly trajectories: number;
  readonly samples: number;
  readonly date: string;
}

export async function runStudy(model: Denoiser, modelName: string, o: RecordOptions & { maxGap: number }): Promise<StudyRecord> {
  const trajectories = await recordTrajectories(model, o);
  const errors = studyErrors(trajectories, { maxGap: o.maxGap });
  return { model: modelName, steps: o.steps, sampler: o.sampler, trajectories: trajectories.length, samples: o.n, date: new Date().toISOString(), ...errors };
}
