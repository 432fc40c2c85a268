// `npm run web`: builds the browser app into web/dist/ — the page and the engine worker bundled by esbuild
// from web/src and the library's own src/ (the one Node-only module, src/runtime/platform-runtime.ts, swapped
// for onnxruntime-web's; any other Node built-in fails the build), onnxruntime-web's files, the shipped
// models that load without a file system (as shipped in fp32, and rounded to fp16 for half the download), a
// manifest with every file's size and hash, and brotli/gzip copies the server sends when the browser takes them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';
import { toFloat16Bits } from '../src/io/float16.js';
import { folderModelFiles } from '../src/io/node-model-files.js';
import { type StWritableTensor, encodeSafetensors, readSafetensorsSync, toFloat32 } from '../src/io/safetensors.js';
import { parseJsonObject } from '../src/io/json-object.js';
import { folderFamilyFor, loadDenoiserFiles } from '../src/models/load-files.js';
import { packageRoot, shippedModels } from '../src/models/shipped.js';
import type { ManifestFile, ManifestFolder, ManifestModel, ManifestRuntime, WebManifest } from '../web/src/manifest.js';
import { ORT_FILES } from '../web/src/engine/platform-runtime.js';

const ROOT = packageRoot();
const WEB = path.join(ROOT, 'web');
const NODE_RUNTIME = path.join(ROOT, 'src', 'runtime', 'platform-runtime.ts');
const WEB_RUNTIME = path.join(WEB, 'src', 'engine', 'platform-runtime.ts');
/** Files beside a model's weights that the loader reads (config) or the page uses (TeaCache's polynomial). */
const MODEL_FILES = ['config.json', 'model.safetensors', 'teacache.json'];
const NODE_BUILTINS = /^(node:.*|fs|fs\/promises|path|os|url|crypto|zlib|child_process|worker_threads|module|util|stream|buffer|net|http|https|tls|events|readline|perf_hooks|v8|vm)$/;

export interface BuildOptions {
  /** default web/dist */
  outDir?: string;
  /** write .br and .gz beside the files (slow for the wasm and weights: ~10 s); default true */
  precompress?: boolean;
  /** print what was written; default true */
  log?: boolean;
}

/** esbuild plugin: the library's runtime module → onnxruntime-web's, and no Node built-ins anywhere. */
const browserPlatform: esbuild.Plugin = {
  name: 'tcpade-browser-platform',
  setup(build) {
    build.onResolve({ filter: /platform-runtime(\.js)?$/ }, (args) => {
      const target = path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      return target === NODE_RUNTIME ? { path: WEB_RUNTIME } : undefined;
    });
    build.onResolve({ filter: NODE_BUILTINS }, (args) => ({
      errors: [{ text: `${path.relative(ROOT, args.importer)} imports the Node built-in "${args.path}": code the browser runs must reach files through ModelFiles (src/io/model-files.ts) and onnxruntime through src/runtime/ort-runtime.ts` }],
    }));
    build.onResolve({ filter: /^onnxruntime-(node|web)$/ }, (args) =>
      args.kind === 'import-statement' && args.path === 'onnxruntime-web' && /\.ts$/.test(args.importer)
        ? { errors: [{ text: `${path.relative(ROOT, args.importer)} imports onnxruntime-web's code; the worker loads it at run time from ort/ (import its types only)` }] }
        : args.path === 'onnxruntime-node'
          ? { errors: [{ text: `${path.relative(ROOT, args.importer)} imports onnxruntime-node, which cannot run in a browser` }] }
          : undefined,
    );
  },
};

function fileEntry(bytes: Uint8Array): ManifestFile {
  return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function writeFile(file: string, bytes: Uint8Array | string): ManifestFile {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  fs.writeFileSync(file, data);
  return fileEntry(data);
}

/** The same tensors with every float32 one rounded to half precision (widened back to fp32 on load). */
function halfPrecision(file: string): Uint8Array {
  const { tensors, metadata } = readSafetensorsSync(file);
  const out: Record<string, StWritableTensor> = {};
  for (const [k, t] of tensors) out[k] = t.dtype === 'F32' ? { dtype: 'F16', shape: t.shape, data: toFloat16Bits(toFloat32(t, file, k)) } : { dtype: t.dtype, shape: t.shape, data: t.data };
  return encodeSafetensors(out, { ...metadata, tcpade_precision: 'fp16 (rounded from the fp32 weights, nearest-even)' });
}

/** One shipped model into <out>/models/<name>/ (fp32) and <name>-fp16/, or undefined if it does not load from files. */
async function publishModel(name: string, outDir: string): Promise<ManifestModel | undefined> {
  const dir = path.join(ROOT, 'models', name);
  const files = folderModelFiles(dir);
  const config = parseJsonObject(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'), path.join(dir, 'config.json'));
  if (!(await folderFamilyFor(files, config))) return undefined;
  const model = await loadDenoiserFiles(files, { threads: 1 });
  try {
    if (!model.classes) return undefined; // the page samples class-conditional models
    const present = MODEL_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
    const folder = (suffix: string, weights: (f: string) => Uint8Array): ManifestFolder => {
      const rel = `models/${name}${suffix}`;
      const entries: Record<string, ManifestFile> = {};
      for (const f of present) entries[f] = writeFile(path.join(outDir, rel, f), f === 'model.safetensors' ? weights(path.join(dir, f)) : fs.readFileSync(path.join(dir, f)));
      return { path: rel, files: entries };
    };
    const { tensors } = readSafetensorsSync(path.join(dir, 'model.safetensors'));
    return {
      name,
      objective: model.objective,
      classes: { count: model.classes.count, ...(model.classes.names ? { names: model.classes.names } : {}) },
      latentShape: [...model.latentShape],
      depth: model.depth,
      parameters: [...tensors.values()].reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0),
      weights: { fp32: folder('', (f) => fs.readFileSync(f)), fp16: folder('-fp16', halfPrecision) },
    };
  } finally {
    await model.release();
  }
}

function copyOrt(outDir: string): Record<'wasm' | 'webgpu', ManifestRuntime> {
  const from = path.join(path.dirname(fileURLToPath(import.meta.resolve('onnxruntime-web'))));
  const runtimes = {} as Record<'wasm' | 'webgpu', ManifestRuntime>;
  for (const backend of ['wasm', 'webgpu'] as const) {
    const f = ORT_FILES[backend];
    for (const name of [f.module, f.glue]) fs.copyFileSync(path.join(from, name), path.join(outDir, 'ort', name));
    const wasm = writeFile(path.join(outDir, 'ort', f.wasm), fs.readFileSync(path.join(from, f.wasm)));
    runtimes[backend] = { module: f.module, glue: f.glue, wasm: f.wasm, wasmFile: wasm };
  }
  return runtimes;
}

const COMPRESSIBLE = /\.(js|mjs|css|html|json|wasm|safetensors|map|svg)$/;

/** .br and .gz beside each file where they save at least 5 %. */
function precompress(outDir: string): void {
  for (const entry of fs.readdirSync(outDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const bytes = fs.readFileSync(file);
    // quality 11 takes ~50 s on the 14 MB wasm; 9 is within 15 % of it at a twentieth of the time
    const br = zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: bytes.byteLength < 1 << 20 ? 11 : 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength } });
    if (br.byteLength < 0.95 * bytes.byteLength) fs.writeFileSync(`${file}.br`, br);
    const gz = zlib.gzipSync(bytes, { level: 9 });
    if (gz.byteLength < 0.95 * bytes.byteLength) fs.writeFileSync(`${file}.gz`, gz);
  }
}

export async function buildWeb(o: BuildOptions = {}): Promise<{ outDir: string; manifest: WebManifest }> {
  const outDir = path.resolve(o.outDir ?? path.join(WEB, 'dist'));
  const log = o.log ?? true;
  const t0 = performance.now();
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'ort'), { recursive: true });
  await esbuild.build({
    entryPoints: { app: path.join(WEB, 'src', 'main.ts'), worker: path.join(WEB, 'src', 'engine', 'worker.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    plugins: [browserPlatform],
    logLevel: 'error',
  });
  for (const f of ['index.html', 'styles.css']) fs.copyFileSync(path.join(WEB, f), path.join(outDir, f));
  const runtimes = copyOrt(outDir);
  const models: ManifestModel[] = [];
  for (const name of shippedModels()) {
    const m = await publishModel(name, outDir);
    if (m) models.push(m);
  }
  if (models.length === 0) throw new Error('no shipped model loads in the browser (a class-conditional model folder with config.json + safetensors)');
  const version = createHash('sha256').update(JSON.stringify([runtimes, models])).digest('hex').slice(0, 16);
  const manifest: WebManifest = { version, ortPath: 'ort', runtimes, models };
  writeFile(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  if (o.precompress ?? true) precompress(outDir);
  if (log) {
    const size = (p: string): number => fs.statSync(path.join(outDir, p)).size;
    console.log(`built ${path.relative(process.cwd(), outDir) || '.'} in ${((performance.now() - t0) / 1000).toFixed(1)} s: app.js ${(size('app.js') / 1024).toFixed(0)} KiB, worker.js ${(size('worker.js') / 1024).toFixed(0)} KiB, models ${models.map((m) => m.name).join(', ')} (fp32 + fp16)`);
  }
  return { outDir, manifest };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outArg = process.argv.indexOf('--out');
  await buildWeb({ outDir: outArg > 0 ? process.argv[outArg + 1] : undefined, precompress: !process.argv.includes('--no-compress') });
}
