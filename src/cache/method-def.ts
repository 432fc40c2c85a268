// How a caching method is declared (schema, named presets, granularity, sample-cache factory) and turned
// into a registry entry that resolves presets and overrides into an immutable CacheMethod.

import {
  CacheConfigError,
  type CacheMethod,
  type CacheNeeds,
  type Granularity,
  type SampleCache,
  type SampleCacheContext,
  type SettingValue,
} from './contract.js';
import { validateContext } from './sample-base.js';
import { describeSchema, resolveSettings, type PresetValues, type ResolvedSettings, type SettingsSchema } from './settings.js';

export interface MethodDefinition<S extends SettingsSchema> {
  readonly name: string;
  readonly description: string;
  readonly schema: S;
  readonly presets: Readonly<Record<string, PresetValues<S>>>;
  readonly defaultPreset: string;
  granularity(settings: ResolvedSettings<S>): Granularity;
  needs(settings: ResolvedSettings<S>): CacheNeeds;
  /** CacheMethod.historyOnlyForecast for these settings (absent: false). */
  historyOnlyForecast?(settings: ResolvedSettings<S>): boolean;
  /** CacheMethod.blockRanges for these settings (absent: one section per block). */
  blockRanges?(settings: ResolvedSettings<S>, depth: number): readonly (readonly [number, number])[];
  /** `label` ("method/preset") prefixes every error message of the sample cache. */
  createSampleCache(settings: ResolvedSettings<S>, ctx: SampleCacheContext, label: string): SampleCache;
}

/** One setting as shown in help texts and stats. */
export interface SettingDescription {
  readonly key: string;
  readonly value: SettingValue;
  readonly doc: string;
}

/** A registered method, type-erased so methods with different schemas share one registry. */
export interface MethodEntry {
  readonly name: string;
  readonly description: string;
  readonly presets: readonly string[];
  readonly defaultPreset: string;
  build(preset: string, overrides: Readonly<Record<string, unknown>>): CacheMethod;
  describe(preset: string, overrides: Readonly<Record<string, unknown>>): SettingDescription[];
}

function checkPreset(name: string, presets: readonly string[], preset: string): void {
  if (!presets.includes(preset)) {
    throw new CacheConfigError(`cache method '${name}': unknown preset '${preset}'; valid presets: ${presets.join(', ')}`);
  }
}

export function entryFromDefinition<S extends SettingsSchema>(def: MethodDefinition<S>): MethodEntry {
  const presets = Object.keys(def.presets);
  if (!presets.includes(def.defaultPreset)) throw new Error(`internal: ${def.name} default preset ${def.defaultPreset} not among its presets`);
  const resolve = (preset: string, overrides: Readonly<Record<string, unknown>>): ResolvedSettings<S> => {
    checkPreset(def.name, presets, preset);
    return resolveSettings(def.schema, `cache method '${def.name}' preset '${preset}'`, def.presets[preset], overrides);
  };
  return {
    name: def.name,
    description: def.description,
    presets,
    defaultPreset: def.defaultPreset,
    build(preset, overrides) {
      const settings = resolve(preset, overrides);
      const granularity = def.granularity(settings);
      const needs = Object.freeze({ ...def.needs(settings) });
      const label = `${def.name}/${preset}`;
      return Object.freeze({
        name: def.name,
        preset,
        settings,
        granularity,
        needs,
        historyOnlyForecast: def.historyOnlyForecast?.(settings) ?? false,
        ...(def.blockRanges ? { blockRanges: (depth: number) => def.blockRanges!(settings, depth) } : {}),
        createSampleCache(ctx: SampleCacheContext): SampleCache {
          validateContext(ctx, granularity, label);
          return def.createSampleCache(settings, ctx, label);
        },
      });
    },
    describe(preset, overrides) {
      return describeSchema(def.schema, resolve(preset, overrides));
    },
  };
}

/** One method name whose presets come from several definitions (tcpade: paper/ours and reference). */
export function combineEntries(name: string, description: string, defaultPreset: string, parts: readonly MethodEntry[]): MethodEntry {
  const owner = new Map<string, MethodEntry>();
  for (const part of parts) for (const p of part.presets) owner.set(p, part);
  const presets = [...owner.keys()];
  if (!owner.has(defaultPreset)) throw new Error(`internal: ${name} default preset ${defaultPreset} not among its presets`);
  const pick = (preset: string): MethodEntry => {
    checkPreset(name, presets, preset);
    return owner.get(preset)!;
  };
  return {
    name,
    description,
    presets,
    defaultPreset,
    build: (preset, overrides) => pick(preset).build(preset, overrides),
    describe: (preset, overrides) => pick(preset).describe(preset, overrides),
  };
}
