// The cache contract through the real pipeline on the text-conditioned families (FLUX, Wan; tiny fixtures
// with random weights, flow-matching Euler): every method and preset runs, `none` is bit-identical to no
// cache, outputs differ only when something was predicted, and a sample in a batch equals it alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CacheMethod, CacheSignals } from '../../src/cache/contract.js';
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

/** A method of the given granularity that always computes and records what its caches were handed. */
function recorder(granularity: 'stack' | 'first-block' | 'per-block', seen: { signals: CacheSignals[]; inputs: Float32Array[]; outputs: Float32Array[]; sectionBlocks: unknown[] }): CacheMethod {
  return {
    name: 'recorder',
    preset: '',
    settings: {},
    granularity,
    needs: { modulatedInput0: true, firstBlock: true },
    ...(granularity === 'per-block' ? { blockRanges: (depth: number) => [[0, depth] as const] } : {}),
    createSampleCache(ctx) {
      seen.sectionBlocks.push(ctx.sectionBlocks);
      return {
        decide(_step, s) {
          seen.signals.push({ xIn: Float32Array.from(s.xIn!), modulatedInput0: Float32Array.from(s.modulatedInput0!), firstBlockResidual: Float32Array.from(s.firstBlockResidual!) });
          return { compute: true, reason: 'always' };
        },
        predict() {
          throw new Error('never predicts');
        },
        observe(_step, _section, input, output) {
          seen.inputs.push(Float32Array.from(input));
          seen.outputs.push(Float32Array.from(output!));
        },
        bytesHeld: () => 0,
      };
    },
  };
}

describe('FLUX: caches see the image tokens the head reads, and per-block sections keep to one block kind', () => {
  let model: Denoiser;
  before(async () => {
    model = await families[0].load();
  });
  after(() => model.release());
  const run = (method: CacheMethod) => generate(model, { conditioning: families[0].conditioning(1), seed: 5, steps: 2, sampler: 'flow-euler', cfgScale: 1, batchSize: 1, cache: method });
  const empty = () => ({ signals: [] as CacheSignals[], inputs: [] as Float32Array[], outputs: [] as Float32Array[], sectionBlocks: [] as unknown[] });

  it('the contract names the 16 image tokens after the 7 text tokens, and the kinds of its 1 + 1 blocks', () => {
    assert.deepEqual(model.outputTokens, { start: 7, count: 16 });
    assert.deepEqual(model.blockKinds, ['double', 'single']);
  });

  it('first-block granularity: every signal and section is 16 image tokens × 32, and the residual is block 0 minus its input there', async () => {
    const seen = empty();
    await run(recorder('first-block', seen));
    const imageElems = 16 * 32;
    assert.equal(seen.signals.length, 2);
    for (const [s, sig] of seen.signals.entries()) {
      assert.equal(sig.xIn!.length, imageElems);
      assert.equal(sig.modulatedInput0!.length, imageElems);
      assert.equal(sig.firstBlockResidual!.length, imageElems);
      // the section's input is block 0's output: residual = input − embedding, token for token
      const block0Out = seen.inputs[s];
      assert.equal(block0Out.length, imageElems);
      assert.ok(sig.firstBlockResidual!.every((v, i) => Object.is(v, Math.fround(block0Out[i] - sig.xIn![i]))));
      assert.equal(seen.outputs[s].length, imageElems);
    }
  });

  it('stack granularity: the section is the image tokens from input to stack output', async () => {
    const seen = empty();
    await run(recorder('stack', seen));
    assert.ok(seen.inputs.every((a) => a.length === 16 * 32) && seen.outputs.every((a) => a.length === 16 * 32));
    assert.ok(seen.inputs.every((a, s) => sameArray(a, seen.signals[s].xIn!)), 'the section input is the signal xIn');
  });

  it('per-block: one range over both kinds is cut at the double → single edge, and sections keep every token', async () => {
    const seen = empty();
    await run(recorder('per-block', seen));
    assert.deepEqual(seen.sectionBlocks[0], [[0, 1], [1, 2]]);
    assert.ok(seen.inputs.every((a) => a.length === 23 * 32));
  });
});
