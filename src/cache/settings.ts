// Typed setting schemas for cache methods: defaults, documentation, validation of presets and user
// overrides (numbers may arrive as CLI strings, lists as "a,b,c"). Every constant a method uses lives here.

import { CacheConfigError, type SettingValue } from './contract.js';

export interface NumberSpec {
  readonly kind: 'number';
  readonly default: number;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}
export interface EnumSpec<E extends string = string> {
  readonly kind: 'enum';
  readonly default: E;
  readonly values: readonly E[];
  readonly doc: string;
}
export interface BooleanSpec {
  readonly kind: 'boolean';
  readonly default: boolean;
  readonly doc: string;
}
export interface NumberListSpec {
  readonly kind: 'numbers';
  readonly default: readonly number[];
  readonly doc: string;
  readonly minLength?: number;
}
export type SettingSpec = NumberSpec | EnumSpec | BooleanSpec | NumberListSpec;
export type SettingsSchema = Readonly<Record<string, SettingSpec>>;

type ValueOf<S> = S extends NumberSpec
  ? number
  : S extends EnumSpec<infer E>
    ? E
    : S extends BooleanSpec
      ? boolean
      : readonly number[];

/** The validated values of a schema, typed per key. */
export type ResolvedSettings<S extends SettingsSchema> = { readonly [K in keyof S]: ValueOf<S[K]> };

/** A preset: a partial assignment of a schema's keys. */
export type PresetValues<S extends SettingsSchema> = Readonly<Partial<Record<keyof S & string, SettingValue>>>;

export function num(def: number, doc: string, range: { min?: number; max?: number } = {}): NumberSpec {
  return { kind: 'number', default: def, doc, ...range };
}
export function int(def: number, doc: string, range: { min?: number; max?: number } = {}): NumberSpec {
  return { kind: 'number', default: def, doc, integer: true, ...range };
}
export function oneOf<const E extends string>(values: readonly E[], def: E, doc: string): EnumSpec<E> {
  return { kind: 'enum', default: def, values, doc };
}
export function flag(def: boolean, doc: string): BooleanSpec {
  return { kind: 'boolean', default: def, doc };
}
export function numbers(def: readonly number[], doc: string, minLength = 1): NumberListSpec {
  return { kind: 'numbers', default: def, doc, minLength };
}

/** Parse one value against its spec; `where` names method/preset/key for the error message. */
export function parseSetting(spec: SettingSpec, raw: unknown, where: string): SettingValue {
  switch (spec.kind) {
    case 'number': {
      const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new CacheConfigError(`${where}: expected a finite number, got ${JSON.stringify(raw)}`);
      }
      if (spec.integer === true && !Number.isInteger(v)) {
        throw new CacheConfigError(`${where}: expected an integer, got ${v}`);
      }
      if (spec.min !== undefined && v < spec.min) throw new CacheConfigError(`${where}: expected ≥ ${spec.min}, got ${v}`);
      if (spec.max !== undefined && v > spec.max) throw new CacheConfigError(`${where}: expected ≤ ${spec.max}, got ${v}`);
      return v;
    }
    case 'enum': {
      if (typeof raw !== 'string' || !spec.values.includes(raw)) {
        throw new CacheConfigError(`${where}: expected one of ${spec.values.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      throw new CacheConfigError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
    }
    case 'numbers': {
      let list: unknown[];
      if (typeof raw === 'string') list = raw.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
      else if (typeof raw === 'number') list = [raw];
      else if (Array.isArray(raw)) list = raw;
      else throw new CacheConfigError(`${where}: expected numbers (array or "a,b,c"), got ${JSON.stringify(raw)}`);
      if (!list.every((x): x is number => typeof x === 'number' && Number.isFinite(x))) {
        throw new CacheConfigError(`${where}: expected finite numbers (array or "a,b,c"), got ${JSON.stringify(raw)}`);
      }
      if (list.length < (spec.minLength ?? 1)) {
        throw new CacheConfigError(`${where}: expected at least ${spec.minLength ?? 1} numbers, got ${list.length}`);
      }
      return Object.freeze([...list]);
    }
  }
}

/**
 * Defaults ← preset ← overrides, each key checked against the schema. Unknown keys are an error that
 * lists the valid ones, so a typo never silently keeps a default.
 */
export function resolveSettings<S extends SettingsSchema>(
  schema: S,
  label: string,
  preset: PresetValues<S>,
  overrides: Readonly<Record<string, unknown>>,
): ResolvedSettings<S> {
  const out: Record<string, SettingValue> = {};
  for (const [key, spec] of Object.entries(schema)) out[key] = spec.default;
  const apply = (layer: Readonly<Record<string, unknown>>, layerName: string): void => {
    for (const [key, raw] of Object.entries(layer)) {
      const spec = schema[key];
      if (spec === undefined) {
        throw new CacheConfigError(
          `${label}: unknown setting '${key}' in ${layerName}; valid settings: ${Object.keys(schema).join(', ')}`,
        );
      }
      if (raw === undefined) continue;
      out[key] = parseSetting(spec, raw, `${label}: setting '${key}' (${layerName})`);
    }
  };
  apply(preset, 'preset');
  apply(overrides, 'overrides');
  return Object.freeze(out) as ResolvedSettings<S>;
}

/** Human-readable rows (key, value, doc) for help texts and stats. */
export function describeSchema(
  schema: SettingsSchema,
  values: Readonly<Record<string, SettingValue>>,
): { key: string; value: SettingValue; doc: string }[] {
  return Object.entries(schema).map(([key, spec]) => ({ key, value: values[key] ?? spec.default, doc: spec.doc }));
}
