// TeaCache calibration on a model's own full trajectories: record, per row and step, the relative L1
// change of block 0's modulated input and of the block-stack output (what TeaCache's reuse replaces),
// then fit the rescale polynomial output-change ≈ p(input-change) by least squares.
import type { CacheMethod, CacheSignals, Decision, SampleCache, StepInfo } from '../cache/contract.js';
import { polyfit, polyval, relativeL1 } from '../cache/index.js';
import { type Denoiser, classCount } from '../models/denoiser.js';
import { generate, SamplerName } from './generate.js';

interface RowTrace {
  inputChange: number[];
  outputChange: number[];
}

/** A cache method that never skips and only records the two signals per step (one per row). */
function recorder(traces: RowTrace[]): CacheMethod {
  return {
    name: 'calibration-recorder',
    preset: '',
    settings: {},
    granularity: 'stack',
    needs: { modulatedInput0: true },
    createSampleCache(): SampleCache {
      const trace: RowTrace = { inputChange: [], outputChange: [] };
      traces.push(trace);
      let prevMod: Float32Array | null = null;
      let prevOut: Float32Array | null = null;
      return {
        decide(_step: StepInfo, s: CacheSignals): Decision {
          const m = s.modulatedInput0!;
          if (prevMod) trace.inputChange.push(relativeL1(m, prevMod));
          prevMod = Float32Array.from(m);
          return { compute: true, reason: 'always' };
        },
        predict(): Float32Array {
          throw new Error('calibration never predicts');
        },
        observe(_step: StepInfo, _section: number, _input: Float32Array, output: Float32Array): void {
          if (prevOut) trace.outputChange.push(relativeL1(output, prevOut));
          prevOut = Float32Array.from(output);
        },
        bytesHeld: () => 0,
      };
    },
  };
}

export interface TeaCacheCalibration {
  coefficients: number[]; // lowest degree first
  degree: number;
  points: number;
  rmse: number;
  steps: number[];
  sampler: SamplerName;
  samples: number;
  cfgScale: number;
}

export async function calibrateTeaCache(model: Denoiser, o: { sampler: SamplerName; steps: number[]; samplesPerRun: number; cfgScale: number; degree: number; seed: number; onProgress?: (msg: string) => void }): Promise<TeaCacheCalibration> {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const steps of o.steps) {
    const traces: RowTrace[] = [];
    const labels = Array.from({ length: o.samplesPerRun }, (_, i) => i % classCount(model));
    await generate(model, { labels, seed: o.seed, steps, sampler: o.sampler, cfgScale: o.cfgScale, cache: recorder(traces), batchSize: Math.min(20, o.samplesPerRun) });
    for (const t of traces) {
      for (let i = 0; i < Math.min(t.inputChange.length, t.outputChange.length); i++) {
        xs.push(t.inputChange[i]);
        ys.push(t.outputChange[i]);
      }
    }
    o.onProgress?.(`${steps} steps: ${xs.length} points so far`);
  }
  const coefficients = polyfit(xs, ys, o.degree);
  let se = 0;
  for (let i = 0; i < xs.length; i++) se += (polyval(coefficients, xs[i]) - ys[i]) ** 2;
  return { coefficients, degree: o.degree, points: xs.length, rmse: Math.sqrt(se / xs.length), steps: o.steps, sampler: o.sampler, samples: o.samplesPerRun, cfgScale: o.cfgScale };
}
