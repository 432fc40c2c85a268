// The other commands end to end on tiny inputs: calibrate teacache writes coefficients that generate
// then uses; eval reports metrics with provenance; train refuses to overwrite a run without --resume.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tcpade, writeTinyModel } from '../support/cli.js';

let tmp: string;
let modelDir: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-cmd-'));
  modelDir = writeTinyModel(path.join(tmp, 'tiny'), 5);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('tcpade calibrate / eval / train', () => {
  it('calibrate teacache stores a fitted polynomial beside the model, and generate uses it', async () => {
    const r = await tcpade('calibrate', 'teacache', '--model', modelDir, '--steps', '6,8', '--samples', '4', '--degree', '2', '--threads', '1');
    assert.equal(r.code, 0, r.stderr);
    const cal = JSON.parse(fs.readFileSync(path.join(modelDir, 'teacache.json'), 'utf8'));
    assert.equal(cal.coefficients.length, 3);
    assert.ok(cal.points === 4 * 2 * (5 + 7), `points ${cal.points}`); // rows × (steps − 1) per step count
    const g = await tcpade('generate', '--model', modelDir, '--steps', '6', '--classes', '2', '--per-class', '2', '--cache', 'teacache', '--threads', '1', '--no-progress', '--out', path.join(tmp, 'tc'));
    assert.equal(g.code, 0, g.stderr);
    const stats = JSON.parse(fs.readFileSync(path.join(tmp, 'tc', 'stats.json'), 'utf8'));
    assert.deepEqual(stats.settings.coefficients, cal.coefficients);
  });

  it('eval prints FID, the real-vs-real floor and class accuracy, and records provenance', async () => {
    const out = path.join(tmp, 'ev');
    const g = await tcpade('generate', '--model', modelDir, '--steps', '4', '--per-class', '1', '--threads', '1', '--no-progress', '--out', out);
    assert.equal(g.code, 0, g.stderr);
    const r = await tcpade('eval', out, '--threads', '1', '--json', path.join(tmp, 'ev.json'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /N = 10: FID [\d.]+ \(real-vs-real at the same N: [\d.]+, ratio [\d.]+×\), class accuracy [\d.]+ %/);
    const j = JSON.parse(fs.readFileSync(path.join(tmp, 'ev.json'), 'utf8'));
    assert.equal(j.n, 10);
    assert.equal(j.steps, 4);
    assert.ok(j.fid > 0 && j.fidReal > 0 && j.classAcc >= 0 && j.classAcc <= 1);
  });

  it('eval refuses a file without images', async () => {
    const r = await tcpade('eval', path.join(modelDir, 'model.safetensors'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /must hold "images" \[N, 1, 28, 28\] and "labels" \[N\]/);
  });

  it('train refuses to overwrite an existing run without --resume, and rejects a bad objective', async () => {
    const runDir = path.join(tmp, 'run');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'checkpoint.safetensors'), 'x');
    const r = await tcpade('train', '--config', 'mnist-dit-tiny', '--out', runDir);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /checkpoint\.safetensors exists: pass --resume/);
    const b = await tcpade('train', '--objective', 'score', '--out', path.join(tmp, 'r2'));
    assert.match(b.stderr, /--objective must be eps or flow/);
  });
});
