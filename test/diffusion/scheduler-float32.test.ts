// The float32 β schedules diffusers builds with torch: linspace as each torch CPU kernel fills it (values seen in
// torch 1.13's AVX2 and AVX512 builds), ᾱ by torch's float64-accumulated cumprod.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffusersSchedule, linearBetaSchedule, torchCumprodF32, torchLinspaceF32 } from '../../src/diffusion/index.js';

const f32 = Math.fround;

describe('torchLinspaceF32', () => {
  it('torch ≥ 2.0: start + step·i (first half) and end − step·(n−1−i) (second half), each rounded once', () => {
    const [start, end] = [f32(0.0001), f32(0.02)];
    const step = f32(f32(end - start) / 999);
    const betas = torchLinspaceF32(0.0001, 0.02, 1000, 'torch2');
    for (const i of [0, 7, 14, 499]) assert.equal(betas[i], f32(start + step * i), `β_${i}`); // step·i is exact in float64
    for (const i of [500, 777, 999]) assert.equal(betas[i], f32(end - step * (999 - i)), `β_${i}`);
    assert.equal(betas[999], end);
  });

  it("torch 1.x: vectors of 8 (AVX2) or 16 (AVX512) floats, base + fround(j·step), as torch 1.13 returned them", () => {
    // torch.linspace(0.0001, 0.02, 1000, dtype=torch.float32)[7] in torch 1.13 (both builds) and torch ≥ 2.0's value
    assert.equal(torchLinspaceF32(0.0001, 0.02, 1000, 'torch1-avx2')[7], 0.00023943945416249335);
    assert.equal(torchLinspaceF32(0.0001, 0.02, 1000, 'torch1-avx512')[7], 0.00023943945416249335);
    assert.equal(torchLinspaceF32(0.0001, 0.02, 1000, 'torch2')[7], 0.00023943943961057812);
    // a vector of 8 starts at 8: both fill index 8 from its own base, so they agree there
    assert.equal(torchLinspaceF32(0.0001, 0.02, 1000, 'torch1-avx2')[8], torchLinspaceF32(0.0001, 0.02, 1000, 'torch2')[8]);
  });

  it('stays within an ulp of the float64 linspace and keeps both ends', () => {
    const exact = linearBetaSchedule().betas; // numpy.linspace in float64
    for (const kernel of ['torch2', 'torch1-avx2', 'torch1-avx512'] as const) {
      const b = torchLinspaceF32(0.0001, 0.02, 1000, kernel);
      assert.equal(b[0], f32(0.0001));
      assert.equal(b[999], f32(0.02));
      b.forEach((v, i) => assert.ok(Math.abs(v - exact[i]!) <= 2 * 2 ** -23 * exact[i]!, `${kernel} β_${i}`));
    }
  });
});

describe('diffusersSchedule', () => {
  it('ᾱ = cumprod(1 − β) accumulated in float64 and rounded per entry, as torch.cumprod on the CPU', () => {
    assert.deepEqual(Array.from(torchCumprodF32([f32(0.9), f32(0.8), f32(0.5)])), [f32(0.9), f32(f32(0.9) * f32(0.8)), f32(f32(0.9) * f32(0.8) * 0.5)]);
    // DDIMScheduler(beta_schedule="linear").alphas_cumprod[[0, 499, 999]] in torch 1.13 (AVX2 build)
    const avx2 = diffusersSchedule({ trainSteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', torchLinspace: 'torch1-avx2' });
    assert.deepEqual([0, 499, 999].map((t) => avx2.alphasCumprod[t]), [0.9998999834060669, 0.07858724147081375, 4.0358307160204276e-5]);
    const avx512 = diffusersSchedule({ trainSteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', torchLinspace: 'torch1-avx512' });
    assert.deepEqual([499, 999].map((t) => avx512.alphasCumprod[t]), [0.07858722656965256, 4.035830352222547e-5]);
    // Stable Diffusion's scaled_linear 0.00085 … 0.012
    const sd = diffusersSchedule({ trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', torchLinspace: 'torch1-avx2' });
    assert.deepEqual([sd.alphasCumprod[0], sd.alphasCumprod[999]], [0.9991499781608582, 0.0046600960195064545]);
  });

  it('is within float32 rounding of the float64 schedule', () => {
    const f64 = linearBetaSchedule().alphasCumprod;
    const s = diffusersSchedule({ trainSteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' });
    s.alphasCumprod.forEach((a, t) => assert.ok(Math.abs(a / f64[t]! - 1) < 2e-6, `ᾱ_${t}: ${a} vs ${f64[t]}`));
    assert.ok(s.betas.every((b) => b === f32(b)) && s.alphasCumprod.every((a) => a === f32(a)), 'float32 values');
  });

  it('rounds trained betas and the cosine schedule (computed in float64) to float32', () => {
    assert.deepEqual(Array.from(diffusersSchedule({ trainSteps: 2, betaStart: 0, betaEnd: 0, betaSchedule: 'linear', trainedBetas: [0.1, 0.2] }).betas), [f32(0.1), f32(0.2)]);
    const cos = diffusersSchedule({ trainSteps: 4, betaStart: 0, betaEnd: 0, betaSchedule: 'squaredcos_cap_v2' });
    assert.deepEqual(Array.from(cos.betas), [0.1529878386730953, 0.41695808751199426, 0.7078587123971634, 0.999].map(f32));
    assert.throws(() => diffusersSchedule({ trainSteps: 2, betaStart: 0, betaEnd: 0, betaSchedule: 'linear', trainedBetas: [0.5, 1] }), /beta\[1\] = 1 is not in \(0, 1\)/);
  });
});
