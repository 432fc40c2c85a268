// The method registry: create a configured CacheMethod by name, preset and overrides, and list what
// exists (for the CLI's help and the benchmark). Unknown names, presets and keys fail with the valid ones.

import { CacheConfigError, type CacheMethod, type SettingValue } from './contract.js';
import { deltaDitDefinition } from './delta-dit.js';
import { fbCacheDefinition } from './fbcache.js';
import { foraDefinition } from './fora.js';
import { combineEntries, entryFromDefinition, type MethodEntry, type SettingDescription } from './method-def.js';
import { noneDefinition } from './none.js';
import { taylorSeerDefinition } from './taylorseer.js';
import { teaCacheDefinition } from './teacache.js';
import { tcPadeDefinition } from './tcpade.js';
import { tcPadeReferenceDefinition } from './tcpade-reference.js';

const entries: readonly MethodEntry[] = [
  entryFromDefinition(noneDefinition),
  entryFromDefinition(foraDefinition),
  entryFromDefinition(deltaDitDefinition),
  entryFromDefinition(taylorSeerDefinition),
  entryFromDefinition(teaCacheDefinition),
  entryFromDefinition(fbCacheDefinition),
  combineEntries('tcpade', tcPadeDefinition.description, 'fast', [
    entryFromDefinition(tcPadeDefinition),
    entryFromDefinition(tcPadeReferenceDefinition),
  ]),
];

export type CacheOverrides = Readonly<Record<string, SettingValue>>;

export interface CacheMethodInfo {
  readonly name: string;
  readonly presets: readonly string[];
  readonly defaultPreset: string;
  readonly description: string;
}

function entry(name: string): MethodEntry {
  const e = entries.find((m) => m.name === name);
  if (e === undefined) {
    throw new CacheConfigError(`unknown cache method '${name}'; valid methods: ${entries.map((m) => m.name).join(', ')}`);
  }
  return e;
}

/**
 * A configured method. `preset` defaults to the method's default preset; `overrides` replace single
 * settings (numbers may be numeric strings, lists "a,b,c"). Throws CacheConfigError listing valid choices.
 */
export function createCacheMethod(name: string, preset?: string, overrides: CacheOverrides = {}): CacheMethod {
  const e = entry(name);
  return e.build(preset ?? e.defaultPreset, overrides);
}

export function listCacheMethods(): CacheMethodInfo[] {
  return entries.map((e) => ({ name: e.name, presets: [...e.presets], defaultPreset: e.defaultPreset, description: e.description }));
}

/** Every setting of a method/preset with its value and meaning (help texts, README tables). */
export function describeCacheMethod(name: string, preset?: string, overrides: CacheOverrides = {}): SettingDescription[] {
  const e = entry(name);
  return e.describe(preset ?? e.defaultPreset, overrides);
}
