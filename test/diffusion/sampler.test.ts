// The common sampler face the pipeline drives: plans from specs, one stepper per request, the plain loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiffusionShapeError, createPlan, createSampler, ddimPlan, ddimStep, linearBetaSchedule, sampleLoop } from '../../src/diffusion/index.js';

describe('createPlan / createSampler', () => {
  it('builds each kind from a spec with the documented defaults', () => {
    const ddim = createPlan({ kind: 'ddim', steps: 20 });
    assert.equal(ddim.kind, 'ddim');
    assert.equal(ddim.timesteps[0], 950); // leading
    const dpm = createPlan({ kind: 'dpmpp-2m', steps: 20 });
    assert.equal(dpm.timesteps[0], 999); // linspace
    const flow = createPlan({ kind: 'flow-euler', steps: 20, shift: 3 });
    assert.equal(flow.kind === 'flow-euler' && flow.sigmas.length, 21);
    for (const plan of [ddim, dpm, flow]) {
      assert.equal(plan.timesteps.length, 20);
      assert.equal(plan.stepDistances.length, 20);
      assert.ok(plan.stepDistances.every((d) => d > 0));
    }
  });

  it('only the DPM-Solver sampler carries state, fresh per sampler', () => {
    assert.equal(createSampler(createPlan({ kind: 'ddim', steps: 4 })).state, null);
    const dpm = createSampler(createPlan({ kind: 'dpmpp-2m', steps: 4 }));
    assert.deepEqual(dpm.state, { prevX0: null, prevStepIndex: -1 });
  });

  it('the loop passes the plan timesteps and step indices to the model, in order', async () => {
    const plan = ddimPlan(linearBetaSchedule(), 5, { spacing: 'trailing' });
    const seen: [number, number][] = [];
    const x = Float32Array.of(0.5, -0.5);
    const eps = Float32Array.of(0.1, 0.2);
    const out = await sampleLoop(createSampler(plan), x, async (_x, s, t) => {
      seen.push([s, t]);
      return eps;
    });
    assert.deepEqual(seen, [[0, 999], [1, 799], [2, 599], [3, 399], [4, 199]]);
    let ref: Float32Array = x;
    for (let s = 0; s < 5; s++) ref = ddimStep(plan, s, ref, eps);
    assert.deepEqual(out, ref);
  });

  it('rejects a model output of the wrong size', async () => {
    const sampler = createSampler(createPlan({ kind: 'flow-euler', steps: 2 }));
    await assert.rejects(sampleLoop(sampler, new Float32Array(4), async () => new Float32Array(3)), DiffusionShapeError);
  });
});
