// The contract every cache method and preset passes, driven through a fake smooth model: per-sample and
// per-request independence, step counts in a row, `none` never skips, finite predictions, no early change.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCacheMethod, createRequestCache, listCacheMethods, type CacheMethod } from '../../src/cache/index.js';
import { runRequest, unevenTaus, type RequestRun } from './fake-pipeline.js';

const taus20 = unevenTaus(20);
const taus50 = unevenTaus(50);

function sameRun(actual: RequestRun, expected: RequestRun, actualSample: number, expectedSample: number, what: string): void {
  for (const branch of Object.keys(expected.runs)) {
    const a = actual.runs[branch][actualSample];
    const e = expected.runs[branch][expectedSample];
    assert.deepEqual(a.decisions, e.decisions, `${what}: decisions of branch ${branch} differ`);
    assert.equal(a.outputs.length, e.outputs.length);
    a.outputs.forEach((o, s) => assert.deepEqual(o, e.outputs[s], `${what}: branch ${branch} output at step ${s} differs`));
  }
  assert.deepEqual(actual.finals[actualSample], expected.finals[expectedSample], `${what}: final latent differs`);
}

const allPresets: { method: CacheMethod; label: string }[] = listCacheMethods().flatMap((m) =>
  m.presets.map((p) => ({ method: createCacheMethod(m.name, p), label: `${m.name}/${p}` })),
);

describe('cache contract (every method × preset)', () => {
  const none20 = runRequest(createCacheMethod('none'), { taus: taus20, seeds: [1, 2] });

  for (const { method, label } of allPresets) {
    describe(label, () => {
      const both = runRequest(method, { taus: taus20, seeds: [1, 2] });

      it('two samples in one batch behave exactly as each alone', () => {
        sameRun(both, runRequest(method, { taus: taus20, seeds: [1] }), 0, 0, 'sample 0');
        sameRun(both, runRequest(method, { taus: taus20, seeds: [2] }), 1, 0, 'sample 1');
      });

      it('a request after another (other data, other step count) behaves as if run alone', () => {
        runRequest(method, { taus: taus50, seeds: [5, 6, 7] });
        sameRun(runRequest(method, { taus: taus20, seeds: [1, 2] }), both, 0, 0, 'after a 50-step request');
        const alone50 = runRequest(method, { taus: taus50, seeds: [1] });
        runRequest(method, { taus: taus20, seeds: [1] });
        sameRun(runRequest(method, { taus: taus50, seeds: [1] }), alone50, 0, 0, 'after a 20-step request');
      });

      it('every output is finite', () => {
        for (const branch of Object.keys(both.runs)) {
          for (const run of both.runs[branch]) for (const o of run.outputs) assert.ok(o.every(Number.isFinite), `${label}: non-finite output`);
        }
      });

      it('changes nothing before its first skipped step, and step 0 always computes', () => {
        const run = both.runs.cond[0];
        assert.equal(run.decisions[0].compute, true, 'step 0 has no history and must compute');
        const firstSkip = run.decisions.findIndex((d) => !d.compute);
        const upTo = firstSkip < 0 ? run.outputs.length : firstSkip;
        for (let s = 0; s < upTo; s++) assert.deepEqual(run.outputs[s], none20.runs.cond[0].outputs[s], `step ${s} differs from uncached`);
      });

      it('decisions carry a known reason', () => {
        const reasons = new Set(['always', 'warmup', 'final', 'schedule', 'tsi', 'teacache', 'fbcache', 'max-skips', 'history', 'nan-fallback']);
        for (const d of both.runs.cond[0].decisions) assert.ok(reasons.has(d.reason), `unknown reason ${d.reason}`);
      });

      it('CFG branches are independent: an uncond branch beside cond does not change cond', () => {
        // With guidance 1 the latent follows cond only, so cond must not notice uncond's state.
        const pair = runRequest(method, { taus: taus20, seeds: [3], guidance: 1 });
        const condOnly = runRequest(method, { taus: taus20, seeds: [3], guidance: 1, branches: ['cond'] });
        assert.deepEqual(pair.runs.cond[0].decisions, condOnly.runs.cond[0].decisions);
        pair.runs.cond[0].outputs.forEach((o, s) => assert.deepEqual(o, condOnly.runs.cond[0].outputs[s], `cond output at step ${s}`));
      });

      if (method.name === 'none') {
        it('never skips', () => {
          for (const branch of Object.keys(both.runs)) {
            for (const run of both.runs[branch]) {
              assert.equal(run.computedSteps.length, 20);
              assert.equal(run.predictedSections, 0);
            }
          }
          assert.equal(both.bytesHeldAtEnd, 0);
        });
      } else {
        it('skips on the smooth fake trajectory, and the result then differs from uncached', () => {
          const run = both.runs.cond[0];
          assert.ok(run.predictedSections > 0, `${label} predicted nothing in 20 steps`);
          assert.notDeepEqual(both.finals[0], none20.finals[0]);
          assert.ok(both.bytesHeldAtEnd > 0, 'a skipping method holds history');
        });
      }
    });
  }
});

describe('historyOnlyForecast is declared only where predictions ignore their input', () => {
  const variants = listCacheMethods().flatMap((m) => m.presets.map((p) => createCacheMethod(m.name, p)));
  const declared = variants.filter((m) => m.historyOnlyForecast);
  it('raw-target TaylorSeer, FORA and TC-Padé (ours) declare it; residual forms do not', () => {
    const names = declared.map((m) => `${m.name}/${m.preset}`);
    for (const n of ['taylorseer/block-n4o2', 'taylorseer/n4o2', 'fora/lite-n3', 'tcpade/fast', 'tcpade/slow', 'tcpade/lite-fast']) assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    for (const n of ['tcpade/paper-fast', 'tcpade/paper-slow', 'tcpade/reference', 'delta-dit/n2', 'fora/n3']) assert.ok(!names.includes(n), `${n} must not declare it`);
  });

  for (const method of declared) {
    it(`${method.name}/${method.preset}: decisions and forecasts ignore xIn and the input, and a skipped forecast can be observed without output`, () => {
      const steps = 16;
      const taus = unevenTaus(steps);
      const sections = method.granularity === 'per-block' ? 3 : 1;
      const n = 5;
      // Two caches see the same computed outputs; the second gets other stack inputs and an xIn signal.
      const trace = (other: boolean): string[] => {
        const c = createRequestCache(method, { totalSteps: steps, taus, sections }, ['cond'], 1).get('cond', 0);
        const seen: string[] = [];
        for (let s = 0; s < steps; s++) {
          const step = { stepIndex: s, totalSteps: steps, tau: taus[s] };
          const d = c.decide(step, other ? { xIn: Float32Array.from({ length: n }, (_, i) => 7 * Math.cos(s * i)) } : {});
          seen.push(`${s}:${d.compute}`);
          for (let k = 0; k < sections; k++) {
            const actual = Float32Array.from({ length: n }, (_, i) => Math.sin(s + i + k));
            const input = other ? Float32Array.from(actual, (v) => 10 * v - 3) : actual;
            if (d.compute || d.computeSections?.[k]) {
              c.observe(step, k, input, Float32Array.from(actual, (v, i) => v + taus[s] * (i + 1) + k), true);
              continue;
            }
            const p = Float32Array.from(c.predict(step, k, input));
            seen.push(`${s}/${k}:${[...p].join(',')}`);
            c.observe(step, k, input, sections > 1 && k < sections - 1 ? undefined : p, false);
          }
        }
        return seen;
      };
      const a = trace(false);
      assert.ok(a.some((x) => x.includes('/')), 'the run must predict something');
      assert.deepEqual(trace(true), a);
    });
  }
});
