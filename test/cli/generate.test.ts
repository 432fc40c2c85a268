// `tcpade generate` end to end on a tiny random-weights model folder: writes its three files
// atomically, is deterministic for a seed, and refuses bad arguments with a specific message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensorsSync, toFloat32, toInt64Numbers } from '../../src/io/safetensors.js';
import { tcpade, writeTinyModel } from '../support/cli.js';

let tmp: string;
let modelDir: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-cli-'));
  modelDir = writeTinyModel(path.join(tmp, 'tiny'), 3);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('tcpade generate', () => {
  it('writes grid.png, samples.safetensors and stats.json, deterministically for a seed', async () => {
    const outs = [path.join(tmp, 'a'), path.join(tmp, 'b')];
    for (const out of outs) {
      const r = await tcpade('generate', '--model', modelDir, '--steps', '6', '--classes', '1,4', '--per-class', '2', '--cache', 'tcpade', '--seed', '9', '--threads', '1', '--no-progress', '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /tcpade\/fast: computed [\d.]+\/6 steps.*fewer block FLOPs/);
    }
    const [a, b] = outs.map((o) => readSafetensorsSync(path.join(o, 'samples.safetensors')).tensors);
    assert.deepEqual(a.get('images')!.shape, [4, 1, 28, 28]);
    assert.deepEqual(toInt64Numbers(a.get('labels')!), [1, 1, 4, 4]);
    const ia = toFloat32(a.get('images')!);
    assert.ok(ia.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(ia, toFloat32(b.get('images')!));
    const png = fs.readFileSync(path.join(outs[0], 'grid.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    const stats = JSON.parse(fs.readFileSync(path.join(outs[0], 'stats.json'), 'utf8'));
    assert.equal(stats.perStep.length, 6 * 2); // 6 steps × (cond, uncond)
    assert.ok(stats.perStep.every((p: { decisions: { reason: string }[] }) => p.decisions.every((d) => typeof d.reason === 'string')));
    assert.equal(fs.readdirSync(outs[0]).filter((f) => f.includes('.tmp')).length, 0);
  });

  const bad: [string[], RegExp][] = [
    [['--steps', '0'], /--steps.*expected an integer in \[1, 10000\], got "0"/],
    [['--classes', '3,12'], /class 12 is out of range: this model has classes 0 … 9/],
    [['--cache', 'magic'], /unknown cache method 'magic'.*valid methods/],
    [['--cache', 'tcpade', '--preset', 'warp'], /warp/],
    [['--threads', '64'], /--threads.*expected an integer in \[1, \d+\]/],
    [['--sampler', 'flow-euler'], /does not fit a model trained with the eps objective/],
  ];
  for (const [args, msg] of bad) {
    it(`refuses ${args.join(' ')}`, async () => {
      const r = await tcpade('generate', '--model', modelDir, '--out', path.join(tmp, 'x'), '--no-progress', ...args);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, msg);
    });
  }

  it('an unreadable model names the file and the problem', async () => {
    const broken = path.join(tmp, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'model.safetensors'), Buffer.from('not a safetensors file at all'));
    fs.copyFileSync(path.join(modelDir, 'config.json'), path.join(broken, 'config.json'));
    const r = await tcpade('generate', '--model', broken, '--out', path.join(tmp, 'y'), '--no-progress');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /broken\/model\.safetensors/);
  });

  it('an unknown model name lists the shipped ones', async () => {
    const r = await tcpade('generate', '--model', 'no-such-model', '--out', path.join(tmp, 'z'), '--no-progress');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no model "no-such-model"/);
  });
});
