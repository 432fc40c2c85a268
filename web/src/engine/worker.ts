// The engine worker: the library itself — graphs, DiT segments, samplers, every cache method, stats — on
// onnxruntime-web, driven by messages from the page (protocol.ts). One run at a time; models stay loaded
// (their sessions compiled) between runs of the same page.
import { listCacheMethods } from '../../../src/cache/index.js';
import type { ModelFiles } from '../../../src/io/model-files.js';
import type { Denoiser } from '../../../src/models/denoiser.js';
import { loadDenoiserFiles } from '../../../src/models/load-files.js';
import { generate } from '../../../src/pipeline/generate.js';
import { toUnitRange } from '../../../src/pipeline/unit-range.js';
import { defaultThreads, runtimeDescription } from '../../../src/runtime/session.js';
import type { ManifestModel, WebManifest } from '../manifest.js';
import { versionedUrl } from '../manifest.js';
import { RequestError, type BackendChoice, type WebRequest } from '../request.js';
import { fetchCached } from './fetch-cache.js';
import { fetchModelFiles } from './fetch-files.js';
import { cacheChoice, resolveRequest, storedCoefficients } from './generate-options.js';
import { tapStepInputs } from './step-tap.js';
import { ORT_FILES, type WebBackend, startWebRuntime } from './platform-runtime.js';
import type { FromWorker, RunResult, TimelineRow, ToWorker } from './protocol.js';

interface WorkerScope {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

interface LoadedModel {
  readonly model: Denoiser;
  readonly files: ModelFiles;
  readonly coefficients: number[] | undefined;
}

let appBase = '';
let manifest: WebManifest | undefined;
let threads = 1;
const models = new Map<string, Promise<LoadedModel>>();
/** models that have sampled in this worker (their next runs are warm) */
const sampled = new Set<string>();

/** WebGPU when the browser offers an adapter, else wasm. */
async function pickBackend(choice: BackendChoice): Promise<WebBackend> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (choice === 'webgpu' && !adapter) throw new RequestError('backend=webgpu was asked for, but this browser offers no WebGPU adapter; use backend=wasm or auto');
  return choice === 'wasm' || !adapter ? 'wasm' : 'webgpu';
}

async function start(base: string, backendChoice: BackendChoice, threadsAsked: number | undefined): Promise<void> {
  appBase = base;
  const res = await fetch(new URL('manifest.json', base));
  if (!res.ok) throw new Error(`could not read the app manifest (${res.status}); was the app built with npm run web?`);
  manifest = (await res.json()) as WebManifest;
  const backend = await pickBackend(backendChoice);
  // the library's default (min(2, cores)); without cross-origin isolation wasm has no threads at all
  threads = threadsAsked ?? (globalThis.crossOriginIsolated ? defaultThreads() : 1);
  const rt = manifest.runtimes[backend];
  const ortBase = new URL(`${manifest.ortPath}/`, base).href;
  const wasmBinary = await fetchCached(versionedUrl(ortBase, rt.wasm, rt.wasmFile), rt.wasm, rt.wasmFile.bytes, (p) =>
    post({ type: 'status', text: `${p.fromCache ? 'Reading' : 'Downloading'} onnxruntime-web (${backend})`, loaded: p.loaded, total: p.total }),
  );
  if (ORT_FILES[backend].wasm !== rt.wasm) throw new Error(`the manifest's ${backend} runtime is ${rt.wasm}, expected ${ORT_FILES[backend].wasm}`);
  const described = await startWebRuntime({ backend, threads, ortBase, wasmBinary });
  post({ type: 'ready', backend: described, methods: listCacheMethods() });
}

function manifestModel(name: string): ManifestModel {
  const m = manifest!.models.find((x) => x.name === name);
  if (!m) throw new RequestError(`no model "${name}" in this app; it has ${manifest!.models.map((x) => x.name).join(', ')}`);
  return m;
}

function loadModel(r: WebRequest, id: number): Promise<LoadedModel> {
  const key = `${r.model}/${r.weights}`;
  let p = models.get(key);
  if (!p) {
    const folder = manifestModel(r.model).weights[r.weights];
    const files = fetchModelFiles(appBase, folder, (f) =>
      post({ type: 'status', id, text: `${f.fromCache ? 'Reading' : 'Downloading'} ${r.model} (${r.weights}) ${f.name}`, loaded: f.loaded, total: f.total }),
    );
    p = (async () => ({ model: await loadDenoiserFiles(files, { threads }), files, coefficients: await storedCoefficients(files) }))();
    models.set(key, p);
    p.catch(() => models.delete(key));
  }
  return p;
}

/** The per-step records as timeline rows (sample × branch) and the conditional branch's decisions. */
function timelineOf(perStep: Awaited<ReturnType<typeof generate>>['stats']['perStep'], labels: readonly number[], steps: number): { timeline: TimelineRow[]; decisions: number[][] } {
  const rows = new Map<string, TimelineRow & { cells: TimelineRow['cells'][number][] }>();
  for (const rec of perStep) {
    for (const d of rec.decisions) {
      const key = `${d.sample}/${rec.branch}`;
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { sample: d.sample, label: labels[d.sample], branch: rec.branch, cells: new Array(steps) }));
      row.cells[rec.step] = { compute: d.compute, reason: d.reason, signal: d.signal, threshold: d.threshold, blocksComputed: d.blocksComputed };
    }
  }
  const timeline = [...rows.values()].sort((a, b) => a.sample - b.sample || (a.branch === b.branch ? 0 : a.branch === 'cond' ? -1 : 1));
  const decisions = labels.map((_, k) => (rows.get(`${k}/cond`)?.cells ?? []).map((c) => (c.compute ? 1 : 0)));
  return { timeline, decisions };
}

async function run(id: number, request: WebRequest, full: boolean): Promise<void> {
  const r: WebRequest = full ? { ...request, cache: 'none', preset: undefined } : request;
  // a method or preset the registry does not know fails here, before any download
  cacheChoice(r, undefined);
  manifestModel(r.model);
  const t0 = performance.now();
  const loaded = await loadModel(r, id);
  const loadMs = performance.now() - t0;
  const resolved = resolveRequest(r, loaded.model, loaded.coefficients);
  const N = resolved.labels.length;
  const px = loaded.model.latentShape.reduce((a, b) => a * b, 1);
  const bs = resolved.options.batchSize!;
  const batches = Math.ceil(N / bs);
  let seen: { first: number; images: Float32Array } | undefined;
  let batch = 0;
  const model = tapStepInputs(loaded.model, (x, rows) => {
    const B = Math.min(bs, N - batch * bs);
    const branches = resolved.cfg === 1 ? 1 : 2;
    if (rows === B * branches) seen = { first: batch * bs, images: toUnitRange(x.subarray(0, B * px)) };
  });
  post({ type: 'status', id, text: `Sampling ${N} sample${N === 1 ? '' : 's'} with ${resolved.label}` });
  let done = 0;
  const g = await generate(model, {
    ...resolved.options,
    onStep: (p) => {
      done++;
      batch = p.batch + (p.step + 1 === p.steps ? 1 : 0);
      const preview = seen;
      seen = undefined;
      post({ type: 'step', id, done, total: batches * p.steps, preview }, preview ? [preview.images.buffer] : []);
    },
  });
  const firstRun = !sampled.has(`${r.model}/${r.weights}`);
  sampled.add(`${r.model}/${r.weights}`);
  const { timeline, decisions } = timelineOf(g.stats.perStep, resolved.labels, g.stats.steps);
  const images = toUnitRange(g.samples);
  const s = g.stats;
  const result: RunResult = {
    images,
    shape: g.shape,
    labels: resolved.labels,
    decisions,
    timeline,
    backend: runtimeDescription(),
    summary: {
      label: resolved.label,
      sampler: resolved.sampler,
      steps: s.steps,
      requestedSteps: resolved.requestedSteps,
      cfg: resolved.cfg,
      samples: s.samples,
      branches: s.branches,
      wallMs: s.wallMs,
      setupMs: s.setupMs,
      loadMs,
      firstRun,
      times: s.times,
      // fewer-steps computes a fraction of the requested steps: counted against the request, as the CLI does
      blockComputeRatio: (s.blockComputeRatio * s.steps) / resolved.requestedSteps,
      computedCount: s.computedCount,
      predictedCount: s.predictedCount,
      cacheBytesPeak: s.cacheBytesPeak,
    },
  };
  post({ type: 'done', id, full, result }, [images.buffer]);
}

let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  queue = queue.then(async () => {
    try {
      if (m.type === 'start') await start(m.appBase, m.backend, m.threads);
      else await run(m.id, m.request, m.full);
    } catch (err) {
      post({ type: 'error', id: m.type === 'run' ? m.id : undefined, message: (err as Error)?.message ?? String(err) });
    }
  });
};
