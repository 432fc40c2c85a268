// The HTTP API of `tcpade serve` on fastify: JSON in and out, request bodies checked by JSON schema,
// Server-Sent Events for progress. Every error a caller can cause is a 4xx with a message saying what to
// change; the handlers never run models (the job service does, off this event loop).
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { describeCacheMethod, listCacheMethods } from '../cache/index.js';
import { webApp } from '../webapp/static.js';
import { FINISHED, type JobEvent, type JobService } from './jobs.js';
import type { ServiceMetrics } from './metrics.js';
import { DEFAULT_LIMITS, type JobRequest, RequestError, type RequestLimits, jobRequestSchema, resolveJobRequest } from './request.js';

export interface HttpOptions {
  readonly limits?: RequestLimits;
  readonly metrics?: ServiceMetrics;
  /** fastify's request log (off in tests) */
  readonly logger?: boolean;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  safetensors: 'application/octet-stream',
  json: 'application/json; charset=utf-8',
};

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;

function notFound(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(404).send({ error: `${what} not found` });
}

/** The API on a fastify instance (not listening yet). */
export function buildHttpApi(service: JobService, opts: HttpOptions = {}): FastifyInstance {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  // Strict bodies: an unknown field or a number sent as a string is an error the caller sees, not a
  // silent removal or coercion (fastify's ajv defaults).
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 1 << 20, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });

  app.setErrorHandler((err: FastifyError | RequestError | Error, _req, reply) => {
    if (err instanceof RequestError) return reply.code(err.status).send({ error: err.message });
    // the job queue (Redis) is down: not the caller's fault, and worth retrying
    if (err.name === 'QueueUnavailableError') return reply.code(503).header('retry-after', '5').send({ error: err.message });
    const fe = err as FastifyError;
    if (fe.validation) return reply.code(400).send({ error: `invalid request: ${fe.message}` });
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return reply.code(fe.statusCode).send({ error: fe.message });
    reply.log.error(err);
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });
  // The browser app (`npm run web`) at /web/, with the isolation headers wasm threads need; without a
  // build, /web/ answers 503 saying how to make one and the API is unaffected.
  void app.register(webApp, { at: '/web/', required: false });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url}; see GET /v1/models, POST /v1/jobs` }));

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/metrics', async (_req, reply) => {
    if (!opts.metrics) return notFound(reply, 'metrics');
    return reply.type(opts.metrics.contentType).send(await opts.metrics.text());
  });

  app.get('/v1/models', async () => ({ models: await service.models() }));

  app.get('/v1/methods', async () => ({
    methods: [
      { name: 'none', description: 'compute every step', presets: [], defaultPreset: null },
      { name: 'fewer-steps', description: 'the same sampler with fewer steps (presets x2, x2.5, x3…, or set steps=K)', presets: ['x2', 'x2.5', 'x3'], defaultPreset: 'x2' },
      ...listCacheMethods()
        .filter((m) => m.name !== 'none')
        .map((m) => ({ ...m, settings: Object.fromEntries(m.presets.map((p) => [p, describeCacheMethod(m.name, p)])) })),
    ],
  }));

  app.post<{ Body: JobRequest }>('/v1/jobs', { schema: { body: jobRequestSchema(limits) } }, async (req, reply) => {
    const models = new Map((await service.models()).map((m) => [m.name, m]));
    const spec = resolveJobRequest(req.body, models, limits);
    const { id, position } = await service.submit(spec);
    return reply.code(202).header('location', `/v1/jobs/${id}`).send({ id, status: 'queued', position });
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', { schema: { params: idParams } }, async (req, reply) => {
    const v = await service.get(req.params.id);
    return v ?? notFound(reply, `job ${req.params.id}`);
  });

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', { schema: { params: idParams } }, async (req, reply) => {
    const v = await service.cancel(req.params.id);
    return v ?? notFound(reply, `job ${req.params.id}`);
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/events', { schema: { params: idParams } }, async (req, reply) => {
    // Hijacked: the stream stays open until the job ends or the client leaves.
    const raw = reply.raw;
    let closed = false;
    let unsubscribe: (() => void) | undefined;
    const send = (e: JobEvent): void => {
      if (closed) return;
      raw.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      if (['done', 'failed', 'cancelled'].includes(e.event)) {
        closed = true;
        unsubscribe?.();
        raw.end();
      }
    };
    const view = await service.get(req.params.id);
    if (!view) return notFound(reply, `job ${req.params.id}`);
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    req.raw.on('close', () => {
      closed = true;
      unsubscribe?.();
    });
    unsubscribe = await service.subscribe(req.params.id, send);
    if (closed) unsubscribe?.();
  });

  const fileRoute = async (id: string, name: string, reply: FastifyReply): Promise<FastifyReply> => {
    const view = await service.get(id);
    if (!view) return notFound(reply, `job ${id}`);
    if (view.status !== 'done') {
      const why = FINISHED.includes(view.status) ? `it ended ${view.status}${view.error ? `: ${view.error}` : ''}` : `it is ${view.status}; wait for status done (GET /v1/jobs/${id}/events)`;
      return reply.code(409).send({ error: `job ${id} has no outputs: ${why}` });
    }
    const bytes = await service.file(id, name);
    if (!bytes) return notFound(reply, `${name} of job ${id} (it has: ${view.files?.join(', ')})`);
    const ext = name.slice(name.lastIndexOf('.') + 1);
    return reply.type(CONTENT_TYPES[ext] ?? 'application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };

  for (const name of ['grid.png', 'samples.safetensors', 'stats.json']) {
    app.get<{ Params: { id: string } }>(`/v1/jobs/:id/${name}`, { schema: { params: idParams } }, (req, reply) => fileRoute(req.params.id, name, reply));
  }
  app.get<{ Params: { id: string; k: string } }>(
    '/v1/jobs/:id/images/:k.png',
    { schema: { params: { type: 'object', required: ['id', 'k'], properties: { id: idParams.properties.id, k: { type: 'string', pattern: '^(0|[1-9][0-9]{0,5})$' } } } } },
    (req, reply) => fileRoute(req.params.id, `images/${Number(req.params.k)}.png`, reply),
  );
  return app;
}
