// The page: controls, the engine worker, live samples, the decision timeline, and the comparison against a
// full compute run. A request comes from the URL (so it can be linked and tested) or from the controls; when
// a run ends the page sets window.tcpadeResult = { images, decisions, backend, wallMs } (window.tcpadeError
// = the message it shows when something fails).
import type { CacheMethodInfo } from '../../src/cache/registry.js';
import { psnrPerImage } from '../../src/eval/fidelity.js';
import type { FromWorker, RunResult, ToWorker } from './engine/protocol.js';
import type { ManifestModel, WebManifest } from './manifest.js';
import { type PageOptions, type WebRequest, DEFAULT_REQUEST, RequestError, SAMPLERS, parseRequestParams, requestToParams } from './request.js';
import { byId, el } from './ui/dom.js';
import { formatBytes, formatMs, formatPercent } from './ui/format.js';
import { type SampleCards, renderSampleCards } from './ui/samples.js';
import { renderTimeline } from './ui/timeline.js';

/** What automation reads (the browser tests, bench/web.ts). */
interface TcpadeWindow {
  tcpadeResult?: Pick<RunResult, 'images' | 'shape' | 'labels' | 'decisions' | 'backend' | 'timeline' | 'summary'> & { wallMs: number };
  tcpadeError?: string;
  /** the full compute run of the same request: its samples, wall time, the speedup and each sample's PSNR */
  tcpadeCompare?: { images: Float32Array; fullWallMs: number; cachedWallMs: number; speedup: number; psnrDb: number[] };
  /** runs the request in `query` (URL search syntax; default: the controls) and resolves with tcpadeResult */
  tcpadeRun?: (query?: string) => Promise<TcpadeWindow['tcpadeResult']>;
}
const win = window as unknown as TcpadeWindow;

/** methods the CLI offers besides the cache registry's */
const FEWER_STEPS: CacheMethodInfo = { name: 'fewer-steps', presets: ['x2', 'x2.5', 'x3', 'x4'], defaultPreset: 'x2', description: 'the same sampler with fewer steps (the honest baseline)' };

const form = byId<HTMLFormElement>('controls');
const field = <T extends HTMLElement = HTMLInputElement>(name: string): T => form.elements.namedItem(name) as unknown as T;
const statusText = byId('status-text');
const progress = byId<HTMLProgressElement>('progress');
const errorBox = byId('error');
const runButton = byId<HTMLButtonElement>('run');
const compareButton = byId<HTMLButtonElement>('compare');
const backendBadge = byId('backend');

let manifest: WebManifest | undefined;
let methods: CacheMethodInfo[] = [];
let worker: Worker | undefined;
let workerReady: Promise<string> | undefined;
let page: PageOptions = { backend: 'auto', run: false, compare: false };
let nextId = 1;
let cached: { request: WebRequest; result: RunResult; cards: SampleCards } | undefined;
const pending = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void; onStep?: (m: Extract<FromWorker, { type: 'step' }>) => void }>();

function showError(message: string): void {
  win.tcpadeError = message;
  errorBox.textContent = message;
  errorBox.hidden = false;
  setStatus('', undefined);
}

function clearError(): void {
  errorBox.hidden = true;
  errorBox.textContent = '';
  win.tcpadeError = undefined;
}

function setStatus(text: string, fraction: number | undefined): void {
  statusText.textContent = text;
  progress.hidden = fraction === undefined;
  if (fraction !== undefined) progress.value = fraction;
}

function setBusy(busy: boolean): void {
  runButton.disabled = busy;
  compareButton.disabled = busy || !cached;
  document.body.classList.toggle('busy', busy);
}

function className(label: number, model?: ManifestModel): string {
  return model?.classes.names?.[label] ?? String(label);
}

function modelInfo(name: string): ManifestModel | undefined {
  return manifest?.models.find((m) => m.name === name);
}

// ---------------------------------------------------------------------------------------------
// The worker

function startWorker(): Promise<string> {
  worker?.terminate();
  for (const p of pending.values()) p.reject(new Error('the engine was restarted'));
  pending.clear();
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'tcpade-engine' });
  worker = w;
  workerReady = new Promise<string>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'ready') {
        methods = [...m.methods, FEWER_STEPS];
        fillMethods();
        backendBadge.textContent = m.backend;
        backendBadge.title = `onnxruntime-web backend${crossOriginIsolated ? '' : ' (the page is not cross-origin isolated: no wasm threads)'}`;
        resolve(m.backend);
      } else if (m.type === 'status') {
        setStatus(m.text, m.total ? m.loaded! / m.total : undefined);
        if (m.total) statusText.textContent = `${m.text}: ${formatBytes(m.loaded!)} of ${formatBytes(m.total)}`;
      } else if (m.type === 'step') pending.get(m.id)?.onStep?.(m);
      else if (m.type === 'done') {
        pending.get(m.id)?.resolve(m.result);
        pending.delete(m.id);
      } else if (m.type === 'error') {
        if (m.id === undefined) reject(new Error(m.message));
        else {
          pending.get(m.id)?.reject(new Error(m.message));
          pending.delete(m.id);
        }
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      const err = new Error(`the engine worker failed: ${e.message || 'could not load it'}`);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
  });
  const start: ToWorker = { type: 'start', appBase: new URL('.', location.href).href, backend: page.backend, threads: page.threads };
  w.postMessage(start);
  return workerReady;
}

async function runOnWorker(request: WebRequest, full: boolean, onStep?: (m: Extract<FromWorker, { type: 'step' }>) => void): Promise<RunResult> {
  await (workerReady ?? startWorker());
  const id = nextId++;
  return new Promise<RunResult>((resolve, reject) => {
    pending.set(id, { resolve, reject, onStep });
    const msg: ToWorker = { type: 'run', id, request, full };
    worker!.postMessage(msg);
  });
}

// ---------------------------------------------------------------------------------------------
// Controls

function option(value: string, text: string, selected: boolean): HTMLOptionElement {
  const o = el('option', { value }, text);
  o.selected = selected;
  return o;
}

function fillModels(selected: string): void {
  const sel = field<HTMLSelectElement>('model');
  sel.replaceChildren(...(manifest?.models ?? []).map((m) => option(m.name, `${m.name} (${m.objective === 'flow' ? 'flow' : 'ε'}, ${(m.parameters / 1e6).toFixed(1)} M params)`, m.name === selected)));
  if (!modelInfo(selected)) sel.append(option(selected, `${selected} (not in this app)`, true));
}

function fillMethods(): void {
  const sel = field<HTMLSelectElement>('cache');
  const current = sel.dataset.want ?? sel.value;
  sel.replaceChildren(...methods.map((m) => option(m.name, m.name === 'tcpade' ? 'tcpade (TC-Padé, ours)' : m.name, m.name === current)));
  if (!methods.some((m) => m.name === current)) sel.append(option(current, `${current} (unknown)`, true));
  fillPresets();
}

function fillPresets(): void {
  const method = methods.find((m) => m.name === field<HTMLSelectElement>('cache').value);
  const sel = field<HTMLSelectElement>('preset');
  const want = sel.dataset.want ?? sel.value;
  delete sel.dataset.want;
  const presets = method?.presets ?? [];
  sel.replaceChildren(option('', method ? `default (${method.defaultPreset})` : '—', want === ''), ...presets.map((p) => option(p, p, p === want)));
  if (want && !presets.includes(want)) sel.append(option(want, `${want} (unknown)`, true));
  sel.disabled = presets.length === 0;
  byId('method-about').textContent = method?.description ?? '';
}

/** Puts a request into the controls (values the lists lack are kept and marked, so the URL stays visible). */
function fillForm(r: WebRequest, p: PageOptions): void {
  fillModels(r.model);
  field<HTMLSelectElement>('weights').value = r.weights;
  field('classes').value = r.classes ?? '';
  field('perClass').value = String(r.perClass);
  field('steps').value = String(r.steps);
  field<HTMLSelectElement>('sampler').value = r.sampler ?? '';
  field('cfg').value = r.cfg === undefined ? '' : String(r.cfg);
  field('seed').value = String(r.seed);
  field<HTMLSelectElement>('cache').dataset.want = r.cache;
  field<HTMLSelectElement>('preset').dataset.want = r.preset ?? '';
  fillMethods();
  delete field<HTMLSelectElement>('cache').dataset.want;
  field<HTMLSelectElement>('backend').value = p.backend;
  field<HTMLSelectElement>('threads').value = p.threads === undefined ? '' : String(p.threads);
}

/** The controls as URL parameters (the same parser checks them as a typed URL). */
function formParams(): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) p.set(k, String(v));
  return p;
}

// ---------------------------------------------------------------------------------------------
// Runs

function renderSummary(result: RunResult): void {
  const s = result.summary;
  byId('stat-compute').textContent = formatPercent(s.blockComputeRatio);
  byId('stat-compute-note').textContent = s.blockComputeRatio < 1 ? `${(1 / s.blockComputeRatio).toFixed(2)}× fewer block FLOPs · ${s.computedCount} of ${s.computedCount + s.predictedCount} row-steps computed` : 'every block, every step';
  byId('stat-wall').textContent = formatMs(s.wallMs);
  byId('stat-wall-note').textContent = `${s.samples} sample${s.samples === 1 ? '' : 's'} × ${s.branches.length} branch${s.branches.length === 1 ? '' : 'es'}, ${s.steps} steps, ${s.label}`;
  byId('stat-setup').textContent = formatMs(s.setupMs + s.loadMs);
  byId('stat-setup-note').textContent = `graph compile ${formatMs(s.setupMs)} · weights ${formatMs(s.loadMs)} (once per page)`;
  byId('stat-speedup').textContent = '–';
  byId('stat-speedup-note').textContent = s.label === 'none' ? 'this is the full run' : 'press “Compare with full compute”';
}

async function run(request: WebRequest, andCompare: boolean): Promise<RunResult> {
  clearError();
  setBusy(true);
  win.tcpadeResult = undefined;
  win.tcpadeCompare = undefined;
  const info = modelInfo(request.model);
  const samplesBox = byId('samples');
  let cards: SampleCards | undefined;
  let shape: readonly number[] = [1, ...(info?.latentShape ?? [1, 28, 28])];
  try {
    setStatus('Starting the engine', undefined);
    const result = await runOnWorker(request, false, (m) => {
      setStatus(`Step ${m.done} of ${m.total}`, m.done / m.total);
      if (!m.preview) return;
      if (!cards) cards = renderSampleCards(samplesBox, labelsOf(request, info), (l) => className(l, info));
      const px = shape.slice(1).reduce((a, b) => a * b, 1);
      const n = m.preview.images.length / px;
      for (let k = 0; k < n; k++) cards.show(m.preview.first + k, m.preview.images, k, [n, ...shape.slice(1)]);
    });
    shape = result.shape;
    cards = renderSampleCards(samplesBox, result.labels, (l) => className(l, info));
    for (let k = 0; k < result.labels.length; k++) cards.show(k, result.images, k, result.shape);
    renderSummary(result);
    drawTimeline(result, info);
    byId('timeline-note').textContent = `${result.summary.label}: ${result.summary.computedCount} computed, ${result.summary.predictedCount} predicted (rows × steps)`;
    cached = { request, result, cards };
    win.tcpadeResult = { images: result.images, shape: result.shape, labels: result.labels, decisions: result.decisions, backend: result.backend, wallMs: result.summary.wallMs, timeline: result.timeline, summary: result.summary };
    setStatus(`Done: ${result.summary.label} in ${formatMs(result.summary.wallMs)} on ${result.backend}`, undefined);
    setBusy(false);
    if (andCompare) await compare();
    return result;
  } catch (e) {
    showError((e as Error).message);
    setBusy(false);
    throw e;
  }
}

function drawTimeline(result: RunResult, info: ManifestModel | undefined): void {
  renderTimeline(byId('timeline'), result.timeline, result.summary.steps, info?.depth ?? 1, (l) => (info?.classes.names ? className(l, info) : `class ${l}`));
}

/** What the first visit downloads for the chosen model and weights (before compression). */
function updateWeightNote(): void {
  const m = modelInfo(field<HTMLSelectElement>('model').value);
  if (!m || !manifest) return;
  const weights = field<HTMLSelectElement>('weights').value === 'fp16' ? 'fp16' : 'fp32';
  const bytes = manifest.runtimes.wasm.wasmFile.bytes + Object.values(m.weights[weights].files).reduce((a, f) => a + f.bytes, 0);
  byId('weight-note').textContent = `a first visit downloads ${formatBytes(bytes)} before compression (onnxruntime-web + ${weights} weights); the browser keeps them for the next`;
}

/** Labels of a request before the worker resolves it (for live previews); the result's labels replace them. */
function labelsOf(r: WebRequest, info: ManifestModel | undefined): number[] {
  const ids = r.classes?.split(',').map((s) => Number(s.trim())) ?? Array.from({ length: Math.min(10, info?.classes.count ?? 10) }, (_, k) => k);
  return ids.flatMap((k) => new Array<number>(r.perClass).fill(Number.isInteger(k) ? k : -1));
}

/** The same request with full compute, side by side: wall-time speedup (both timed warm) and each sample's PSNR. */
async function compare(): Promise<void> {
  if (!cached) return;
  const { request, result, cards } = cached;
  clearError();
  setBusy(true);
  try {
    setStatus('Full compute run of the same request', 0);
    const full = await runOnWorker(request, true, (m) => setStatus(`Full compute: step ${m.done} of ${m.total}`, m.done / m.total));
    // like with like: a page's first run pays onnxruntime-web's warm-up inside its sampling time, so the
    // cached request is timed once more (it samples the same images: every run is deterministic)
    let cachedMs = result.summary.wallMs;
    if (result.summary.firstRun) {
      const again = await runOnWorker(request, false, (m) => setStatus(`Timing the cached run again, warm: step ${m.done} of ${m.total}`, m.done / m.total));
      cachedMs = again.summary.wallMs;
    }
    const n = result.labels.length;
    const psnr = Array.from(psnrPerImage(result.images, full.images, n));
    for (let k = 0; k < n; k++) cards.showFull(k, full.images, full.shape, psnr[k]);
    const speedup = full.summary.wallMs / cachedMs;
    byId('stat-speedup').textContent = `${speedup.toFixed(2)}×`;
    const finite = psnr.filter(Number.isFinite);
    const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Infinity;
    byId('stat-speedup-note').textContent = `${formatMs(cachedMs)} vs full compute ${formatMs(full.summary.wallMs)}${result.summary.firstRun ? ' (both warm)' : ''} · mean PSNR ${Number.isFinite(mean) ? mean.toFixed(1) : '∞'} dB`;
    if (result.summary.firstRun) byId('stat-wall-note').textContent += ` · first run in this page; ${formatMs(cachedMs)} warm`;
    document.body.classList.add('compared');
    win.tcpadeCompare = { images: full.images, fullWallMs: full.summary.wallMs, cachedWallMs: cachedMs, speedup, psnrDb: psnr };
    setStatus(`Compared with full compute: ${speedup.toFixed(2)}× faster`, undefined);
  } catch (e) {
    showError((e as Error).message);
  } finally {
    setBusy(false);
  }
}

/** Parses, puts the request in the URL (shareable), and runs it. */
async function runQuery(params: URLSearchParams, fromUrl: boolean): Promise<RunResult> {
  let parsed: ReturnType<typeof parseRequestParams>;
  try {
    parsed = parseRequestParams(params);
  } catch (e) {
    showError((e as Error).message);
    throw e;
  }
  const engineChanged = parsed.page.backend !== page.backend || parsed.page.threads !== page.threads;
  page = { ...parsed.page, run: false, compare: false };
  if (!fromUrl) history.replaceState(null, '', `?${requestToParams(parsed.request, page)}`);
  if (engineChanged && worker) startWorker().catch((e) => showError((e as Error).message));
  document.body.classList.remove('compared');
  return run(parsed.request, parsed.page.compare);
}

async function init(): Promise<void> {
  fillSamplers();
  let parsed: ReturnType<typeof parseRequestParams> | undefined;
  try {
    parsed = parseRequestParams(new URLSearchParams(location.search));
    page = parsed.page;
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
    showError(e.message);
  }
  const res = await fetch('manifest.json');
  if (!res.ok) throw new Error(`could not read the app manifest (${res.status}); build the app with npm run web`);
  manifest = (await res.json()) as WebManifest;
  fillForm(parsed?.request ?? DEFAULT_REQUEST, page);
  updateWeightNote();
  form.addEventListener('change', (e) => {
    const name = (e.target as HTMLElement).getAttribute('name');
    if (name === 'cache') fillPresets();
    if (name === 'model' || name === 'weights') updateWeightNote();
  });
  // the timeline fills the width it has: draw it again when that changes (phone rotated, window resized)
  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w !== lastWidth && cached) {
      lastWidth = w;
      drawTimeline(cached.result, modelInfo(cached.request.model));
    }
  }).observe(byId('timeline'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    runQuery(formParams(), false).catch(() => undefined);
  });
  compareButton.addEventListener('click', () => void compare());
  win.tcpadeRun = async (query?: string) => {
    await runQuery(query === undefined ? formParams() : new URLSearchParams(query), query !== undefined);
    return win.tcpadeResult;
  };
  try {
    await startWorker();
  } catch (e) {
    showError((e as Error).message);
    return;
  }
  if (parsed && parsed.page.run) await run(parsed.request, parsed.page.compare).catch(() => undefined);
}

function fillSamplers(): void {
  field<HTMLSelectElement>('sampler').replaceChildren(option('', 'model default', true), ...SAMPLERS.map((s) => option(s, s, false)));
}

init().catch((e) => showError((e as Error).message));
