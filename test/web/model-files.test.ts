// The loader interface: a model folder reached through ModelFiles as the browser reaches it (every file held
// in memory, safetensors parsed whole) loads the same model as the local folder in Node — the same samples
// bit for bit — and Node's loadDenoiser sends the shipped models through that same loader. Half-precision
// weights (the web app's fp16 download) are widened to float32 on load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createCacheMethod } from '../../src/cache/index.js';
import { CheckpointError } from '../../src/io/errors.js';
import { toFloat16Bits } from '../../src/io/float16.js';
import type { ModelFiles } from '../../src/io/model-files.js';
import { encodeSafetensors, parseSafetensors, readSafetensorsSync, toFloat32, type StWritableTensor } from '../../src/io/safetensors.js';
import { loadDenoiser } from '../../src/models/load.js';
import { loadDenoiserFiles } from '../../src/models/load-files.js';
import { resolveModelPath } from '../../src/models/shipped.js';
import { generate } from '../../src/pipeline/generate.js';

/** ModelFiles over bytes in memory, as fetch hands them to the browser. */
function memoryFiles(location: string, files: Record<string, Uint8Array>): ModelFiles {
  return {
    location,
    where: (name) => `${location}/${name}`,
    has: async (name) => name in files,
    readText: async (name) => new TextDecoder().decode(files[name]),
    readSafetensors: async (name) => parseSafetensors(files[name], `${location}/${name}`),
  };
}

const dir = resolveModelPath('mnist-dit');
const read = (f: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(dir, f)));

test('a model folder in memory samples exactly what the local folder samples', async () => {
  const local = await loadDenoiser(dir, { threads: 1 });
  const remote = await loadDenoiserFiles(memoryFiles('https://example.test/models/mnist-dit', { 'config.json': read('config.json'), 'model.safetensors': read('model.safetensors') }), { threads: 1 });
  try {
    assert.equal(remote.objective, local.objective);
    assert.deepEqual(remote.latentShape, local.latentShape);
    const run = (m: typeof local) => generate(m, { labels: [3, 8], seed: 5, steps: 6, sampler: 'ddim', cfgScale: 1.5, cache: createCacheMethod('tcpade', 'fast') });
    const [a, b] = [await run(local), await run(remote)];
    assert.deepEqual(b.samples, a.samples);
    assert.deepEqual(b.stats.perStep, a.stats.perStep);
  } finally {
    await local.release();
    await remote.release();
  }
});

test('fp16 weights load as float32 (the rounded values), and a folder without what it needs is named', async () => {
  const { tensors } = readSafetensorsSync(path.join(dir, 'model.safetensors'));
  const half: Record<string, StWritableTensor> = {};
  for (const [k, t] of tensors) half[k] = { dtype: 'F16', shape: t.shape, data: toFloat16Bits(toFloat32(t)) };
  const files = memoryFiles('mem', { 'config.json': read('config.json'), 'model.safetensors': encodeSafetensors(half) });
  const m = await loadDenoiserFiles(files, { threads: 1 });
  const w = (m as unknown as { weights: { get(k: string): Float32Array | undefined } }).weights.get('blocks.0.attn.qkv.weight')!;
  const expected = toFloat32({ dtype: 'F16', shape: [w.length], data: new Uint8Array(toFloat16Bits(toFloat32(tensors.get('blocks.0.attn.qkv.weight')!)).buffer) });
  assert.deepEqual(w, expected);
  await m.release();

  await assert.rejects(loadDenoiserFiles(memoryFiles('mem', { 'model.safetensors': read('model.safetensors') })), (e: Error) => e instanceof CheckpointError && /^mem\/config\.json: does not exist/.test(e.message));
  await assert.rejects(loadDenoiserFiles(memoryFiles('mem', { 'config.json': read('config.json') })), (e: Error) => e instanceof CheckpointError && /^mem: is not a model folder that loads without a file system\. Supported: DiTTransformer2DModel/.test(e.message));
});
