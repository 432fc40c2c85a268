// `tcpade serve` (embedded queue, engine thread) over real HTTP: a job gives the bytes `tcpade generate`
// writes for the same flags; concurrent requests share model batches and still get their own bytes;
// progress streams as Server-Sent Events; cancellation; the event loop stays responsive; every bad
// request is a 4xx with a message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tcpade } from '../support/cli.js';
import { getBytes, getJson, postJob, readEvents, startTestService, waitFinished, type TestService } from './support.js';

describe('tcpade serve (embedded)', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService();
  });
  after(() => t.close());

  it('a job gives the same grid.png, sample PNGs and samples.safetensors as `tcpade generate` with the same flags', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-serve-cli-'));
    const cli = await tcpade('generate', '--model', 'mnist-dit', '--classes', '1,2', '--per-class', '2', '--steps', '10', '--seed', '3', '--cache', 'tcpade', '--preset', 'fast', '--out', out, '--no-progress', '--threads', '1');
    assert.equal(cli.code, 0, cli.stderr);
    const post = await postJob(t.url, { model: 'mnist-dit', classes: [1, 2], perClass: 2, steps: 10, seed: 3, cache: { method: 'tcpade', preset: 'fast' } });
    assert.equal(post.status, 202);
    assert.equal(post.json.status, 'queued');
    assert.match(post.json.id as string, /^[0-9a-f-]{36}$/);
    const id = post.json.id as string;
    const job = await waitFinished(t.url, id);
    assert.equal(job.status, 'done', JSON.stringify(job));
    assert.deepEqual(job.progress, { step: 10, steps: 10 });
    for (const [route, file] of [['samples.safetensors', 'samples.safetensors'], ['grid.png', 'grid.png'], ['images/0.png', 'samples/000.png'], ['images/3.png', 'samples/003.png']]) {
      const got = await getBytes(`${t.url}/v1/jobs/${id}/${route}`);
      assert.equal(got.status, 200, route);
      assert.ok(got.bytes.equals(fs.readFileSync(path.join(out, file))), `${route} differs from the CLI's ${file}`);
    }
    const stats = (await getJson(`${t.url}/v1/jobs/${id}/stats.json`)).json;
    const cliStats = JSON.parse(fs.readFileSync(path.join(out, 'stats.json'), 'utf8'));
    assert.equal(stats.blockComputeRatio, cliStats.blockComputeRatio);
    assert.deepEqual(stats.perStep, cliStats.perStep);
  });

  it('concurrent requests with the same model, steps and method share one model batch, each with its own bytes', async () => {
    const reqs = [
      { model: 'mnist-dit', classes: [0], perClass: 2, steps: 8, seed: 1, cfg: 1.5, cache: { method: 'teacache', preset: 'fast' } },
      { model: 'mnist-dit', classes: [5, 6], perClass: 1, steps: 8, seed: 9, cfg: 3, cache: { method: 'teacache', preset: 'fast' } },
      { model: 'mnist-dit', classes: [7], perClass: 1, steps: 8, seed: 4, cfg: 1, cache: { method: 'teacache', preset: 'fast' } },
    ];
    // A job with another batch key keeps the engine busy, so the three wait in the queue together.
    const blocker = await postJob(t.url, { model: 'mnist-dit', classes: [9], perClass: 16, steps: 60 });
    const posted = await Promise.all(reqs.map((r) => postJob(t.url, r)));
    assert.ok(['queued', 'running'].includes((await getJson(`${t.url}/v1/jobs/${blocker.json.id as string}`)).json.status as string), 'the blocker finished before the others were queued');
    const jobs = await Promise.all(posted.map((p) => waitFinished(t.url, p.json.id as string)));
    for (const j of jobs) assert.equal(j.status, 'done');
    const batched = jobs.map((j) => (j.stats as { batch: { jobs: number; rows: number } }).batch);
    assert.deepEqual(batched.map((b) => b.jobs), [3, 3, 3], `batches: ${JSON.stringify(batched)}`);
    assert.equal(batched[0].rows, 4 + 4 + 1);
    // each alone, one at a time
    for (const [k, r] of reqs.entries()) {
      const alone = await postJob(t.url, r);
      const done = await waitFinished(t.url, alone.json.id as string);
      assert.equal((done.stats as { batch: { jobs: number } }).batch.jobs, 1);
      const a = await getBytes(`${t.url}/v1/jobs/${posted[k].json.id as string}/samples.safetensors`);
      const b = await getBytes(`${t.url}/v1/jobs/${alone.json.id as string}/samples.safetensors`);
      assert.ok(a.bytes.equals(b.bytes), `request ${k}: batched bytes differ from its run alone`);
    }
  });

  it('streams progress as Server-Sent Events and ends with done', async () => {
    const { json } = await postJob(t.url, { model: 'mnist-dit-flow', classes: [3], perClass: 1, steps: 6, cache: { method: 'fora' } });
    const events = await readEvents(`${t.url}/v1/jobs/${json.id as string}/events`);
    const names = events.map((e) => e.event);
    assert.equal(names.at(-1), 'done');
    const steps = events.filter((e) => e.event === 'progress').map((e) => e.data.step as number);
    assert.ok(steps.includes(6) && steps.every((s, i) => i === 0 || s >= steps[i - 1]), `progress ${steps}`);
    assert.deepEqual((events.at(-1)!.data.files as string[]).sort(), ['grid.png', 'images/0.png', 'samples.safetensors', 'stats.json']);
  });

  it('/healthz answers within 50 ms (99th percentile) while a job samples', async () => {
    const { json } = await postJob(t.url, { model: 'mnist-dit', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], perClass: 4, steps: 40 });
    const id = json.id as string;
    const latencies: number[] = [];
    for (;;) {
      const t0 = performance.now();
      const r = await fetch(`${t.url}/healthz`);
      latencies.push(performance.now() - t0);
      assert.equal(r.status, 200);
      const { json: j } = await getJson(`${t.url}/v1/jobs/${id}`);
      if (j.status === 'done') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(latencies.length >= 5, `only ${latencies.length} health checks during the job`);
    // Sampling on this event loop would hold every check for a whole step (tens to hundreds of ms); the
    // engine thread leaves it free. The 99th percentile is held to 50 ms so that one scheduling hiccup of a
    // shared 2-core VM does not decide the test, and no check may wait half a second.
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(0.99 * (sorted.length - 1))];
    assert.ok(p99 < 50, `99th percentile of /healthz ${p99.toFixed(1)} ms over ${sorted.length} checks`);
    assert.ok(sorted.at(-1)! < 500, `slowest /healthz ${sorted.at(-1)!.toFixed(1)} ms`);
  });

  it('DELETE cancels a waiting job and a running one; their outputs are gone and their streams end cancelled', async () => {
    const long = await postJob(t.url, { model: 'mnist-dit', classes: [1], perClass: 8, steps: 200 });
    const waiting = await postJob(t.url, { model: 'mnist-dit', classes: [2], perClass: 1, steps: 10, cache: { method: 'fora' } });
    const longId = long.json.id as string;
    // wait until the long job runs
    for (;;) {
      const { json } = await getJson(`${t.url}/v1/jobs/${longId}`);
      if (json.status === 'running' && (json.progress as { step: number }).step >= 2) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const { json: w } = await getJson(`${t.url}/v1/jobs/${waiting.json.id as string}`);
    assert.equal(w.status, 'queued');
    assert.equal(w.position, 0);
    const streamed = readEvents(`${t.url}/v1/jobs/${waiting.json.id as string}/events`);
    const del1 = await fetch(`${t.url}/v1/jobs/${waiting.json.id as string}`, { method: 'DELETE' });
    assert.equal(del1.status, 200);
    assert.equal(((await del1.json()) as { status: string }).status, 'cancelled');
    assert.equal((await streamed).at(-1)!.event, 'cancelled');
    const del2 = await fetch(`${t.url}/v1/jobs/${longId}`, { method: 'DELETE' });
    assert.equal(((await del2.json()) as { status: string }).status, 'cancelled');
    const files = await getBytes(`${t.url}/v1/jobs/${longId}/grid.png`);
    assert.equal(files.status, 409);
    // the engine stops the cancelled batch within a step: the next job starts and finishes promptly
    const next = await postJob(t.url, { model: 'mnist-dit', classes: [4], perClass: 1, steps: 4 });
    const t0 = Date.now();
    assert.equal((await waitFinished(t.url, next.json.id as string)).status, 'done');
    assert.ok(Date.now() - t0 < 10_000, `the next job took ${Date.now() - t0} ms`);
    const { json: cancelled } = await getJson(`${t.url}/v1/jobs/${longId}`);
    assert.ok((cancelled.progress as { step: number }).step < 200);
  });

  it('answers bad requests with a 4xx and a message, and stays up', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ model: 'nope' }, 404, /does not serve a model named "nope".*mnist-dit/],
      [{ model: 'mnist-dit', steps: 0 }, 400, /steps must be >= 1/],
      [{ model: 'mnist-dit', classes: [12] }, 400, /class 12 is out of range/],
      [{ model: 'mnist-dit', classes: ['cat'] }, 400, /no label names/],
      [{ model: 'mnist-dit', cache: { method: 'tcpade', preset: 'zzz' } }, 400, /unknown preset 'zzz'/],
      [{ model: 'mnist-dit', cache: { method: 'magic' } }, 400, /unknown cache method 'magic'/],
      [{ model: 'mnist-dit', cache: { method: 'tcpade', set: { theta: -3 } } }, 400, /theta/],
      [{ model: 'mnist-dit', sampler: 'flow-euler' }, 400, /does not fit model mnist-dit/],
      [{ model: 'mnist-dit', perClass: 100, classes: [1, 2, 3] }, 413, /at most 256/],
      [{ model: 'mnist-dit', colour: 'red' }, 400, /must NOT have additional properties/],
      [{ steps: 3 }, 400, /must have required property 'model'/],
    ];
    for (const [body, status, message] of cases) {
      const r = await postJob(t.url, body);
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
      assert.match(r.json.error as string, message);
    }
    const badJson = await fetch(`${t.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' });
    assert.equal(badJson.status, 400);
    assert.equal((await getJson(`${t.url}/v1/jobs/00000000-0000-0000-0000-000000000000`)).status, 404);
    assert.equal((await fetch(`${t.url}/v1/jobs/x/images/abc.png`)).status, 400);
    assert.equal((await fetch(`${t.url}/nowhere`)).status, 404);
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
  });

  it('lists models with their classes, cache methods with presets, and Prometheus metrics', async () => {
    const models = (await getJson(`${t.url}/v1/models`)).json.models as { name: string; classes: { count: number } }[];
    assert.deepEqual(models.map((m) => [m.name, m.classes.count]), [['mnist-dit', 10], ['mnist-dit-flow', 10]]);
    const methods = (await getJson(`${t.url}/v1/methods`)).json.methods as { name: string; presets: string[] }[];
    assert.ok(methods.find((m) => m.name === 'tcpade')!.presets.includes('fast'));
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    for (const name of ['tcpade_queue_depth', 'tcpade_jobs{status="done"}', 'tcpade_jobs_finished_total{status="cancelled"}', 'tcpade_step_seconds_bucket', 'tcpade_row_steps_total{kind="predicted"}', 'tcpade_job_block_compute_ratio_count']) {
      assert.ok(metrics.includes(name), `metrics lack ${name}`);
    }
    const predicted = Number(/tcpade_row_steps_total\{kind="predicted"\} (\d+)/.exec(metrics)![1]);
    assert.ok(predicted > 0, 'the cached jobs predicted some steps');
  });
});
