// The contract every cache method passes through the real pipeline (tiny random-weight DiT, DDIM + CFG):
// none is bit-identical to no cache; outputs differ only when something was predicted; state never
// leaks between requests, step counts, CFG branches or samples of a batch.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CachePredictionError, createCacheMethod, listCacheMethods, type CacheMethod } from '../../src/cache/index.js';
import type { SampleCacheContext, StepInfo } from '../../src/cache/contract.js';
import { DiT } from '../../src/models/dit/dit.js';
import { namedConfig } from '../../src/models/dit/dit-config.js';
import { randomDiTWeights } from '../../src/models/dit/random-weights.js';
import { GenerateOptions, generate } from '../../src/pipeline/generate.js';
import { splitSteps, type RunStats } from '../../src/pipeline/stats.js';
import { interceptCache } from '../support/intercept.js';

let model: DiT;
before(() => {
  model = new DiT(namedConfig('mnist-dit-tiny'), randomDiTWeights(namedConfig('mnist-dit-tiny'), 11), { threads: 1 });
});
after(() => model.release());

const base: GenerateOptions = { labels: [3, 7], seed: 5, steps: 12, sampler: 'ddim', cfgScale: 1.5, batchSize: 2 };
const variants = listCacheMethods().flatMap((m) => m.presets.map((p) => [m.name, p] as const));

function sameArray(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe('cache contract through the pipeline', () => {
  it('`none` is bit-identical to the plain pipeline', async () => {
    const plain = await generate(model, base);
    const none = await generate(model, { ...base, cache: createCacheMethod('none') });
    assert.ok(sameArray(plain.samples, none.samples));
    assert.equal(none.stats.blockComputeRatio, 1);
  });

  for (const [name, preset] of variants) {
    it(`${name}/${preset}: differs from the full run only when it predicted; requests, step counts and samples are independent`, async () => {
      const full = await generate(model, base);
      const method = createCacheMethod(name, preset);
      const r1 = await generate(model, { ...base, cache: method });
      if (r1.stats.predictedCount === 0) assert.ok(sameArray(r1.samples, full.samples), 'nothing was predicted, yet the output changed');
      else assert.ok(!sameArray(r1.samples, full.samples), `${r1.stats.predictedCount} predicted passes left the output bit-identical`);
      assert.ok(r1.samples.every(Number.isFinite));
      assert.ok(r1.stats.blockComputeRatio <= 1 && r1.stats.blockComputeRatio > 0);

      // Same request again with the same method object: no state survives a request.
      const r2 = await generate(model, { ...base, cache: method });
      assert.ok(sameArray(r1.samples, r2.samples), 'a repeated request gave a different result');

      // A 20-step request after the 12-step ones equals a 20-step request on a fresh method.
      const after20 = await generate(model, { ...base, steps: 20, cache: method });
      const fresh20 = await generate(model, { ...base, steps: 20, cache: createCacheMethod(name, preset) });
      assert.ok(sameArray(after20.samples, fresh20.samples), 'a request with another step count was influenced by the previous one');

      // Each sample of a batch equals the same sample run alone.
      const alone0 = await generate(model, { ...base, labels: [3], batchSize: 1, cache: method });
      const alone1 = await generate(model, { ...base, labels: [7], firstSampleIndex: 1, batchSize: 1, cache: method });
      const px = 28 * 28;
      assert.ok(sameArray(r1.samples.subarray(0, px), alone0.samples), 'sample 0 in a batch differs from sample 0 alone');
      assert.ok(sameArray(r1.samples.subarray(px), alone1.samples), 'sample 1 in a batch differs from sample 1 alone');
    });
  }

  it('CFG branches keep separate state: with scale 0 the result equals an unconditional run of the uncond branch alone', async () => {
    for (const [name, preset] of variants) {
      const guided0 = await generate(model, { ...base, cfgScale: 0, cache: createCacheMethod(name, preset) });
      const uncond = await generate(model, { ...base, labels: [10, 10], cfgScale: 1, cache: createCacheMethod(name, preset) });
      assert.ok(sameArray(guided0.samples, uncond.samples), `${name}/${preset}: the uncond branch was influenced by the cond branch`);
      const unc = guided0.stats.perStep.filter((p) => p.branch === 'uncond').map((p) => p.decisions.map((d) => d.compute));
      const alone = uncond.stats.perStep.map((p) => p.decisions.map((d) => d.compute));
      assert.deepEqual(unc, alone, `${name}/${preset}: uncond decisions differ from the same trajectory run alone`);
    }
  });
});

describe('non-finite predictions fall back to computing, per row and section', () => {
  // Wraps a real per-block method; for (cond, sample 1, step 5) either its section-0 prediction comes out
  // NaN (the pipeline must compute that row from there on) or its decision is forced to compute outright.
  function wrapped(mode: 'nan' | 'force'): CacheMethod {
    const target = (ctx: SampleCacheContext, step: StepInfo) => ctx.branch === 'cond' && ctx.sampleIndex === 1 && step.stepIndex === 5;
    return interceptCache(
      createCacheMethod('taylorseer', 'block-n4o2'),
      {
        decide: (ctx, step, d) => (mode === 'force' && target(ctx, step) ? { compute: true, reason: 'schedule' } : d),
        predict: (ctx, step, section, p) => {
          if (mode === 'nan' && target(ctx, step) && section === 0) {
            p[0] = NaN;
            throw new CachePredictionError('injected', step.stepIndex, section);
          }
          return p;
        },
      },
      { historyOnlyForecast: false }, // every section predicted in order, so section 0's NaN is seen
    );
  }

  it('the row computes every block of that step, stats say nan-fallback, and the result equals forcing the compute', async () => {
    const opts = { ...base, steps: 12 };
    const probe = await generate(model, { ...opts, cache: createCacheMethod('taylorseer', 'block-n4o2') });
    const at5 = probe.stats.perStep.find((p) => p.step === 5 && p.branch === 'cond')!;
    assert.equal(at5.decisions[1].compute, false, 'the setup needs step 5 to be a predicted step');
    const nan = await generate(model, { ...opts, cache: wrapped('nan') });
    const forced = await generate(model, { ...opts, cache: wrapped('force') });
    const rec = nan.stats.perStep.find((p) => p.step === 5 && p.branch === 'cond')!.decisions[1];
    assert.equal(rec.reason, 'nan-fallback');
    assert.equal(rec.compute, true);
    assert.equal(rec.blocksComputed, model.depth);
    assert.ok(nan.samples.every(Number.isFinite));
    let worst = 0;
    nan.samples.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - forced.samples[i]))));
    assert.ok(worst < 1e-5, `fallback vs forced compute: max abs difference ${worst}`);
    // the other rows were not disturbed: sample 0 equals the plain method's
    const px = 28 * 28;
    assert.ok(sameArray(nan.samples.subarray(0, px), probe.samples.subarray(0, px)));
  });
});

describe('history-only forecasters: predictions nobody reads are not made', () => {
  // Counts predict calls of a per-block raw forecaster and can make (cond, sample 1, step 5)'s forecast of
  // section `nanAt` non-finite; `historyOnly` toggles the pipeline's shortcut.
  function counted(historyOnly: boolean, calls: Map<string, number>, nanAt?: number): CacheMethod {
    const inner = createCacheMethod('taylorseer', 'block-n4o2');
    assert.equal(inner.historyOnlyForecast, true, 'raw-target TaylorSeer declares history-only forecasts');
    return interceptCache(
      inner,
      {
        predict: (ctx, step, section, p) => {
          const key = `${ctx.branch}/${ctx.sampleIndex}/${step.stepIndex}`;
          calls.set(key, (calls.get(key) ?? 0) + 1);
          const target = ctx.branch === 'cond' && ctx.sampleIndex === 1 && step.stepIndex === 5;
          if (target && section === nanAt) throw new CachePredictionError('injected', step.stepIndex, section);
          return p;
        },
      },
      { historyOnlyForecast: historyOnly },
    );
  }

  it('per block, a fully predicted step forecasts only the last block, with the same result bit for bit', async () => {
    const short = new Map<string, number>();
    const long = new Map<string, number>();
    const withShortcut = await generate(model, { ...base, cache: counted(true, short) });
    const without = await generate(model, { ...base, cache: counted(false, long) });
    assert.ok(sameArray(withShortcut.samples, without.samples));
    assert.ok(withShortcut.stats.predictedCount > 0);
    for (const [key, n] of long) {
      assert.equal(n, model.depth, `${key}: every block predicted without the shortcut`);
      assert.equal(short.get(key), 1, `${key}: one forecast with the shortcut`);
    }
    assert.deepEqual([...short.keys()].sort(), [...long.keys()].sort());
  });

  it('a non-finite last-block forecast sends the row back to block-by-block prediction, then computes that block', async () => {
    const last = model.depth - 1;
    const withShortcut = await generate(model, { ...base, cache: counted(true, new Map(), last) });
    const without = await generate(model, { ...base, cache: counted(false, new Map(), last) });
    assert.ok(sameArray(withShortcut.samples, without.samples));
    const rec = withShortcut.stats.perStep.find((p) => p.step === 5 && p.branch === 'cond')!.decisions[1];
    assert.equal(rec.reason, 'nan-fallback');
    assert.equal(rec.blocksComputed, 1, 'only the block whose forecast failed runs');
  });
});

describe('history-only forecasters skip the embedding on steps every row predicts', () => {
  // Counts embed calls; `nanAt` makes (cond, sample 1, step nanAt)'s forecast fail, which must send that
  // step down the usual path (embed, the row computes) with the same result as without the shortcut.
  async function run(spec: [string, string], shortcut: boolean, nanAt?: number): Promise<{ samples: Float32Array; embeds: number; stats: RunStats }> {
    const inner = createCacheMethod(...spec);
    assert.equal(inner.historyOnlyForecast, true, `${spec.join('/')} declares history-only forecasts`);
    const method = interceptCache(
      inner,
      {
        predict: (ctx, step, section, p) => {
          if (ctx.branch === 'cond' && ctx.sampleIndex === 1 && step.stepIndex === nanAt) throw new CachePredictionError('injected', step.stepIndex, section);
          return p;
        },
      },
      { historyOnlyForecast: shortcut },
    );
    const embed = model.embed.bind(model);
    let embeds = 0;
    model.embed = (...args) => {
      embeds++;
      return embed(...args);
    };
    try {
      const r = await generate(model, { ...base, steps: 20, cache: method });
      return { samples: r.samples, embeds, stats: r.stats };
    } finally {
      model.embed = embed;
    }
  }

  for (const spec of [['tcpade', 'fast'], ['taylorseer', 'n4o2'], ['taylorseer', 'block-n4o2']] as [string, string][]) {
    it(`${spec.join('/')}: one embedding per step on which a row computes, the same samples bit for bit`, async () => {
      const fast = await run(spec, true);
      const slow = await run(spec, false);
      assert.ok(sameArray(fast.samples, slow.samples));
      const computing = new Set(fast.stats.perStep.filter((p) => p.computed > 0).map((p) => p.step)).size;
      assert.ok(computing < 20, 'setup: some steps must be fully predicted');
      assert.equal(slow.embeds, 20);
      assert.equal(fast.embeds, computing);
    });
  }

  it('a non-finite forecast on a fully predicted step sends that step the usual way: the row computes', async () => {
    const probe = await run(['tcpade', 'fast'], true);
    const predictedStep = probe.stats.perStep.find((p) => p.step > 4 && p.computed === 0)!.step;
    const fast = await run(['tcpade', 'fast'], true, predictedStep);
    const slow = await run(['tcpade', 'fast'], false, predictedStep);
    assert.ok(sameArray(fast.samples, slow.samples));
    const rec = fast.stats.perStep.find((p) => p.step === predictedStep && p.branch === 'cond')!.decisions[1];
    assert.equal(rec.reason, 'nan-fallback');
    assert.equal(rec.compute, true);
    assert.equal(fast.embeds, probe.embeds + 1);
  });
});

describe('per-block TaylorSeer under one schedule is the stack form up to rounding', () => {
  // Each block's forecast is linear in its own history, and a fully predicted step outputs the last
  // block's forecast of the stack output at the same nodes (raw target); with the residual target the
  // per-block forecasts sum to the stack residual's forecast. Only cost and the NaN path differ.
  for (const target of ['raw', 'residual'] as const) {
    it(`target ${target}: block-n4o2 equals n4o2 (same decisions, samples to rounding)`, async () => {
      const stack = await generate(model, { ...base, steps: 20, cache: createCacheMethod('taylorseer', 'n4o2', { target }) });
      const perBlock = await generate(model, { ...base, steps: 20, cache: createCacheMethod('taylorseer', 'block-n4o2', { target }) });
      assert.ok(stack.stats.predictedCount > 0);
      assert.deepEqual(
        perBlock.stats.perStep.map((p) => p.decisions.map((d) => d.compute)),
        stack.stats.perStep.map((p) => p.decisions.map((d) => d.compute)),
      );
      let worst = 0;
      stack.samples.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - perBlock.samples[i]))));
      assert.ok(worst < 1e-4, `per-block vs stack: max abs difference ${worst}`);
    });
  }
});

describe('block ranges: a per-block method may group blocks into sections', () => {
  const config = { ...namedConfig('mnist-dit-tiny'), depth: 4 };
  let model: DiT;
  before(() => {
    model = new DiT(config, randomDiTWeights(config, 12), { threads: 1 });
  });
  after(() => model.release());

  it('Δ-DiT reuses whole ranges (one residual per range): equal to a residual per block up to rounding', async () => {
    const ranged = createCacheMethod('delta-dit', 'n2');
    assert.deepEqual(ranged.blockRanges?.(model.depth), [
      [0, model.depth / 2],
      [model.depth / 2, model.depth],
    ]);
    const perBlock: CacheMethod = { ...ranged, blockRanges: undefined };
    const a = await generate(model, { ...base, cache: ranged });
    const b = await generate(model, { ...base, cache: perBlock });
    assert.equal(a.stats.blockComputeRatio, b.stats.blockComputeRatio);
    assert.ok(a.stats.blockComputeRatio < 1);
    let worst = 0;
    a.samples.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b.samples[i]))));
    assert.ok(worst < 1e-4, `ranges vs blocks: max abs difference ${worst}`);
    const partial = a.stats.perStep.flatMap((p) => p.decisions).filter((d) => !d.compute);
    assert.ok(partial.length > 0 && partial.every((d) => d.blocksComputed === model.depth / 2));
    // one stored residual per range instead of one per block
    assert.ok(a.stats.cacheBytesPeak < b.stats.cacheBytesPeak, `${a.stats.cacheBytesPeak} vs ${b.stats.cacheBytesPeak}`);
  });

  it('Δ-DiT with a quarter of the blocks cached cuts three ranges and replaces the rear one early, the front one late', async () => {
    const quarter = createCacheMethod('delta-dit', 'n2', { cachedFraction: 0.25 });
    assert.deepEqual(quarter.blockRanges?.(4), [
      [0, 1],
      [1, 3],
      [3, 4],
    ]);
    const run = await generate(model, { ...base, steps: 12, cache: quarter });
    const partial = run.stats.perStep.flatMap((p) => p.decisions.filter((d) => !d.compute).map((d) => ({ stage: d.stage, blocks: d.blocksComputed })));
    assert.ok(partial.some((d) => d.stage === 'early') && partial.some((d) => d.stage === 'late'));
    assert.ok(partial.every((d) => d.blocks === 3), JSON.stringify(partial));
    assert.equal(run.stats.blockComputeRatio, (12 - partial.length / 4 + (3 / 4) * (partial.length / 4)) / 12);
  });

  it('ranges that skip or overlap blocks are refused with the ranges named', async () => {
    const bad: CacheMethod = { ...createCacheMethod('delta-dit', 'n2'), blockRanges: () => [[0, 1], [2, model.depth]] };
    await assert.rejects(() => generate(model, { ...base, cache: bad }), /block ranges \[\[0,1\],\[2,\d+\]\] must be contiguous/);
  });
});

describe('split steps: rows of a batch that decide differently', () => {
  it('a fixed schedule never splits the batch; one row deciding otherwise makes one split step', async () => {
    const fixed = await generate(model, { ...base, cache: createCacheMethod('fora', 'n3') });
    assert.equal(splitSteps(fixed.stats), 0);
    // force a split: sample 1 of the cond branch computes on step 4, everyone else predicts
    const forced = interceptCache(createCacheMethod('fora', 'n3'), {
      decide: (ctx, step, d) => (ctx.branch === 'cond' && ctx.sampleIndex === 1 && step.stepIndex === 4 ? { compute: true, reason: 'schedule' } : d),
    });
    const run = await generate(model, { ...base, cache: forced });
    const at4 = run.stats.perStep.filter((p) => p.step === 4).flatMap((p) => p.decisions.map((d) => d.compute));
    assert.deepEqual(at4, [false, true, false, false], 'setup: step 4 is predicted by all but cond/sample 1');
    assert.equal(splitSteps(run.stats), 1);
  });
});

describe('run time excludes one-time graph compilation', () => {
  it('the first run of a fresh model reports its compile as setupMs, apart from wall and phase times; a repeat compiles nothing', async () => {
    const config = namedConfig('mnist-dit-tiny');
    const fresh = new DiT(config, randomDiTWeights(config, 13), { threads: 1 });
    try {
      const t0 = performance.now();
      const first = await generate(fresh, { ...base, steps: 3 });
      const elapsed = performance.now() - t0;
      assert.ok(first.stats.setupMs > 0, 'compiling the embed, blocks and head graphs took no time');
      assert.equal(first.stats.setupMs, fresh.compileMs);
      // Sampling wall + setup account for the call (up to the work outside the timed loop).
      assert.ok(first.stats.wallMs + first.stats.setupMs <= elapsed + 1e-6);
      const t = first.stats.times;
      const phases = t.embedMs + t.blocksMs + t.headMs + t.signalMs + t.cacheMs + t.samplerMs;
      assert.ok(phases <= first.stats.wallMs + 1e-6, `phases ${phases} ms exceed the sampling wall ${first.stats.wallMs} ms: the compile leaked into a phase`);
      const again = await generate(fresh, { ...base, steps: 3 });
      assert.equal(again.stats.setupMs, 0);
      assert.equal(fresh.compileMs, first.stats.setupMs);
    } finally {
      await fresh.release();
    }
  });
});
