// A JSON object from text (a config, an index) as Python writes it, with errors that name the file. No file
// access: json.ts reads files in Node; a browser hands the text it fetched.
import { CheckpointError } from './errors.js';
import { parsePythonJson } from './python-json.js';

/** Parses a JSON object (Python flavour: NaN / Infinity allowed); CheckpointError naming `file` when it is not one. */
export function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch (e) {
    throw new CheckpointError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CheckpointError(file, 'does not hold a JSON object');
  return value as Record<string, unknown>;
}
