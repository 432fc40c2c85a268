// A JSON object from a file (a config, an index) as Python writes them, with errors that name the file.
import fs from 'node:fs';
import { CheckpointError } from './errors.js';
import { parsePythonJson } from './python-json.js';

/** Reads a JSON object file (Python flavour: NaN / Infinity allowed); CheckpointError naming the file when it cannot. */
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
