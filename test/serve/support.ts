// Helpers for service tests: a running embedded service on a free port, JSON calls, SSE reading.
import { startEmbeddedService, type RunningService, type ServeOptions } from '../../src/serve/server.js';

export interface TestService {
  readonly url: string;
  readonly svc: RunningService;
  close(): Promise<void>;
}

export async function startTestService(o: Partial<ServeOptions> = {}): Promise<TestService> {
  const svc = await startEmbeddedService({ models: ['mnist-dit', 'mnist-dit-flow'], threads: 1, maxBatchRows: 64, ...o });
  const url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
  return { url, svc, close: () => svc.close() };
}

export async function postJob(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

export async function getJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url);
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

export async function getBytes(url: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const r = await fetch(url);
  return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

/** Every Server-Sent Event of a stream until the server ends it. */
export async function readEvents(url: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const r = await fetch(url);
  const text = await r.text();
  return text
    .split('\n\n')
    .filter((chunk) => chunk.trim().length > 0)
    .map((chunk) => {
      const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? '';
      const data = JSON.parse(/^data: (.*)$/m.exec(chunk)?.[1] ?? '{}') as Record<string, unknown>;
      return { event, data };
    });
}

/** Polls a job until it ends. */
export async function waitFinished(url: string, id: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const { json } = await getJson(`${url}/v1/jobs/${id}`);
    if (['done', 'failed', 'cancelled'].includes(json.status as string)) return json;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} still ${String(json.status)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server (Debian's, as CI installs it) on its own port, no persistence. */
export async function startRedis(port?: number): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const p = port ?? (await freePort());
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => proc.once('error', (e) => reject(new Error(`redis-server did not start (${e.message}); install it: apt-get install redis-server`))));
  const { Redis } = await import('ioredis');
  const probe = new Redis(p, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  const t0 = Date.now();
  for (;;) {
    const ok = await Promise.race([probe.connect().then(() => probe.ping()).then(() => true, () => false), failed]);
    if (ok) break;
    if (Date.now() - t0 > 10_000) throw new Error(`redis-server on port ${p} did not answer within 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  probe.disconnect();
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

/** `tcpade worker` in a child process (so a test can kill it); resolves once it has registered its models. */
export async function spawnWorker(redisUrl: string, extra: string[] = []): Promise<{ kill(signal?: NodeJS.Signals): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const { repoRoot } = await import('../support/cli.js');
  const path = await import('node:path');
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'worker', '--redis', redisUrl, '--threads', '1', ...extra], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('tcpade worker:')) resolve();
    });
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`tcpade worker exited (${code}) before it was ready: ${out}`)));
  });
  return {
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
}
