// TeaCache's rescale polynomial for a benched model: the one `tcpade calibrate teacache` stored beside
// the model, or, when there is none, a fit on the model's own full trajectories made now (and said so).
import { storedTeaCacheCoefficients, teacacheFileFor } from '../../cli/calibrate.js';
import type { Denoiser } from '../../models/denoiser.js';
import { calibrateTeaCache } from '../../pipeline/calibrate.js';
import type { SamplerName } from '../../pipeline/generate.js';
import type { ModelRecord } from './rows.js';

export async function teaCacheCoefficients(
  model: Denoiser,
  /** The checkpoint, beside which a teacache.json may lie; undefined for a synthetic model (none can). */
  modelPath: string | undefined,
  /** How a path is written in reports (the report says where the coefficients came from). */
  show: (p: string) => string,
  o: { sampler: SamplerName; steps: readonly number[]; samples: number; cfgScale: number; seed: number },
): Promise<ModelRecord['teacache']> {
  const stored = modelPath === undefined ? undefined : storedTeaCacheCoefficients(modelPath);
  const file = modelPath === undefined ? undefined : show(teacacheFileFor(modelPath));
  if (stored && file) return { source: 'teacache.json', coefficients: stored, detail: file };
  const cal = await calibrateTeaCache(model, {
    sampler: o.sampler,
    steps: [...o.steps],
    samplesPerRun: o.samples,
    cfgScale: o.cfgScale,
    degree: 4,
    // Not the bench's seed: the fit must not be made on the very samples it is then judged on.
    seed: o.seed + 1000,
  });
  if (!cal.coefficients.every(Number.isFinite)) {
    const hint = modelPath === undefined ? 'calibrate with more samples (--timing-n)' : `run \`tcpade calibrate teacache --model ${show(modelPath)}\` with more samples`;
    throw new Error(`TeaCache calibration of ${modelPath === undefined ? 'the synthetic model' : show(modelPath)} gave non-finite coefficients; ${hint}`);
  }
  const fit = `fitted degree ${cal.degree} on ${cal.points} points (${cal.samples} samples × steps ${cal.steps.join(',')}, cfg ${cal.cfgScale}, RMSE ${cal.rmse.toExponential(2)})`;
  return {
    source: 'calibrated-on-the-fly',
    coefficients: cal.coefficients,
    detail: file === undefined ? `synthetic model, ${fit}` : `no ${file}: ${fit}`,
  };
}
