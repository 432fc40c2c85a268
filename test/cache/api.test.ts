// The registry, settings and request container as the CLI and pipeline use them: clear errors naming
// valid choices, CLI-style string overrides, protocol misuse caught with actionable messages.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CacheConfigError,
  CachePredictionError,
  CacheUsageError,
  createCacheMethod,
  createRequestCache,
  describeCacheMethod,
  listCacheMethods,
} from '../../src/cache/index.js';

describe('registry', () => {
  it('lists every method with its presets and default', () => {
    const byName = new Map(listCacheMethods().map((m) => [m.name, m]));
    assert.deepEqual([...byName.keys()].sort(), ['delta-dit', 'fbcache', 'fora', 'none', 'taylorseer', 'tcpade', 'teacache']);
    const tc = byName.get('tcpade')!;
    assert.deepEqual([...tc.presets].sort(), ['fast', 'lite-fast', 'lite-slow', 'paper-fast', 'paper-slow', 'reference', 'slow']);
    assert.equal(tc.defaultPreset, 'fast');
    assert.equal(createCacheMethod('tcpade', 'lite-fast').granularity, 'output');
    assert.equal(createCacheMethod('tcpade', 'fast').granularity, 'stack');
    assert.equal(createCacheMethod('tcpade').preset, 'fast');
  });

  it('unknown method / preset / setting: CacheConfigError listing the valid ones', () => {
    assert.throws(() => createCacheMethod('tcpadé'), (e: unknown) => e instanceof CacheConfigError && /valid methods: none, fora/.test(e.message));
    assert.throws(() => createCacheMethod('tcpade', 'turbo'), (e: unknown) => e instanceof CacheConfigError && /paper-fast/.test(e.message) && /reference/.test(e.message));
    assert.throws(
      () => createCacheMethod('tcpade', 'reference', { extrapolation: 'linear' }),
      (e: unknown) => e instanceof CacheConfigError && /unknown setting 'extrapolation'/.test(e.message) && /driftFactor/.test(e.message),
    );
  });

  it('overrides arrive as CLI strings and are typed; bad values name key, expected and actual', () => {
    const m = createCacheMethod('tcpade', 'fast', { theta: '0.5', interval: '3', intervalMode: 'since-compute' });
    assert.equal(m.settings.theta, 0.5);
    assert.equal(m.settings.interval, 3);
    assert.equal(createCacheMethod('tcpade', 'reference', { appendPredicted: 'false' }).settings.appendPredicted, false);
    assert.deepEqual(createCacheMethod('teacache', 'slow', { coefficients: [1, 2] }).settings.coefficients, [1, 2]);
    assert.throws(() => createCacheMethod('tcpade', 'fast', { interval: '2.5' }), /'interval'.*expected an integer, got 2.5/);
    assert.throws(() => createCacheMethod('tcpade', 'fast', { theta: 'abc' }), /'theta'.*expected a finite number/);
    assert.throws(() => createCacheMethod('tcpade', 'fast', { theta: 3 }), /'theta'.*expected ≤ 2, got 3/);
    assert.throws(() => createCacheMethod('tcpade', 'fast', { spacing: 'sigma' }), /expected one of none, step, tau/);
    assert.throws(() => createCacheMethod('teacache', 'slow', { coefficients: '1,,2' }), /'coefficients'.*finite numbers/);
  });

  it('presets set what they say and every constant is visible in settings', () => {
    const paper = createCacheMethod('tcpade', 'paper-fast');
    assert.deepEqual([paper.settings.extrapolation, paper.settings.spacing, paper.settings.interval, paper.settings.theta], ['paper', 'none', 4, 0.9]);
    const ours = createCacheMethod('tcpade', 'fast');
    assert.deepEqual(
      [ours.settings.extrapolation, ours.settings.spacing, ours.settings.damping, ours.settings.finalSteps, ours.settings.interval],
      ['auto-blend', 'tau', 'none', 0, 4],
    );
    assert.equal(createCacheMethod('tcpade', 'slow').settings.interval, 3);
    const rows = describeCacheMethod('tcpade', 'reference');
    assert.ok(rows.some((r) => r.key === 'driftFactor' && r.value === 0.2 && r.doc.length > 0));
    assert.equal(createCacheMethod('taylorseer', 'block-n4o4').granularity, 'per-block');
    assert.equal(createCacheMethod('fora', 'lite-n3').granularity, 'output');
  });
});

describe('request cache and protocol', () => {
  const taus = [0.9, 0.7, 0.5, 0.3];
  const step = (s: number) => ({ stepIndex: s, totalSteps: 4, tau: taus[s] });

  it('one independent SampleCache per (branch, sample); unknown ones are an error', () => {
    const rc = createRequestCache(createCacheMethod('fora', 'n2'), { totalSteps: 4, taus, sections: 1 }, ['cond', 'uncond'], 2);
    assert.notEqual(rc.get('cond', 0), rc.get('cond', 1));
    assert.notEqual(rc.get('cond', 0), rc.get('uncond', 0));
    assert.equal(rc.get('cond', 1), rc.get('cond', 1));
    assert.throws(() => rc.get('neg', 0), /unknown branch 'neg'; this request has cond, uncond/);
    assert.throws(() => rc.get('cond', 2), /sample index 2 out of range \[0, 1\]/);
    assert.throws(() => createRequestCache(createCacheMethod('none'), { totalSteps: 4, taus, sections: 1 }, ['a', 'a'], 1), /distinct/);
  });

  it('bytesHeld sums the history of every sample', () => {
    const rc = createRequestCache(createCacheMethod('fora', 'n2'), { totalSteps: 4, taus, sections: 1 }, ['cond'], 2);
    assert.equal(rc.bytesHeld(), 0);
    for (const n of [0, 1]) {
      const c = rc.get('cond', n);
      c.decide(step(0), {});
      c.observe(step(0), 0, new Float32Array(10), new Float32Array(10), true);
    }
    assert.equal(rc.bytesHeld(), 2 * 10 * 4);
  });

  it('rejects schedules that cannot be extrapolated over and sections that do not match the granularity', () => {
    const m = createCacheMethod('tcpade');
    assert.throws(() => createRequestCache(m, { totalSteps: 3, taus: [0.9, 0.9, 0.1], sections: 1 }, ['cond'], 1), /strictly monotone/);
    assert.throws(() => createRequestCache(m, { totalSteps: 3, taus: [0.9, 0.5], sections: 1 }, ['cond'], 1), /expected 3, got 2/);
    assert.throws(() => createRequestCache(m, { totalSteps: 3, taus: [0.9, 0.5, 0.1], sections: 4 }, ['cond'], 1), /exactly 1 section/);
  });

  it('catches calls out of protocol with the step and section named', () => {
    const c = createRequestCache(createCacheMethod('fora', 'n2'), { totalSteps: 4, taus, sections: 1 }, ['cond'], 1).get('cond', 0);
    const x = new Float32Array(3);
    assert.throws(() => c.observe(step(0), 0, x, x, true), /before decide/);
    assert.throws(() => c.decide({ stepIndex: 0, totalSteps: 20, tau: 0.9 }, {}), /created for 4/);
    assert.throws(() => c.decide({ stepIndex: 0, totalSteps: 4, tau: 0.8 }, {}), /tau = 0.8/);
    c.decide(step(0), {});
    assert.throws(() => c.predict(step(0), 0, x), (e: unknown) => e instanceof CacheUsageError && /decision was to compute/.test(e.message));
    assert.throws(() => c.decide(step(1), {}), /section 0 was never observed/);
    c.observe(step(0), 0, x, x, true);
    assert.throws(() => c.observe(step(0), 0, x, x, true), /observe called twice/);
    assert.throws(() => c.decide(step(0), {}), /steps must increase/);
    assert.equal(c.decide(step(1), {}).compute, false);
    assert.throws(() => c.predict(step(1), 0, new Float32Array(5)), /has 5 elements, earlier steps had 3/);
  });

  it('a non-finite prediction throws CachePredictionError (the pipeline computes instead)', () => {
    const c = createRequestCache(createCacheMethod('fora', 'n2'), { totalSteps: 4, taus, sections: 1 }, ['cond'], 1).get('cond', 0);
    c.decide(step(0), {});
    c.observe(step(0), 0, Float32Array.of(0), Float32Array.of(1), true);
    c.decide(step(1), {});
    assert.throws(
      () => c.predict(step(1), 0, Float32Array.of(Infinity)),
      (e: unknown) => e instanceof CachePredictionError && e.stepIndex === 1 && e.section === 0,
    );
    // The pipeline then computes and reports it as computed; the cache accepts that.
    c.observe(step(1), 0, Float32Array.of(0), Float32Array.of(2), true);
    assert.equal(c.decide(step(2), {}).reason, 'schedule');
  });
});
