// The page's URL request: the example parses to what it says, empty values mean the CLI's defaults,
// bad values are refused naming the parameter, and a request survives the round trip through the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_REQUEST, RequestError, parseRequestParams, requestToParams } from '../../web/src/request.js';
import { cacheChoice } from '../../web/src/engine/generate-options.js';

const parse = (q: string) => parseRequestParams(new URLSearchParams(q));

test("the issue's example URL", () => {
  const { request, page } = parse('?model=mnist-dit&classes=0,7&perClass=1&steps=20&sampler=&cfg=&seed=0&cache=tcpade&preset=fast&run=1');
  assert.deepEqual(request, { model: 'mnist-dit', weights: 'fp32', classes: '0,7', perClass: 1, steps: 20, sampler: undefined, cfg: undefined, seed: 0, cache: 'tcpade', preset: 'fast' });
  assert.deepEqual(page, { backend: 'auto', threads: undefined, run: true, compare: false });
});

test('defaults: ours fast; another method takes its own default preset; an empty preset is the default', () => {
  assert.deepEqual(parse('').request, { ...DEFAULT_REQUEST, classes: undefined, sampler: undefined, cfg: undefined });
  assert.equal(parse('?cache=fora').request.preset, undefined);
  assert.equal(parse('?cache=tcpade&preset=').request.preset, undefined);
  assert.equal(cacheChoice(parse('?cache=tcpade&preset=').request, undefined).label, 'tcpade/fast');
  assert.equal(cacheChoice(parse('?cache=fora').request, undefined).label, 'fora/n3');
  assert.equal(cacheChoice(parse('?cache=fewer-steps&preset=x3&steps=21').request, undefined).label, 'fewer-steps (7 of 21)');
  assert.equal(cacheChoice(parse('?cache=none').request, undefined).method, undefined);
  const tea = cacheChoice(parse('?cache=teacache&preset=fast').request, [0.5, 2]);
  assert.deepEqual(tea.method?.settings.coefficients, [0.5, 2]);
});

test('bad values are refused with the parameter and what it takes', () => {
  const cases: [string, RegExp][] = [
    ['?steps=0', /^steps must be an integer in \[1, 1000\], got "0"$/],
    ['?steps=2.5', /^steps must be an integer/],
    ['?perClass=-1', /^perClass must be an integer in \[1, 32\]/],
    ['?seed=x', /^seed must be an integer/],
    ['?cfg=-1', /^cfg must be a number in \[0, 100\]/],
    ['?sampler=euler', /^sampler must be one of ddim, dpmpp-2m, ddpm, flow-euler/],
    ['?weights=int8', /^weights must be fp32 or fp16/],
    ['?backend=webgl', /^backend must be auto, wasm or webgpu/],
    ['?threads=0', /^threads must be an integer in \[1, 16\]/],
    ['?run=yes', /^run must be 1 or 0/],
    ['?stepz=3&foo=1', /^unknown parameters "stepz", "foo"/],
  ];
  for (const [q, re] of cases) assert.throws(() => parse(q), (e: Error) => e instanceof RequestError && re.test(e.message), q);
  assert.throws(() => cacheChoice(parse('?cache=tcpade&preset=fastest').request, undefined), /cache method 'tcpade': unknown preset 'fastest'; valid presets: .*fast/);
  assert.throws(() => cacheChoice(parse('?cache=tcpad').request, undefined), /unknown cache method 'tcpad'; valid methods/);
  assert.throws(() => cacheChoice(parse('?cache=fewer-steps&preset=half').request, undefined), /fewer-steps presets are x2/);
});

test('a request round-trips through its URL', () => {
  const r = parse('?model=mnist-dit-flow&weights=fp16&classes=3,4&perClass=2&steps=30&sampler=flow-euler&cfg=1.25&seed=7&cache=teacache&preset=slow').request;
  const again = parseRequestParams(requestToParams(r, { backend: 'wasm', threads: 1 }));
  assert.deepEqual(again.request, r);
  assert.deepEqual(again.page, { backend: 'wasm', threads: 1, run: false, compare: false });
});
