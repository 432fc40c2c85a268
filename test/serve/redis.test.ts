// `tcpade serve --redis` with `tcpade worker` processes on a real redis-server: the bytes of `tcpade
// generate`, shared batches in the worker, progress events, cancellation, a worker killed mid-job (its
// job goes to another worker), and Redis going away (503, the server stays up, and recovers).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisService, type RunningService } from '../../src/serve/server.js';
import { tcpade } from '../support/cli.js';
import { getBytes, getJson, postJob, readEvents, spawnWorker, startRedis, waitFinished } from './support.js';

describe('tcpade serve --redis with tcpade worker', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let svc: RunningService;
  let url: string;
  let worker: Awaited<ReturnType<typeof spawnWorker>>;

  before(async () => {
    redis = await startRedis();
    svc = await startRedisService({ redisUrl: redis.url, attempts: 3, backoffMs: 200 });
    url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await worker?.kill('SIGKILL');
    await svc.close();
    await redis.stop();
  });

  it('without a worker, no model is served and a job is refused with 404', async () => {
    assert.deepEqual((await getJson(`${url}/v1/models`)).json.models, []);
    const r = await postJob(url, { model: 'mnist-dit' });
    assert.equal(r.status, 404);
    assert.match(r.json.error as string, /no worker has registered/);
  });

  it('a worker registers its models; a job gives the bytes of `tcpade generate`', async () => {
    worker = await spawnWorker(redis.url, ['--lock-ms', '2000']);
    const models = (await getJson(`${url}/v1/models`)).json.models as { name: string }[];
    assert.deepEqual(models.map((m) => m.name), ['mnist-dit', 'mnist-dit-flow']);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-redis-cli-'));
    const cli = await tcpade('generate', '--model', 'mnist-dit-flow', '--classes', '4,8', '--per-class', '1', '--steps', '8', '--seed', '6', '--cache', 'taylorseer', '--out', out, '--no-progress', '--threads', '1');
    assert.equal(cli.code, 0, cli.stderr);
    const { json } = await postJob(url, { model: 'mnist-dit-flow', classes: [4, 8], perClass: 1, steps: 8, seed: 6, cache: { method: 'taylorseer' } });
    const events = await readEvents(`${url}/v1/jobs/${json.id as string}/events`);
    assert.equal(events.at(-1)!.event, 'done', JSON.stringify(events.at(-1)));
    const done = await waitFinished(url, json.id as string);
    assert.equal(done.status, 'done');
    for (const [route, file] of [['samples.safetensors', 'samples.safetensors'], ['grid.png', 'grid.png'], ['images/1.png', 'samples/001.png']]) {
      const got = await getBytes(`${url}/v1/jobs/${json.id as string}/${route}`);
      assert.equal(got.status, 200);
      assert.ok(got.bytes.equals(fs.readFileSync(path.join(out, file))), `${route} differs from the CLI's`);
    }
  });

  it('jobs queued together share a model batch in the worker', async () => {
    const reqs = [0, 1, 2, 3].map((k) => ({ model: 'mnist-dit', classes: [k], perClass: 1, steps: 6, seed: k, cache: { method: 'fora' } }));
    const posted = await Promise.all(reqs.map((r) => postJob(url, r)));
    const done = await Promise.all(posted.map((p) => waitFinished(url, p.json.id as string)));
    const jobsPerBatch = done.map((d) => (d.stats as { batch: { jobs: number } }).batch.jobs);
    assert.ok(jobsPerBatch.some((n) => n > 1), `every job ran alone: ${jobsPerBatch}`);
  });

  it('DELETE stops a running job; the worker goes on with the next', async () => {
    const long = await postJob(url, { model: 'mnist-dit', classes: [1], perClass: 4, steps: 400 });
    const id = long.json.id as string;
    for (;;) {
      const { json } = await getJson(`${url}/v1/jobs/${id}`);
      if (json.status === 'running' && (json.progress as { step: number }).step >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const del = await fetch(`${url}/v1/jobs/${id}`, { method: 'DELETE' });
    assert.equal(((await del.json()) as { status: string }).status, 'cancelled');
    const next = await postJob(url, { model: 'mnist-dit', classes: [2], perClass: 1, steps: 4 });
    const t0 = Date.now();
    assert.equal((await waitFinished(url, next.json.id as string, 30_000)).status, 'done');
    assert.ok(Date.now() - t0 < 15_000);
    assert.equal((await getJson(`${url}/v1/jobs/${id}`)).json.status, 'cancelled');
    assert.equal((await getBytes(`${url}/v1/jobs/${id}/grid.png`)).status, 409);
  });

  it('a worker killed mid-job: the stalled job goes to another worker and completes', async () => {
    const { json } = await postJob(url, { model: 'mnist-dit', classes: [3], perClass: 4, steps: 300, seed: 2 });
    const id = json.id as string;
    for (;;) {
      const { json: j } = await getJson(`${url}/v1/jobs/${id}`);
      if (j.status === 'running' && (j.progress as { step: number }).step >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker.kill('SIGKILL');
    worker = await spawnWorker(redis.url, ['--lock-ms', '2000']);
    const done = await waitFinished(url, id, 120_000);
    assert.equal(done.status, 'done', JSON.stringify(done));
    assert.equal((await getBytes(`${url}/v1/jobs/${id}/samples.safetensors`)).status, 200);
  });

  it('Redis down: job requests get 503 with a message, /healthz stays up, and service resumes when Redis is back', async () => {
    await redis.stop();
    const r = await postJob(url, { model: 'mnist-dit' });
    assert.equal(r.status, 503, JSON.stringify(r.json));
    assert.match(r.json.error as string, /unavailable/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    redis = await startRedis(redis.port);
    // the worker re-registers on its next heartbeat (≤ 10 s); until then the model is unknown (404)
    const t0 = Date.now();
    let status = 0;
    let id = '';
    while (Date.now() - t0 < 30_000) {
      const p = await postJob(url, { model: 'mnist-dit', classes: [5], perClass: 1, steps: 3 });
      status = p.status;
      if (status === 202) {
        id = p.json.id as string;
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal(status, 202);
    assert.equal((await waitFinished(url, id, 60_000)).status, 'done');
  });
});
