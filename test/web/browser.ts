// Helpers for the browser tests: Debian's Chromium (what .ci/run installs), the app built into a temp folder
// by the same build as `npm run web`, served by the same server as `tcpade web`, and a page that records
// every uncaught error and console error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { type Browser, type Page, chromium } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { type WebServer, startWebServer } from '../../src/webapp/server.js';

/** Chromium's binary: $CHROMIUM_PATH, else Debian's package (`apt-get install -y chromium`). */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`no Chromium found (looked at ${candidates.join(', ')}): install Debian's chromium (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH`);
  return found;
}

export function chromiumVersion(exe: string): string {
  try {
    return execFileSync(exe, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown version';
  }
}

export interface WebFixture {
  server: WebServer;
  browser: Browser;
  distDir: string;
  close(): Promise<void>;
}

/** Builds the app (no precompressed copies: they change nothing the tests check) and starts server and browser. */
export async function startWebFixture(): Promise<WebFixture> {
  const distDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-web-'));
  await buildWeb({ outDir: distDir, precompress: false, log: false });
  const server = await startWebServer({ distDir, port: 0 });
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true });
  return {
    server,
    browser,
    distDir,
    close: async () => {
      await browser.close();
      await server.close();
      fs.rmSync(distDir, { recursive: true, force: true });
    },
  };
}

export interface WatchedPage {
  page: Page;
  /** uncaught exceptions of the page and console errors of the page and its workers */
  problems: string[];
}

export async function openPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && problems.push(`worker console error: ${m.text()}`)));
  return { page, problems };
}

/** Waits until the page set tcpadeResult or tcpadeError. */
export async function waitForOutcome(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(() => {
    const w = window as unknown as { tcpadeResult?: unknown; tcpadeError?: string };
    return w.tcpadeResult !== undefined || w.tcpadeError !== undefined;
  }, undefined, { timeout: timeoutMs, polling: 100 });
}
