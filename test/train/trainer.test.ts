// The trainer resumes bit-for-bit; AdamW, clipping, warm-up and EMA compute what their formulas say.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { namedConfig } from '../../src/models/dit/dit-config.js';
import { TrainOptions, train } from '../../src/train/trainer.js';
import { adamWStep, createAdamWState, emaUpdate, warmupLr, ADAMW_DEFAULTS } from '../../src/train/optimizer.js';

function options(outDir: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    config: namedConfig('mnist-dit-tiny'),
    objective: 'eps',
    outDir,
    steps: 6,
    batchSize: 4,
    lr: 1e-3,
    warmupSteps: 2,
    clipNorm: 1,
    emaDecay: 0.9,
    labelDropout: 0.25,
    weightDecay: 0.01,
    seed: 3,
    threads: 1,
    checkpointEvery: 3,
    logEvery: 1,
    ...extra,
  };
}

describe('trainer checkpoints', () => {
  it('a run stopped after 3 steps and resumed equals an uninterrupted 6-step run, bit for bit', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-train-'));
    try {
      const whole = await train(options(path.join(tmp, 'a')));
      await train(options(path.join(tmp, 'b'), { maxStepsThisRun: 3 }));
      assert.ok(fs.existsSync(path.join(tmp, 'b', 'checkpoint.safetensors')));
      const resumed = await train(options(path.join(tmp, 'b')));
      assert.equal(resumed.step, 6);
      assert.equal(whole.step, 6);
      for (const [k, v] of whole.params) assert.deepEqual(resumed.params.get(k), v, `param ${k} differs after resume`);
      for (const [k, v] of whole.ema) assert.deepEqual(resumed.ema.get(k), v, `EMA ${k} differs after resume`);
      // and the weights did move
      const changed = [...whole.params.values()].some((v) => v.some((x) => x !== 0));
      assert.ok(changed);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a stop signal mid-interval (step 4 of checkpoints every 3) writes a checkpoint that resumes bit for bit', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-train-'));
    try {
      const whole = await train(options(path.join(tmp, 'a')));
      const stop = new AbortController();
      const stopped = await train(options(path.join(tmp, 'b'), { stop: stop.signal }), { onStep: (p) => p.step === 4 && stop.abort() });
      assert.equal(stopped.step, 4);
      const resumed = await train(options(path.join(tmp, 'b')));
      assert.equal(resumed.step, 6);
      for (const [k, v] of whole.params) assert.deepEqual(resumed.params.get(k), v, `param ${k} differs after resume`);
      for (const [k, v] of whole.ema) assert.deepEqual(resumed.ema.get(k), v, `EMA ${k} differs after resume`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('refuses to resume with different data-affecting options', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-train-'));
    try {
      await train(options(tmp, { maxStepsThisRun: 1 }));
      await assert.rejects(() => train(options(tmp, { seed: 4 })), /different training options/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('AdamW, warm-up and EMA', () => {
  it('first AdamW step moves each weight by lr·sign(g) (bias-corrected), plus decoupled decay', () => {
    const p = new Map([['w', Float32Array.from([1, -2, 0.5])]]);
    const g = new Map([['w', Float32Array.from([0.3, -0.1, 0])]]);
    const s = createAdamWState(p);
    adamWStep(p, g, s, { ...ADAMW_DEFAULTS, weightDecay: 0.1 }, 0.01);
    const w = p.get('w')!;
    // m̂ = g, v̂ = g² → update = lr·g/(|g|+eps) ≈ lr·sign(g); decay multiplies by (1 − lr·wd) first
    assert.ok(Math.abs(w[0] - (1 * (1 - 0.001) - 0.01)) < 1e-6);
    assert.ok(Math.abs(w[1] - (-2 * (1 - 0.001) + 0.01)) < 1e-6);
    assert.ok(Math.abs(w[2] - 0.5 * (1 - 0.001)) < 1e-7);
  });

  it('clipping scales the gradient to the given global norm', () => {
    const run = (clip?: number): number => {
      const p = new Map([['w', Float32Array.from([0, 0])]]);
      const g = new Map([['w', Float32Array.from([3, 4])]]);
      const s = createAdamWState(p);
      const norm = adamWStep(p, g, s, ADAMW_DEFAULTS, 0.1, clip);
      assert.equal(norm, 5);
      return s.m.get('w')![0];
    };
    assert.ok(Math.abs(run() - 0.1 * 3) < 1e-6);
    assert.ok(Math.abs(run(1) - 0.1 * 0.6) < 1e-6);
  });

  it('warm-up is linear then constant; EMA mixes by its decay', () => {
    assert.equal(warmupLr(0, 1, 4), 0.25);
    assert.equal(warmupLr(3, 1, 4), 1);
    assert.equal(warmupLr(10, 1, 4), 1);
    const e = new Map([['w', Float32Array.from([1])]]);
    emaUpdate(e, new Map([['w', Float32Array.from([3])]]), 0.75);
    assert.equal(e.get('w')![0], 1.5);
  });
});

describe('trainer initialisation from a model', () => {
  it('starts from the given weights and records their origin in the resume fingerprint', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-train-'));
    try {
      const init = (await train(options(path.join(tmp, 'a'), { maxStepsThisRun: 2 }))).ema;
      const zeroSteps = await train(options(path.join(tmp, 'b'), { initWeights: init, initFrom: 'a', maxStepsThisRun: 0 }));
      for (const [k, v] of init) assert.deepEqual(zeroSteps.params.get(k), v, `param ${k} not taken from the init weights`);
      await assert.rejects(() => train(options(path.join(tmp, 'b'))), /different training options/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
