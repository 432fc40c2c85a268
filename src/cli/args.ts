// Argument parsers for commander that reject bad values with a message naming the value.
import os from 'node:os';
import { InvalidArgumentError } from 'commander';

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

export function floatArg(min: number, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

export function threadsArg(v: string): number {
  const cores = os.availableParallelism();
  return intArg(1, cores)(v);
}

export function intListArg(min: number, max: number) {
  return (v: string): number[] => {
    const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length);
    if (!parts.length) throw new InvalidArgumentError(`expected a comma-separated list of integers, got "${v}"`);
    return parts.map((p) => {
      const n = Number(p);
      if (!/^\d+$/.test(p) || n < min || n > max) throw new InvalidArgumentError(`"${p}" is not an integer in [${min}, ${max}]`);
      return n;
    });
  };
}
