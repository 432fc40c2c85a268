// The cache contract through the real pipeline on the text-conditioned families (FLUX, Wan; tiny fixtures
// with random weights, flow-matching Euler): every method and preset runs, `none` is bit-identical to no
// cache, outputs differ only when something was predicted, and a sample in a batch equals it alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCacheMethod, listCacheMethods } from '../../src/cache/index.js';
import type { Conditioning, Denoiser } from '../../src/models/denoiser.js';
import { loadFlux } from '../../src/models/flux/index.js';
import { loadWan } from '../../src/models/wan/index.js';
import { Rng } from '../../src/diffusion/rng.js';
import { GenerateOptions, generate } from '../../src/pipeline/generate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '../fixtures');

function randomRows(seed: number, rows: number, shape: number[]): { data: Float32Array; shape: number[] } {
  const rng = new Rng(seed);
  const n = rows * shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, () => rng.normal()), shape };
}

function sameArray(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

interface Family {
  name: string;
  load(): Promise<Denoiser>;
  conditioning(rows: number): Conditioning;
  cfgScale: number;
}

const families: Family[] = [
  {
    // FLUX.1-dev-like (guidance embedding): guidance-distilled, so no CFG.
    name: 'flux',
    load: () => loadFlux(path.join(fixtures, 'flux_diffusers_tiny_golden/transformer'), { threads: 1, geometry: { imageGrid: [4, 4], textTokens: 7 } }),
    conditioning: (rows) => ({ textEmbeddings: randomRows(3, rows, [7, 32]), pooledText: randomRows(4, rows, [32]), guidance: new Array<number>(rows).fill(3.5) }),
    cfgScale: 1,
  },
  {
    // Wan with classifier-free guidance against a negative-prompt embedding.
    name: 'wan',
    load: () => loadWan(path.join(fixtures, 'wan_diffusers_tiny_golden/transformer'), { threads: 1, latentShape: [4, 3, 8, 8], textTokens: 7, negativeTextEmbedding: randomRows(9, 1, [7, 16]) }),
    conditioning: (rows) => ({ textEmbeddings: randomRows(5, rows, [7, 16]) }),
    cfgScale: 4,
  },
];

const variants = listCacheMethods().flatMap((m) => m.presets.map((p) => [m.name, p] as const));

for (const fam of families) {
  describe(`cache contract through the pipeline on ${fam.name}`, () => {
    let model: Denoiser;
    before(async () => {
      model = await fam.load();
    });
    after(() => model.release());
    const base = (): GenerateOptions => ({ conditioning: fam.conditioning(2), seed: 5, steps: 10, sampler: 'flow-euler', cfgScale: fam.cfgScale, batchSize: 2 });

    it('`none` is bit-identical to the plain pipeline, and the output is finite', async () => {
      const plain = await generate(model, base());
      const none = await generate(model, { ...base(), cache: createCacheMethod('none') });
      assert.ok(sameArray(plain.samples, none.samples));
      assert.ok(plain.samples.every(Number.isFinite));
      assert.deepEqual(plain.shape, [2, ...model.latentShape]);
    });

    for (const [name, preset] of variants) {
      it(`${name}/${preset}: runs, differs only when it predicted, and batch rows equal their samples alone`, async () => {
        const full = await generate(model, base());
        const method = createCacheMethod(name, preset, name === 'teacache' ? { coefficients: [1, 0] } : {});
        const r = await generate(model, { ...base(), cache: method });
        assert.ok(r.samples.every(Number.isFinite), 'non-finite output');
        if (r.stats.predictedCount === 0) assert.ok(sameArray(r.samples, full.samples), 'nothing was predicted, yet the output changed');
        else assert.ok(!sameArray(r.samples, full.samples), `${r.stats.predictedCount} predicted passes left the output bit-identical`);
        const cond = fam.conditioning(2);
        const px = model.latentShape.reduce((a, b) => a * b, 1);
        const one = (k: number): Conditioning => ({
          ...(cond.textEmbeddings ? { textEmbeddings: { data: cond.textEmbeddings.data.subarray(k * 7 * cond.textEmbeddings.shape[1], (k + 1) * 7 * cond.textEmbeddings.shape[1]), shape: cond.textEmbeddings.shape } } : {}),
          ...(cond.pooledText ? { pooledText: { data: cond.pooledText.data.subarray(k * 32, (k + 1) * 32), shape: cond.pooledText.shape } } : {}),
          ...(cond.guidance ? { guidance: [cond.guidance[k]] } : {}),
        });
        const alone1 = await generate(model, { ...base(), conditioning: one(1), firstSampleIndex: 1, batchSize: 1, cache: method });
        assert.ok(sameArray(r.samples.subarray(px), alone1.samples), 'sample 1 in a batch differs from sample 1 alone');
      });
    }
  });
}
