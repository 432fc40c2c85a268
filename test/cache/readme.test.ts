// The presets tables in src/cache/README.md are what the registry builds (regenerate with
// `npx tsx scripts/cache-readme-tables.ts`).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { it } from 'node:test';
import { CACHE_README, readmeWithTables } from '../../scripts/cache-readme-tables.js';

it('src/cache/README.md lists every method, preset and constant as createCacheMethod builds them', () => {
  const readme = fs.readFileSync(CACHE_README, 'utf8');
  assert.equal(readme, readmeWithTables(readme), 'stale tables: run `npx tsx scripts/cache-readme-tables.ts`');
});
