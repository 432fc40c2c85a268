// ModelFiles (the library's loader interface, src/io/model-files.ts) over the app's web server: the files
// the build's manifest lists for one model folder, each fetched once and kept in Cache Storage.
import { CheckpointError } from '../../../src/io/errors.js';
import type { ModelFiles } from '../../../src/io/model-files.js';
import { parseSafetensors } from '../../../src/io/safetensors-format.js';
import { type ManifestFolder, versionedUrl } from '../manifest.js';
import { type FetchProgress, fetchCached } from './fetch-cache.js';

export function fetchModelFiles(appBase: string, folder: ManifestFolder, onProgress?: (p: FetchProgress) => void): ModelFiles {
  const where = (name: string): string => new URL(`${folder.path}/${name}`, appBase).href;
  const bytes = async (name: string): Promise<Uint8Array> => {
    const f = folder.files[name];
    if (!f) throw new CheckpointError(where(name), 'is not in the app manifest', `The folder holds ${Object.keys(folder.files).join(', ')}.`);
    return fetchCached(versionedUrl(appBase, `${folder.path}/${name}`, f), name, f.bytes, onProgress);
  };
  return {
    location: new URL(folder.path, appBase).href,
    where,
    has: async (name) => name in folder.files,
    readText: async (name) => new TextDecoder().decode(await bytes(name)),
    // the whole file in memory: the browser has no random access to it, and our models are small
    readSafetensors: async (name) => parseSafetensors(await bytes(name), where(name)),
  };
}
