// Reading one diffusers scheduler_config.json field by field: each read names the file, class, field, value and
// what is supported when it refuses; fields never read are listed as unknown (diffusers drops those with a warning).
import { DiffusionConfigError } from './errors.js';

/** Reads fields of one config, remembering which it has seen so the rest can be listed as unknown. */
export class ConfigFields {
  private readonly seen = new Set<string>();

  constructor(
    private readonly json: Record<string, unknown>,
    private readonly file: string,
    readonly className: string,
  ) {}

  fail(field: string, value: unknown, supported: string): never {
    return this.reject(field, show(value), supported);
  }

  /** As fail, with the value already described (e.g. an array by its length). */
  reject(field: string, described: string, supported: string): never {
    throw new DiffusionConfigError(`${this.file}: ${this.className} ${field} = ${described} is not supported; supported: ${supported}`);
  }

  private take(field: string): unknown {
    this.seen.add(field);
    return this.json[field];
  }

  number(field: string, fallback: number, ok: (v: number) => boolean, supported: string): number {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !ok(v)) this.fail(field, v, supported);
    return v;
  }

  /** A number or null (diffusers' `float | None` fields); absent → fallback. */
  nullableNumber(field: string, fallback: number | null, ok: (v: number) => boolean, supported: string): number | null {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (v === null) return null;
    if (typeof v !== 'number' || !ok(v)) this.fail(field, v, `${supported} or null`);
    return v;
  }

  integer(field: string, fallback: number, min: number): number {
    return this.number(field, fallback, (v) => Number.isInteger(v) && v >= min, `an integer ≥ ${min}`);
  }

  boolean(field: string, fallback: boolean): boolean {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(field, v, 'true or false');
    return v;
  }

  choice<T extends string>(field: string, fallback: T, supported: readonly T[]): T {
    const v = this.take(field);
    if (v === undefined) return fallback;
    if (!supported.includes(v as T)) this.fail(field, v, supported.map((s) => `"${s}"`).join(', '));
    return v as T;
  }

  /** A field implemented at these values only (absent means diffusers' default, which is among them). */
  only(field: string, allowed: readonly unknown[], why: string): void {
    const v = this.take(field);
    if (v !== undefined && !allowed.includes(v)) this.fail(field, v, `${allowed.map(show).join(' or ')} (${why})`);
  }

  /** null/absent, or an array of numbers. */
  optionalNumbers(field: string): number[] | null {
    const v = this.take(field);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.some((b) => typeof b !== 'number')) this.reject(field, Array.isArray(v) ? '[non-numeric entries]' : show(v), 'null or an array of numbers');
    return v as number[];
  }

  /** An array of integers (e.g. step indices); absent → fallback. */
  integerList(field: string, fallback: readonly number[]): number[] {
    const v = this.take(field);
    if (v === undefined) return [...fallback];
    if (!Array.isArray(v) || !v.every((k) => Number.isInteger(k))) this.reject(field, show(v), 'an array of integers');
    return v as number[];
  }

  /** Fields diffusers knows that cannot change the result given the others accepted. */
  inert(...fields: string[]): void {
    for (const field of fields) this.seen.add(field);
  }

  /** Keys neither read nor declared inert, other than `_`-prefixed metadata (_class_name, _diffusers_version). */
  unknown(): string[] {
    return Object.keys(this.json).filter((k) => !k.startsWith('_') && !this.seen.has(k));
  }
}

/** A config value as it reads in the file (JSON.stringify would print −Infinity as null). */
export function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return '(absent)';
  return JSON.stringify(value) ?? String(value);
}
