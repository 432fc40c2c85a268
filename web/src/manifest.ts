// What `npm run web` built (web/dist/manifest.json): the models with their files per weight precision, and
// onnxruntime-web's files per backend — sizes and content hashes, so the page knows what a first visit
// downloads and Cache Storage keys change when a file does. Written by scripts/build-web.ts.

export type WeightPrecision = 'fp32' | 'fp16';

export interface ManifestFile {
  readonly bytes: number;
  /** hex sha256 of the file's bytes */
  readonly sha256: string;
}

/** One model folder: config.json, its weights, and whatever else lies beside them (teacache.json). */
export interface ManifestFolder {
  /** path of the folder below the app's root, e.g. "models/mnist-dit" */
  readonly path: string;
  readonly files: Readonly<Record<string, ManifestFile>>;
}

export interface ManifestModel {
  readonly name: string;
  readonly objective: 'eps' | 'flow';
  /** class-conditional: label count (labels 0 … count−1) and names if the model has them */
  readonly classes: { readonly count: number; readonly names?: readonly string[] };
  readonly latentShape: readonly number[];
  readonly depth: number;
  readonly parameters: number;
  /** fp32: the shipped file as is; fp16: the same weights rounded to half precision (half the download) */
  readonly weights: Readonly<Record<WeightPrecision, ManifestFolder>>;
}

export interface ManifestRuntime {
  /** the ES module to import, its wasm glue, and the wasm binary (file name + size/hash) */
  readonly module: string;
  readonly glue: string;
  readonly wasm: string;
  readonly wasmFile: ManifestFile;
}

export interface WebManifest {
  readonly version: string;
  /** folder of onnxruntime-web's files below the app's root */
  readonly ortPath: string;
  readonly runtimes: Readonly<Record<'wasm' | 'webgpu', ManifestRuntime>>;
  readonly models: readonly ManifestModel[];
}

/** The URL of a file with its content version in the query (the Cache Storage key). */
export function versionedUrl(base: string, path: string, file: ManifestFile): string {
  return `${new URL(path, base).href}?v=${file.sha256.slice(0, 16)}`;
}
