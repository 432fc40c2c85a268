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
