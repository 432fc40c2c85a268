// Reads the config.json files diffusers writes: Python's json.dumps emits bare NaN, Infinity and
// -Infinity for non-finite floats, which JSON.parse rejects; those three tokens (outside strings) are accepted.
import fs from 'node:fs';
import { CheckpointError } from '../../io/errors.js';

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** Parses JSON text that may hold Python's bare NaN / Infinity / -Infinity tokens. */
export function parsePythonJson(text: string): unknown {
  // Replace each bare token by a unique string marker, then map markers back in a reviver.
  const marker = `\u0000pyjson${Math.random().toString(36).slice(2)}:`;
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((t) => text.startsWith(t, i) && !/[A-Za-z0-9_]/.test(text[i + t.length] ?? ''));
    if (token) {
      out += JSON.stringify(marker + token);
      i += token.length - 1;
      continue;
    }
    out += ch;
  }
  return JSON.parse(out, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(marker) ? NON_FINITE[value.slice(marker.length)] : value));
}

/** Reads a JSON object file (Python flavour); CheckpointError naming the file when it cannot. */
export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(file, `cannot be read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch (e) {
    throw new CheckpointError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CheckpointError(file, 'does not hold a JSON object');
  return value as Record<string, unknown>;
}
