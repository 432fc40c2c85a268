// Fetch once, keep in Cache Storage: model weights and onnxruntime's wasm are tens of MB, so a second visit
// (or a second model run) reads them from the browser's cache instead of the network. Entries are keyed by
// a URL that carries the file's content hash (from the build's manifest), so a rebuilt file is a new key
// and stale ones are dropped. Reports download progress while the body streams in.

/** Bytes of one file as they arrive: where from (network or cache), how many so far, of how many. */
export interface FetchProgress {
  readonly name: string;
  readonly loaded: number;
  readonly total: number;
  readonly fromCache: boolean;
}

export const CACHE_NAME = 'tcpade-files-v1';

/** Cache Storage exists only in secure contexts (https, localhost); elsewhere every visit downloads again. */
async function openCache(): Promise<Cache | undefined> {
  try {
    return globalThis.caches ? await caches.open(CACHE_NAME) : undefined;
  } catch {
    return undefined;
  }
}

/** The body, reporting progress against `total` (the file's size: content-length counts compressed bytes). */
async function readBody(res: Response, name: string, total: number, fromCache: boolean, onProgress?: (p: FetchProgress) => void): Promise<Uint8Array<ArrayBuffer>> {
  if (!res.body || !onProgress) return new Uint8Array(await res.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress({ name, loaded, total: Math.max(total, loaded), fromCache });
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.byteLength));
  return out;
}

/**
 * The bytes at `url` (whose query names the content version), from Cache Storage when there, else fetched
 * and stored. `expectedBytes` (the manifest's size) is checked: a truncated download is never cached.
 */
export async function fetchCached(url: string, name: string, expectedBytes: number, onProgress?: (p: FetchProgress) => void): Promise<Uint8Array> {
  const cache = await openCache();
  const hit = await cache?.match(url);
  if (hit) {
    const bytes = await readBody(hit, name, expectedBytes, true, onProgress);
    if (bytes.byteLength === expectedBytes) return bytes;
    await cache!.delete(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not download ${name}: ${res.status} ${res.statusText} (${url})`);
  const bytes = await readBody(res, name, expectedBytes, false, onProgress);
  if (bytes.byteLength !== expectedBytes) throw new Error(`download of ${name} was cut short: ${bytes.byteLength} of ${expectedBytes} bytes`);
  if (cache) {
    try {
      const path = new URL(url).pathname;
      // older versions of the same file (another content hash) are dead weight
      for (const old of await cache.keys()) if (new URL(old.url).pathname === path && old.url !== url) await cache.delete(old);
      await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }));
    } catch {
      // storage full or refused (private mode): this visit has the bytes, the next one downloads again
    }
  }
  return bytes;
}
