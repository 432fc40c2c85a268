// Serving the browser app: every response carries the cross-origin isolation headers (wasm threads need
// them), compressed copies are sent to browsers that take them, the page answers with a query string, the
// app mounts beside another service's routes (as `tcpade serve` will), and a missing build is named.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import Fastify from 'fastify';
import { ISOLATION_HEADERS, webApp } from '../../src/webapp/static.js';
import { startWebServer } from '../../src/webapp/server.js';

let dist: string;
const wasm = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) % 13)); // compressible
before(() => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-static-'));
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>t</title>');
  fs.writeFileSync(path.join(dist, 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dist, 'worker.js'), '');
  fs.writeFileSync(path.join(dist, 'manifest.json'), '{}');
  fs.mkdirSync(path.join(dist, 'ort'));
  fs.writeFileSync(path.join(dist, 'ort', 'x.wasm'), wasm);
  fs.writeFileSync(path.join(dist, 'ort', 'x.wasm.br'), zlib.brotliCompressSync(wasm));
});
after(() => fs.rmSync(dist, { recursive: true, force: true }));

function assertIsolated(headers: Record<string, unknown>, what: string): void {
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) assert.equal(headers[k], v, `${what}: ${k}`);
}

test('the page, its files and compressed copies, with the isolation headers', async () => {
  const app = Fastify();
  await app.register(webApp, { distDir: dist });
  const page = await app.inject({ url: '/?model=mnist-dit&run=1', headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.equal(page.body, '<!doctype html><title>t</title>');
  assertIsolated(page.headers, '/');
  const br = await app.inject({ url: '/ort/x.wasm?v=abc', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(br.statusCode, 200);
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers['content-type'], 'application/wasm');
  assert.deepEqual(zlib.brotliDecompressSync(br.rawPayload), wasm);
  assertIsolated(br.headers, '/ort/x.wasm');
  const plain = await app.inject({ url: '/ort/x.wasm' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.deepEqual(plain.rawPayload, wasm);
  assert.equal((await app.inject({ url: '/nope.js' })).statusCode, 404);
  assert.equal((await app.inject({ url: '/../package.json' })).statusCode, 404);
  await app.close();
});

test('mounted at /web/ beside other routes; a missing build answers 503 naming npm run web, or fails registration', async () => {
  const app = Fastify();
  app.get('/healthz', async () => ({ ok: true }));
  await app.register(webApp, { distDir: dist, at: '/web/' });
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  const page = await app.inject({ url: '/web/' });
  assert.equal(page.statusCode, 200);
  assertIsolated(page.headers, '/web/');
  assert.equal((await app.inject({ url: '/web/app.js' })).body, 'console.log(1)');
  const redirect = await app.inject({ url: '/web' });
  assert.equal(redirect.statusCode, 301);
  assert.equal(redirect.headers.location, '/web/');
  await app.close();

  const missing = path.join(dist, 'not-built');
  const degraded = Fastify();
  await degraded.register(webApp, { distDir: missing, at: '/web/', required: false });
  const r = await degraded.inject({ url: '/web/' });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /the web app is not built .*index\.html is missing\): run `npm run web` first/);
  await degraded.close();
  const strict = Fastify();
  await assert.rejects(async () => {
    await strict.register(webApp, { distDir: missing });
    await strict.ready();
  }, /run `npm run web` first/);
});

test('the stand-alone server tallies the body bytes it sent (the page weight bench/web.ts reports)', async () => {
  const server = await startWebServer({ distDir: dist, port: 0 });
  try {
    const res = await fetch(`${server.url}ort/x.wasm`, { headers: { 'accept-encoding': 'br' } });
    assertIsolated(Object.fromEntries(res.headers), 'fetch');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), wasm); // fetch decodes br
    const sent = server.sent.byPath.get('/ort/x.wasm');
    assert.deepEqual(sent, { bytes: fs.statSync(path.join(dist, 'ort', 'x.wasm.br')).size, encoding: 'br', count: 1 });
    assert.equal(server.sent.requests, 1);
  } finally {
    await server.close();
  }
});
