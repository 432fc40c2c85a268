// The loader interface: the files of one model folder, by name. Model loading reaches storage only through
// it, so the same loader runs on a local folder in Node (node-model-files.ts) and on a web server in the
// browser (web/src/engine/fetch-files.ts: fetch + Cache Storage). No Node built-ins.
import type { SafetensorsFile } from './safetensors-format.js';

export interface ModelFiles {
  /** where the folder is: a path or a URL */
  readonly location: string;
  /** how messages name one of its files (a path, a URL) */
  where(name: string): string;
  has(name: string): Promise<boolean>;
  /** a text file (config.json, teacache.json); CheckpointError naming the file when it cannot be read */
  readText(name: string): Promise<string>;
  /**
   * A safetensors file's header and tensors. A reader may read each tensor's bytes only when it is
   * accessed (Node reads them from disk, so a model larger than memory can be opened).
   */
  readSafetensors(name: string): Promise<SafetensorsFile>;
}
