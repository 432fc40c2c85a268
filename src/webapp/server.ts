// A stand-alone server for the browser app (`tcpade web`, the browser tests, bench/web.ts): fastify with the
// app at "/", and a tally of what it sent — the page weight a first visit costs is measured here, as body
// bytes on the wire (compressed where the browser took a compressed copy).
import Fastify, { type FastifyInstance } from 'fastify';
import { type WebAppOptions, webApp } from './static.js';

export interface SentTally {
  requests: number;
  /** body bytes sent (the Content-Length of each response) */
  bodyBytes: number;
  /** by URL path (query left out): bytes and the content-encoding used */
  byPath: Map<string, { bytes: number; encoding: string; count: number }>;
}

export interface WebServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly sent: SentTally;
  resetTally(): void;
  close(): Promise<void>;
}

export async function startWebServer(o: { host?: string; port?: number } & Omit<WebAppOptions, 'at' | 'required'> = {}): Promise<WebServer> {
  const app = Fastify({ logger: false });
  const sent: SentTally = { requests: 0, bodyBytes: 0, byPath: new Map() };
  app.addHook('onSend', async (req, reply, payload) => {
    // Content-Length is set by the static sender before this hook; 304s and errors count as sent too
    const bytes = Number(reply.getHeader('content-length') ?? 0);
    const p = req.url.split('?')[0];
    const prev = sent.byPath.get(p);
    sent.requests++;
    sent.bodyBytes += bytes;
    sent.byPath.set(p, { bytes: (prev?.bytes ?? 0) + bytes, encoding: String(reply.getHeader('content-encoding') ?? 'identity'), count: (prev?.count ?? 0) + 1 });
    return payload;
  });
  await app.register(webApp, { distDir: o.distDir, at: '/', required: true });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  const url = `${address}/`;
  return {
    url,
    app,
    sent,
    resetTally: () => {
      sent.requests = 0;
      sent.bodyBytes = 0;
      sent.byPath.clear();
    },
    close: () => app.close(),
  };
}
