// samplerFromSchedulerConfig against diffusers itself: timesteps, σ and every step's output as diffusers'
// schedulers return them (test/fixtures/diffusers-schedulers, written by scripts/diffusers-scheduler-golden.py).
// FlowMatchEuler and DDIM are float32 ops without transcendentals: they must match bit for bit. UniPC and
// DPM-Solver also take log/exp of float32 values, which torch's vector math library rounds within an ulp
// rather than correctly; here they are correctly rounded, so those steps agree to a few float32 ulps.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { samplerFromSchedulerConfig } from '../../src/diffusion/index.js';
import type { FlowSigmaSource, TorchLinspaceKernel } from '../../src/diffusion/index.js';

interface GoldenCase {
  config: Record<string, unknown>;
  steps: number;
  image_seq_len?: number;
  mu?: number;
  flow_sigmas?: 'scheduler';
  eta?: number;
  x0: number[];
  timesteps: number[];
  sigmas: number[] | null;
  trace: { model_output: number[]; prev_sample: number[]; noise?: number[] }[];
}

const golden = JSON.parse(fs.readFileSync(new URL('../fixtures/diffusers-schedulers/golden.json', import.meta.url), 'utf8')) as {
  torch_linspace: TorchLinspaceKernel;
  cases: GoldenCase[];
};

function describeCase(c: GoldenCase): string {
  const keys = ['shift', 'flow_shift', 'use_dynamic_shifting', 'time_shift_type', 'timestep_spacing', 'beta_schedule', 'clip_sample', 'final_sigmas_type', 'lower_order_final', 'disable_corrector', 'solver_order'];
  const shown = keys.filter((k) => k in c.config).map((k) => `${k}=${JSON.stringify(c.config[k])}`);
  const extra = [c.image_seq_len && `imageSeqLen=${c.image_seq_len}`, c.mu && `μ=${c.mu}`, c.eta && `η=${c.eta}`].filter(Boolean);
  return `${String(c.config['_class_name'])} N=${c.steps} ${[...shown, ...extra].join(' ')}`;
}

/** Largest |a − b| / max(1, |b|) over one step's values. */
function relativeError(a: ArrayLike<number>, b: readonly number[]): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

describe('samplerFromSchedulerConfig matches diffusers', () => {
  for (const c of golden.cases) {
    it(describeCase(c), () => {
      let stepNo = 0;
      const s = samplerFromSchedulerConfig(c.config, {
        steps: c.steps,
        imageSeqLen: c.image_seq_len,
        mu: c.mu,
        flowSigmas: c.flow_sigmas as FlowSigmaSource | undefined,
        eta: c.eta,
        noise: () => Float32Array.from(c.trace[stepNo]!.noise!),
        torchLinspace: golden.torch_linspace,
      });
      assert.deepEqual(s.timesteps, c.timesteps, 'timesteps');
      assert.deepEqual(s.sigmas, c.sigmas, 'sigmas');
      const exact = s.className === 'FlowMatchEulerDiscreteScheduler' || s.className === 'DDIMScheduler';
      let x = Float32Array.from(c.x0);
      for (stepNo = 0; stepNo < c.trace.length; stepNo++) {
        const { model_output, prev_sample } = c.trace[stepNo]!;
        const out = s.step(Float32Array.from(model_output), stepNo, x);
        if (exact) assert.deepEqual(Array.from(out), prev_sample, `step ${stepNo}`);
        else assert.ok(relativeError(out, prev_sample) < 1e-6, `step ${stepNo}: relative error ${relativeError(out, prev_sample)}`);
        x = Float32Array.from(prev_sample); // each step from diffusers' own x, so a step's error does not carry over
      }
    });
  }

  it('covers every scheduler class and the FLUX, SD3, Wan and DDIM/DPM spacings', () => {
    const classes = new Set(golden.cases.map((c) => c.config['_class_name']));
    assert.deepEqual([...classes].sort(), ['DDIMScheduler', 'DPMSolverMultistepScheduler', 'FlowMatchEulerDiscreteScheduler', 'UniPCMultistepScheduler']);
    const spacings = (cls: string, fallback: string) =>
      [...new Set(golden.cases.filter((c) => c.config['_class_name'] === cls).map((c) => c.config['timestep_spacing'] ?? fallback))].sort();
    assert.deepEqual(spacings('DDIMScheduler', 'leading'), ['leading', 'linspace', 'trailing']);
    assert.deepEqual(spacings('DPMSolverMultistepScheduler', 'linspace'), ['leading', 'linspace', 'trailing']);
  });
});
