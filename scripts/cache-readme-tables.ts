// Rewrites the "## Presets and constants" section of src/cache/README.md from the method registry, so
// the tables always show what `createCacheMethod` builds. Usage: npx tsx scripts/cache-readme-tables.ts
// (test/cache/readme.test.ts fails when the committed section is stale).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeCacheMethod, listCacheMethods } from '../src/cache/index.js';
import { writeFileAtomicSync } from '../src/io/atomic.js';

export const CACHE_README = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cache/README.md');
const START = '## Presets and constants\n';
const END = '\n## Tests';

function cell(v: unknown): string {
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/** One table per method, or per group of its presets that share a schema (tcpade: ours/paper vs reference). */
export function presetTables(): string {
  const out: string[] = [];
  for (const m of listCacheMethods()) {
    if (m.name === 'none') continue;
    const groups = new Map<string, string[]>();
    for (const p of m.presets) {
      const keys = describeCacheMethod(m.name, p).map((r) => r.key).join(',');
      groups.set(keys, [...(groups.get(keys) ?? []), p]);
    }
    for (const presets of groups.values()) {
      const title = groups.size > 1 ? `${m.name} (${presets.join(', ')})` : m.name;
      const rows = presets.map((p) => describeCacheMethod(m.name, p));
      const head = presets.map((p) => (p === m.defaultPreset ? `${p} (default)` : p));
      out.push(`#### ${title}\n`);
      out.push(`| setting | ${head.join(' | ')} | meaning |`);
      out.push(`|---|${presets.map(() => '---|').join('')}---|`);
      rows[0].forEach((r, i) => out.push(`| \`${r.key}\` | ${rows.map((pr) => cell(pr[i].value)).join(' | ')} | ${r.doc.replaceAll('|', '\\|')} |`));
      out.push('');
    }
  }
  out.push(
    'Thresholds of `teacache` and `fbcache` presets and the Δ-DiT fractions are starting points for this\n' +
      "project's small models, to be calibrated by the benchmark; `describeCacheMethod` is the source of truth\n" +
      'for these tables (regenerate them with `npx tsx scripts/cache-readme-tables.ts`).\n',
  );
  return out.join('\n');
}

/** The README with its presets section replaced by `presetTables()`. */
export function readmeWithTables(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END, a);
  if (a < 0 || b < 0) throw new Error(`${CACHE_README}: expected a "${START.trim()}" section followed by "${END.trim()}"`);
  return `${readme.slice(0, a + START.length)}\n${presetTables()}${readme.slice(b)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileAtomicSync(CACHE_README, readmeWithTables(fs.readFileSync(CACHE_README, 'utf8')));
  console.log(`rewrote the presets section of ${CACHE_README}`);
}
