// Serving the browser app (web/dist, built by `npm run web`) from a fastify server — `tcpade web` on its own,
// or mounted into `tcpade serve` — with the headers that let it use wasm threads: SharedArrayBuffer needs a
// cross-origin isolated page (Cross-Origin-Opener-Policy: same-origin + Cross-Origin-Embedder-Policy:
// require-corp). Files are sent brotli- or gzip-compressed when the build wrote those copies and the
// browser takes them.
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { packageRoot } from '../models/shipped.js';

/** Where `npm run web` writes the app. */
export function webDistDir(): string {
  return path.join(packageRoot(), 'web', 'dist');
}

/** The app cannot be served as asked (not built, a bad mount path); the message says what to do. */
export class WebAppError extends Error {
  override name = 'WebAppError';
}

/** The headers every response of the app carries. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** The app is missing or incomplete: names the folder and how to build it. */
export function webAppProblem(distDir: string): string | undefined {
  for (const f of ['index.html', 'app.js', 'worker.js', 'manifest.json']) {
    if (!fs.existsSync(path.join(distDir, f))) return `the web app is not built (${path.join(distDir, f)} is missing): run \`npm run web\` first`;
  }
  return undefined;
}

export interface WebAppOptions {
  /** default webDistDir() */
  distDir?: string;
  /** URL path the app lives at, ending in "/" (default "/"); `tcpade serve` mounts it at "/web/" */
  at?: string;
  /**
   * Fail registration when the app is not built (default true). With false the path answers 503 naming the
   * command that builds it, so a service starts without it.
   */
  required?: boolean;
}

/**
 * The app as a fastify plugin: `app.register(webApp, { at: '/web/' })`. Everything under `at` is a file of
 * the app (index.html at `at` itself), sent with the isolation headers and `no-cache` (revalidated by ETag:
 * the large files are versioned by content hash in Cache Storage by the page itself).
 */
export const webApp: FastifyPluginAsync<WebAppOptions> = async (app: FastifyInstance, o: WebAppOptions) => {
  const distDir = path.resolve(o.distDir ?? webDistDir());
  const at = o.at ?? '/';
  if (!at.startsWith('/') || !at.endsWith('/')) throw new WebAppError(`the web app's path must start and end with "/", got "${at}"`);
  const problem = webAppProblem(distDir);
  if (problem) {
    if (o.required ?? true) throw new WebAppError(problem);
    const notBuilt = async (_req: unknown, reply: import('fastify').FastifyReply) => reply.code(503).type('text/plain').send(`tcpade: ${problem}\n`);
    app.get(at, notBuilt);
    app.get(`${at}*`, notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root: distDir,
    prefix: at,
    decorateReply: false,
    preCompressed: true,
    cacheControl: false,
    // the page itself is sent below: @fastify/static answers a folder's index 404 under preCompressed when
    // the browser accepts br and no index.html.br exists
    index: false,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
      res.setHeader('cache-control', 'no-cache');
    },
  });
  // "/web" → "/web/": the page's URLs are relative to its folder
  if (at !== '/') app.get(at.slice(0, -1), async (req, reply) => reply.redirect(at + (req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''), 301));
  app.get(at, async (_req, reply) =>
    reply
      .headers({ ...ISOLATION_HEADERS, 'cache-control': 'no-cache' })
      .type('text/html; charset=utf-8')
      .send(await fs.promises.readFile(path.join(distDir, 'index.html'))),
  );
};
