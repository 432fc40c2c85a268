#!/usr/bin/env node
// Entry point of the `tcpade` command: runs the compiled CLI (built by `npm ci` through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('tcpade: the compiled CLI is missing (dist/). Run `npm run build` in the package folder.');
  process.exit(1);
}
await import(main.href);
