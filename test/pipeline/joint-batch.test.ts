// Requests merged into one model batch (what `tcpade serve` does) give each request exactly the bytes it
// gets alone: different seeds, sample counts, CFG scales and guidance channels, several cache methods.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCacheMethod } from '../../src/cache/index.js';
import type { Denoiser } from '../../src/models/denoiser.js';
import { loadDenoiser } from '../../src/models/load.js';
import { resolveModelPath } from '../../src/models/shipped.js';
import { generate, modelPlan } from '../../src/pipeline/generate.js';
import { runJointBatch, type BatchMember } from '../../src/pipeline/joint-batch.js';

function sameArray(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

interface Request {
  labels: number[];
  seed: number;
  cfgScale: number;
}

const requests: Request[] = [
  { labels: [3, 3], seed: 11, cfgScale: 1.5 },
  { labels: [7], seed: 2, cfgScale: 1 },
  { labels: [0, 1, 2], seed: 11, cfgScale: 4 },
];

describe('joint batches: each member equals its request alone', () => {
  let model: Denoiser;
  before(async () => {
    model = await loadDenoiser(resolveModelPath('mnist-dit'), { threads: 1 });
  });
  after(() => model.release());

  for (const [name, preset] of [['none', undefined], ['tcpade', 'fast'], ['teacache', 'fast'], ['fbcache', undefined], ['delta-dit', undefined], ['taylorseer', undefined]] as const) {
    it(`${name}${preset ? `/${preset}` : ''}: 3 requests in one batch`, async () => {
      const cache = name === 'none' ? undefined : createCacheMethod(name, preset);
      const plan = modelPlan(model, { sampler: 'ddim', steps: 12 });
      const progress = requests.map(() => [] as number[]);
      const members: BatchMember[] = requests.map((q, k) => ({
        sampleIndices: q.labels.map((_, i) => i),
        seed: q.seed,
        cond: { classLabels: q.labels },
        cfgScale: q.cfgScale,
        onStep: (s) => progress[k].push(s),
      }));
      const joint = await runJointBatch(model, plan, cache, members);
      assert.equal(joint.rows, 2 * 2 + 1 + 3 * 2);
      for (const [k, q] of requests.entries()) {
        const alone = await generate(model, { labels: q.labels, seed: q.seed, steps: 12, sampler: 'ddim', cfgScale: q.cfgScale, cache });
        assert.ok(sameArray(joint.members[k].x, alone.samples), `request ${k} differs from its run alone`);
        assert.equal(joint.members[k].computedRows, alone.stats.computedCount, `request ${k}: computed (row, step) pairs`);
        assert.equal(joint.members[k].predictedRows, alone.stats.predictedCount);
        assert.equal(joint.members[k].blockEvals, Math.round(alone.stats.blockComputeRatio * q.labels.length * (q.cfgScale === 1 ? 1 : 2) * 12 * model.depth));
        assert.deepEqual(progress[k], Array.from({ length: 12 }, (_, s) => s));
      }
    });
  }

  it('a cancelled member stops getting progress, and the others are unchanged', async () => {
    const plan = modelPlan(model, { sampler: 'ddim', steps: 8 });
    const seen: number[] = [];
    const members: BatchMember[] = [
      { sampleIndices: [0], seed: 1, cond: { classLabels: [4] }, cfgScale: 1.5, onStep: (s) => seen.push(s), cancelled: () => seen.length >= 3 },
      { sampleIndices: [0, 1], seed: 5, cond: { classLabels: [8, 9] }, cfgScale: 1.5 },
    ];
    const joint = await runJointBatch(model, plan, createCacheMethod('tcpade', 'fast'), members);
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(joint.members[0].cancelled, true);
    const alone = await generate(model, { labels: [8, 9], seed: 5, steps: 8, sampler: 'ddim', cfgScale: 1.5, cache: createCacheMethod('tcpade', 'fast') });
    assert.ok(sameArray(joint.members[1].x, alone.samples));
  });
});
