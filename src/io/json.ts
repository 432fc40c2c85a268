// A JSON object from a file (a config, an index) as Python writes them, with errors that name the file.
import fs from 'node:fs';
import { CheckpointError } from './errors.js';
import { parseJsonObject } from './json-object.js';

/** Reads a JSON object file (Python flavour: NaN / Infinity allowed); CheckpointError naming the file when it cannot. */
export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(file, `cannot be read (${(e as Error).message})`);
  }
  return parseJsonObject(text, file);
}
