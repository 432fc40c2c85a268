// Real-width blocks of FLUX.1 and Wan2.1-1.3B on this engine against PyTorch, and the peak RSS of a small
// real-width FLUX model (issue #14 §8). Random deterministic weights; every block is timed through the
// denoiser contract's `blocks(i, i + 1, …)` segment at batch 1, float32, and the same block written in
// PyTorch (bench/torch_flux_wan_blocks.py, spawned per block and shape) is timed in the same run.
// FLOPs come from the project's own functions (FLUX blockFlopsAt, Wan blockFlops: projections, MLP and
// both attention products). Before timing, a small config of each block is run through both
// implementations on the same weights and inputs, so the PyTorch side is checked to compute our math.
// The peak-RSS measurement runs in a fresh process of its own (this script with --rss-child).
// Usage (also spawned by `npm run bench:engine`):
//   node --import tsx bench/flux-wan-blocks.ts [--threads 2] [--runs 3] [--small] [--no-torch] [--no-rss]
//        [--prepack] [--only check,rss,flux,wan] [--flux-grids 64x64,16x16] [--wan-latents 1x60x104,5x60x104] [--out FILE]
//   --small: tiny widths and token counts, for developing this script (no report file is written).
//   --prepack: let ORT pre-pack the block weights (default: as the full-size models run, i.e. without).
//   The report goes to bench/results/flux-wan-blocks-<date>.txt unless --out says otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { Rng } from '../src/diffusion/rng.js';
import { writeFileAtomicSync } from '../src/io/atomic.js';
import { FluxConfig, ROPE_THETA, fluxConfigFromDiffusersJson, innerDim as fluxInnerDim } from '../src/models/flux/config.js';
import { FLUX_PREPACK_MAX_WEIGHT_BYTES } from '../src/models/flux/engine.js';
import { Flux } from '../src/models/flux/flux.js';
import { blockFlopsAt, blockPrefix, parameterShapes as fluxParameterShapes } from '../src/models/flux/params.js';
import { randomFluxWeights } from '../src/models/flux/random-weights.js';
import { imageIds, jointIds, ropeTables as fluxRopeTables, textIds } from '../src/models/flux/rope.js';
import { WAN21_T2V_1_3B, WanConfig, innerDim as wanInnerDim } from '../src/models/wan/config.js';
import { WanGeometry, condLayout, tokenCount, tokenGrid } from '../src/models/wan/geometry.js';
import { parameterShapes as wanParameterShapes } from '../src/models/wan/graph.js';
import { randomWanWeights } from '../src/models/wan/random-weights.js';
import { ropeTables as wanRopeTables } from '../src/models/wan/rope.js';
import { PREPACK_MAX_WEIGHT_BYTES as WAN_PREPACK_MAX_WEIGHT_BYTES, Wan } from '../src/models/wan/wan.js';
import type { WeightSource } from '../src/models/weights.js';
import { defaultThreads } from '../src/runtime/session.js';

// ---------------------------------------------------------------- options and shapes

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const option = (name: string, fallback: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const threads = Number(option('--threads', String(defaultThreads())));
const runs = Number(option('--runs', '3'));
const small = flag('--small');
const python = option('--python', '/usr/bin/python3');
/** parts to run, comma-separated: check (torch cross-check), rss, flux, wan; default all */
const only = new Set(option('--only', 'check,rss,flux,wan').split(','));
const here = path.dirname(fileURLToPath(import.meta.url));
const torchScript = path.join(here, 'torch_flux_wan_blocks.py');

interface Shapes {
  flux: { heads: number; headDim: number; axes: number[]; textWidth: number; pooledWidth: number; textTokens: number; imageGrids: [number, number][] };
  wan: { heads: number; headDim: number; ffn: number; textDim: number; textTokens: number; latents: [number, number, number][] };
  /** the model whose peak RSS is measured: double and single blocks at the flux width, one geometry */
  rss: { double: number; single: number; imageGrid: [number, number]; textTokens: number };
}

/**
 * Real widths: FLUX.1 (24 heads × 128, MLP 4×, T5 4096, CLIP 768) at 1024² (64 × 64 packed tokens) and
 * 256² (16 × 16), 512 text tokens; Wan2.1-1.3B (12 × 128, ffn 8960, text_dim 4096) at 480 × 832 with 1 and
 * 5 latent frames (1 and 17 video frames; 30 × 52 tokens per frame), 512 text tokens.
 */
const FULL: Shapes = {
  flux: { heads: 24, headDim: 128, axes: [16, 56, 56], textWidth: 4096, pooledWidth: 768, textTokens: 512, imageGrids: [[64, 64], [16, 16]] },
  wan: { heads: WAN21_T2V_1_3B.numHeads, headDim: WAN21_T2V_1_3B.headDim, ffn: WAN21_T2V_1_3B.ffnDim, textDim: WAN21_T2V_1_3B.textDim, textTokens: 512, latents: [[1, 60, 104], [5, 60, 104]] },
  rss: { double: 2, single: 2, imageGrid: [16, 16], textTokens: 512 },
};
/** Small enough to run in seconds; also the shapes of the PyTorch cross-check. */
const SMALL: Shapes = {
  flux: { heads: 4, headDim: 32, axes: [8, 12, 12], textWidth: 64, pooledWidth: 32, textTokens: 16, imageGrids: [[8, 8], [4, 4]] },
  wan: { heads: 2, headDim: 64, ffn: 256, textDim: 64, textTokens: 16, latents: [[1, 8, 8], [2, 8, 12]] },
  rss: { double: 2, single: 2, imageGrid: [4, 4], textTokens: 16 },
};
/** "64x64,16x16" → [[64, 64], [16, 16]] (FLUX packed grids or Wan latents F×H×W). */
const sizeList = (v: string): number[][] => v.split(',').map((one) => one.split('x').map(Number));
const base = small ? SMALL : FULL;
const shapes: Shapes = {
  ...base,
  flux: { ...base.flux, imageGrids: flag('--flux-grids') ? (sizeList(option('--flux-grids', '')) as [number, number][]) : base.flux.imageGrids },
  wan: { ...base.wan, latents: flag('--wan-latents') ? (sizeList(option('--wan-latents', '')) as [number, number, number][]) : base.wan.latents },
};

function fluxConfig(s: Shapes['flux'], double: number, single: number): FluxConfig {
  return fluxConfigFromDiffusersJson(
    {
      num_layers: double,
      num_single_layers: single,
      num_attention_heads: s.heads,
      attention_head_dim: s.headDim,
      axes_dims_rope: s.axes,
      joint_attention_dim: s.textWidth,
      pooled_projection_dim: s.pooledWidth,
      guidance_embeds: true,
    },
    '<bench FLUX config>',
  );
}

function wanConfig(s: Shapes['wan'], layers: number): WanConfig {
  return { ...WAN21_T2V_1_3B, numHeads: s.heads, headDim: s.headDim, ffnDim: s.ffn, textDim: s.textDim, numLayers: layers };
}

const sumBytes = (m: ReadonlyMap<string, number[]>): number => [...m.values()].reduce((a, s) => a + 4 * s.reduce((x, y) => x * y, 1), 0);

/**
 * ORT pre-packing as the whole model gets it (FLUX.1: 12B parameters, Wan2.1-1.3B: 5.7 GB in float32, both
 * above the engines' pre-packing limits, so they run unpacked); --prepack turns it on for comparison.
 */
const fluxPrepack = flag('--prepack') || sumBytes(fluxParameterShapes(fluxConfig(shapes.flux, 19, 38))) <= FLUX_PREPACK_MAX_WEIGHT_BYTES;
const wanPrepack = flag('--prepack') || sumBytes(wanParameterShapes(wanConfig(shapes.wan, WAN21_T2V_1_3B.numLayers))) <= WAN_PREPACK_MAX_WEIGHT_BYTES;

const randn = (n: number, seed: number): Float32Array => new Rng(seed).randn(n);

// ---------------------------------------------------------------- measuring

/** Peak resident set of this process in bytes (VmHWM; maxRSS where /proc is absent). */
function peakRssBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '');
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

function currentRssBytes(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '');
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

interface Timing {
  /** the first call: graph build (random weights generated then), session creation, first run */
  firstMs: number;
  /** of which graph build and session creation (the model's compileMs) */
  compileMs: number;
  /** the untimed runs after the first call (ORT's arena may still grow in them, see WARMUP_RUNS) */
  warmupMs: number[];
  ms: number[];
  medianMs: number;
  minMs: number;
  /** this process's RSS right after the timed runs, the block's session still held */
  rssBytes: number;
  /** the 1-minute load average right after the timed runs (our 2 threads alone make ~2; more = other jobs) */
  load1: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Runs after the first call that are not counted: at 4608 tokens the session's memory arena grew again
 * in the second run (6.5 → 10.9 GB for the single block), each growth paying this VM's slow first-touch
 * page faults (~1 s per 400 MB), so the first two calls are reported apart from the timed runs.
 */
const WARMUP_RUNS = 1;

/** First call (compile) apart, the warm-up run(s), then `runs` timed runs. */
async function timeSegment(run: () => Promise<unknown>, compileMs: () => number): Promise<Timing> {
  const c0 = compileMs();
  const t0 = performance.now();
  await run();
  const firstMs = performance.now() - t0;
  const compiled = compileMs() - c0;
  const warmupMs: number[] = [];
  for (let i = 0; i < WARMUP_RUNS; i++) {
    const t = performance.now();
    await run();
    warmupMs.push(performance.now() - t);
  }
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  return { firstMs, compileMs: compiled, warmupMs, ms, medianMs: median(ms), minMs: Math.min(...ms), rssBytes: currentRssBytes(), load1: os.loadavg()[0] };
}

interface TorchTiming {
  medianMs: number;
  minMs: number;
  firstMs: number;
  ms: number[];
  peakRssBytes: number;
  torch: string;
  /** the 1-minute load average when the script returned (set here, not by the script) */
  load1: number;
}

/** The RESULT json line of a child process, or an error quoting its output. */
function childResult<T>(what: string, r: ReturnType<typeof spawnSync>): T {
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${out.trim()}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

type TorchBlock = 'flux-double' | 'flux-single' | 'wan';
interface TorchDims {
  tokens: number;
  text: number;
  heads: number;
  headDim: number;
  ffn?: number;
}

function runTorch<T>(block: TorchBlock, d: TorchDims, extra: string[] = []): T {
  const a = ['--block', block, '--tokens', String(d.tokens), '--text', String(d.text), '--heads', String(d.heads), '--head-dim', String(d.headDim)];
  if (d.ffn) a.push('--ffn', String(d.ffn));
  a.push('--threads', String(threads), '--runs', String(runs), ...extra);
  const r = spawnSync(python, [torchScript, ...a], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) } });
  return { ...childResult<T>(`${python} ${path.basename(torchScript)} ${a.join(' ')}`, r), load1: os.loadavg()[0] };
}

// ---------------------------------------------------------------- rows of the report

interface Row {
  block: string;
  shape: string;
  flops: number;
  ours: Timing;
  torch?: TorchTiming;
}
const rows: Row[] = [];
const notes: string[] = [];

function gflops(flops: number, ms: number): number {
  return flops / 1e6 / ms;
}

function logRow(r: Row, side: 'ours' | 'torch'): void {
  const t = side === 'ours' ? r.ours : r.torch!;
  const extra =
    side === 'ours'
      ? `first call ${(r.ours.firstMs / 1000).toFixed(1)} s (compile ${(r.ours.compileMs / 1000).toFixed(1)} s), warm-up ${r.ours.warmupMs.map((m) => (m / 1000).toFixed(1)).join(', ')} s, RSS ${GB(r.ours.rssBytes)}`
      : `first run ${(r.torch!.firstMs / 1000).toFixed(1)} s, peak RSS ${GB(r.torch!.peakRssBytes)}`;
  console.log(`${side.padEnd(5)} ${r.block} ${r.shape}: ${t.medianMs.toFixed(1)} ms (min ${t.minMs.toFixed(1)}) ${gflops(r.flops, t.medianMs).toFixed(1)} GFLOP/s; ${extra}`);
}

// ---------------------------------------------------------------- FLUX blocks

const fluxTokens = (s: Shapes['flux'], grid: [number, number]): { text: number; image: number } => ({ text: s.textTokens, image: grid[0] * grid[1] });

async function benchFlux(withTorch: boolean): Promise<void> {
  const s = shapes.flux;
  const c = fluxConfig(s, 1, 1); // stack block 0 is the double block, block 1 the single block
  const D = fluxInnerDim(c);
  const model = Flux.create(c, randomFluxWeights(c), { threads, prepack: fluxPrepack });
  for (const grid of s.imageGrids) {
    const n = fluxTokens(s, grid);
    const T = n.text + n.image;
    const m = model.withGeometry({ imageGrid: grid, textTokens: n.text });
    const tokens = randn(T * D, 11);
    const temb = randn(D, 12);
    const shape = `${n.image} img + ${n.text} txt tokens`;
    const measured: Row[] = [];
    for (const [i, name] of [[0, 'FLUX double-stream'], [1, 'FLUX single-stream']] as const) {
      const ours = await timeSegment(() => m.blocks(i, i + 1, tokens, temb, 1), () => m.compileMs);
      const row: Row = { block: name, shape, flops: blockFlopsAt(c, i, T), ours };
      measured.push(row);
      logRow(row, 'ours');
      // Each session keeps its own activation arena (~9 GB at 4608 tokens), so one block's session is
      // freed before the next compiles, and ours before PyTorch allocates its own.
      await model.release();
    }
    if (withTorch) {
      for (const [row, block] of [[measured[0], 'flux-double'], [measured[1], 'flux-single']] as const) {
        row.torch = runTorch<TorchTiming>(block, { tokens: n.image, text: n.text, heads: s.heads, headDim: s.headDim });
        logRow(row, 'torch');
      }
    }
    rows.push(...measured);
  }
}

// ---------------------------------------------------------------- Wan blocks

async function benchWan(withTorch: boolean): Promise<void> {
  const s = shapes.wan;
  const c = wanConfig(s, 1);
  const weights = randomWanWeights(c);
  for (const [F, H, W] of s.latents) {
    const model = new Wan(c, weights, { threads, prepack: wanPrepack, latentShape: [c.inChannels, F, H, W], textTokens: s.textTokens });
    const T = model.tokens;
    const tokens = randn(T * model.hiddenSize, 21);
    const cond = randn(model.condSize, 22);
    const ours = await timeSegment(() => model.blocks(0, 1, tokens, cond, 1), () => model.compileMs);
    const row: Row = { block: 'Wan2.1-1.3B block', shape: `${T} video tokens (latent ${F}×${H}×${W}) + ${s.textTokens} txt`, flops: model.blockFlops, ours };
    logRow(row, 'ours');
    await model.release();
    if (withTorch) {
      row.torch = runTorch<TorchTiming>('wan', { tokens: T, text: s.textTokens, heads: s.heads, headDim: s.headDim, ffn: s.ffn });
      logRow(row, 'torch');
    }
    rows.push(row);
  }
}

// ---------------------------------------------------------------- the PyTorch cross-check (small shapes)

/** Named float32 tensors written as one raw file and a manifest, for torch_flux_wan_blocks.py --check. */
function dumpTensors(dir: string, prefix: string, tensors: ReadonlyMap<string, { data: Float32Array; shape: number[] }>): void {
  fs.mkdirSync(dir, { recursive: true });
  const manifest: Record<string, { shape: number[]; offset: number }> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    manifest[name] = { shape: t.shape, offset };
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += t.data.length;
  }
  fs.writeFileSync(path.join(dir, 'tensors.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ prefix, tensors: manifest }));
}

function blockWeights(weights: WeightSource, all: ReadonlyMap<string, number[]>, prefix: string): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [k, shape] of all) if (k.startsWith(prefix)) out.set(k, { data: weights.get(k)!, shape });
  return out;
}

/** max |torch − ours| / max |ours| per block kind, at the SMALL shapes, same weights and inputs. */
async function crossCheck(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpade-blocks-check-'));
  const lines: string[] = [];
  try {
    const s = SMALL.flux;
    const c = fluxConfig(s, 1, 1);
    const D = fluxInnerDim(c);
    const weights = randomFluxWeights(c, 3);
    const grid = s.imageGrids[0];
    const n = fluxTokens(s, grid);
    const T = n.text + n.image;
    const model = Flux.create(c, weights, { threads, geometry: { imageGrid: grid, textTokens: n.text } });
    const rope = fluxRopeTables(jointIds(textIds(n.text), imageIds(grid[0], grid[1])), T, c.axesDimsRope, ROPE_THETA);
    const tokens = randn(T * D, 31);
    const temb = randn(D, 32);
    for (const [i, block] of [[0, 'flux-double'], [1, 'flux-single']] as const) {
      const out = await model.blocks(i, i + 1, tokens, temb, 1);
      const t = blockWeights(weights, fluxParameterShapes(c), blockPrefix(c, i));
      t.set('in.tokens', { data: tokens, shape: [1, T, D] });
      t.set('in.temb', { data: temb, shape: [1, D] });
      t.set('in.rope_cos', { data: rope.cos, shape: [T, c.headDim] });
      t.set('in.rope_sin', { data: rope.sin, shape: [T, c.headDim] });
      t.set('out', { data: out, shape: [1, T, D] });
      dumpTensors(path.join(dir, block), blockPrefix(c, i), t);
      const r = runTorch<{ relMaxError: number }>(block, { tokens: n.image, text: n.text, heads: s.heads, headDim: s.headDim }, ['--check', path.join(dir, block)]);
      lines.push(`${block} (D ${D}, ${n.image}+${n.text} tokens): ${r.relMaxError.toExponential(2)}`);
    }
    await model.release();

    const sw = SMALL.wan;
    const cw = wanConfig(sw, 1);
    const Dw = wanInnerDim(cw);
    const ww = randomWanWeights(cw, 3);
    const [F, H, W] = sw.latents[1];
    const geo: WanGeometry = { frames: F, height: H, width: W, textTokens: sw.textTokens };
    const wan = new Wan(cw, ww, { threads, latentShape: [cw.inChannels, F, H, W], textTokens: sw.textTokens });
    const Tw = tokenCount(cw, geo);
    const layout = condLayout(cw, geo);
    const h = randn(Tw * Dw, 33);
    const cond = randn(layout.size, 34);
    const out = await wan.blocks(0, 1, h, cond, 1);
    const ropeW = wanRopeTables(cw, tokenGrid(cw, geo));
    const t = blockWeights(ww, wanParameterShapes(cw), 'blocks.0.');
    const part = ([at, width]: readonly [number, number]): Float32Array => cond.subarray(at, at + width);
    t.set('in.tokens', { data: h, shape: [1, Tw, Dw] });
    t.set('in.timestep_proj', { data: part(layout.timestepProj), shape: [1, 6 * Dw] });
    t.set('in.text', { data: part(layout.text), shape: [1, sw.textTokens, Dw] });
    t.set('in.rope_cos', { data: ropeW.cos, shape: [Tw, cw.headDim / 2] });
    t.set('in.rope_sin', { data: ropeW.sin, shape: [Tw, cw.headDim / 2] });
    t.set('out', { data: out, shape: [1, Tw, Dw] });
    dumpTensors(path.join(dir, 'wan'), 'blocks.0.', t);
    const r = runTorch<{ relMaxError: number }>('wan', { tokens: Tw, text: sw.textTokens, heads: sw.heads, headDim: sw.headDim, ffn: sw.ffn }, ['--check', path.join(dir, 'wan')]);
    lines.push(`wan (D ${Dw}, ${Tw}+${sw.textTokens} tokens): ${r.relMaxError.toExponential(2)}`);
    await wan.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

// ---------------------------------------------------------------- peak RSS of a small real-width FLUX model (child process)

interface MemoryMark {
  /** what the graph being built holds: a block's key prefix, or "stem/head" */
  part: string;
  rssBytes: number;
  peakBytes: number;
}

interface RssResult {
  weightBytes: number;
  baselinePeakBytes: number;
  afterCreateRssBytes: number;
  afterFirstForwardRssBytes: number;
  /** the same after a full garbage collection: what ORT (and node) hold, without JS garbage of the compiles */
  afterGcRssBytes: number;
  peakBytes: number;
  firstForwardMs: number;
  forwardMs: number;
  compileMs: number;
  /** RSS and peak when each graph's build began (the weights are generated then) */
  marks: MemoryMark[];
}

/** A weight source that notes the process's memory whenever a graph starts drawing another part's weights. */
class MarkedWeights implements WeightSource {
  readonly marks: MemoryMark[] = [];
  constructor(private readonly inner: WeightSource) {}

  get(key: string): Float32Array | undefined {
    const part = /^(single_)?transformer_blocks\.\d+/.exec(key)?.[0] ?? 'stem/head';
    if (this.marks.at(-1)?.part !== part) this.marks.push({ part, rssBytes: currentRssBytes(), peakBytes: peakRssBytes() });
    return this.inner.get(key);
  }

  keys(): IterableIterator<string> {
    return this.inner.keys();
  }

  numel(key: string): number | undefined {
    return this.inner.numel?.(key);
  }
}

/** Runs in a fresh process: create the model (lazy random weights), two forwards, peak RSS. */
async function rssChild(): Promise<void> {
  const s = shapes.rss;
  const c = fluxConfig(shapes.flux, s.double, s.single);
  const weightBytes = sumBytes(fluxParameterShapes(c));
  const baselinePeakBytes = peakRssBytes();
  const weights = new MarkedWeights(randomFluxWeights(c));
  const model = Flux.create(c, weights, { threads, geometry: { imageGrid: s.imageGrid, textTokens: s.textTokens } });
  const afterCreateRssBytes = currentRssBytes();
  const L = s.imageGrid[0] * s.imageGrid[1];
  const x = randn(L * c.inChannels, 41);
  const cond = {
    textEmbeddings: { data: randn(s.textTokens * c.jointAttentionDim, 42), shape: [s.textTokens, c.jointAttentionDim] },
    pooledText: { data: randn(c.pooledProjectionDim, 43), shape: [c.pooledProjectionDim] },
    guidance: [3.5],
  };
  let t0 = performance.now();
  await model.forward(x, [1, L, c.inChannels], [500], cond);
  const firstForwardMs = performance.now() - t0;
  const afterFirstForwardRssBytes = currentRssBytes();
  (globalThis as { gc?: () => void }).gc?.(); // the child runs with --expose-gc
  const afterGcRssBytes = currentRssBytes();
  t0 = performance.now();
  await model.forward(x, [1, L, c.inChannels], [500], cond);
  const forwardMs = performance.now() - t0;
  const result: RssResult = {
    weightBytes,
    baselinePeakBytes,
    afterCreateRssBytes,
    afterFirstForwardRssBytes,
    afterGcRssBytes,
    peakBytes: peakRssBytes(),
    firstForwardMs,
    forwardMs,
    compileMs: model.compileMs,
    marks: weights.marks,
  };
  await model.release();
  console.log(`RESULT ${JSON.stringify(result)}`);
}

function runRssChild(): RssResult {
  const script = fileURLToPath(import.meta.url);
  const a = ['--expose-gc', '--import', 'tsx', script, '--rss-child', '--threads', String(threads), ...(small ? ['--small'] : [])];
  return childResult<RssResult>('the peak-RSS child', spawnSync(process.execPath, a, { encoding: 'utf8', maxBuffer: 1 << 24 }));
}

// ---------------------------------------------------------------- report

const GB = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
/** Milliseconds with the decimals a reader needs at that size. */
const fmtMs = (ms: number): string => ms.toFixed(ms < 10 ? 2 : ms < 1000 ? 1 : 0);

function table(): string[] {
  const cols = (c: string[]): string => c.join(' │ ');
  const head = cols([
    `${'block'.padEnd(20)} ${'tokens'.padEnd(46)} ${'GFLOP'.padStart(7)}`,
    `${'ours ms (min)'.padStart(15)} ${'GFLOP/s'.padStart(7)} ${'1st call s (compile)'.padStart(20)} ${'2nd s'.padStart(5)} ${'RSS GB'.padStart(6)} ${'load'.padStart(4)}`,
    `${'torch ms (min)'.padStart(15)} ${'GFLOP/s'.padStart(7)} ${'1st s'.padStart(5)} ${'peak GB'.padStart(7)} ${'load'.padStart(4)}`,
    'torch/ours',
  ]);
  const lines = [head];
  for (const r of rows) {
    const o = r.ours;
    const t = r.torch;
    lines.push(
      cols([
        `${r.block.padEnd(20)} ${r.shape.padEnd(46)} ${(r.flops / 1e9).toFixed(r.flops < 1e10 ? 3 : 1).padStart(7)}`,
        `${`${fmtMs(o.medianMs)} (${fmtMs(o.minMs)})`.padStart(15)} ${gflops(r.flops, o.medianMs).toFixed(1).padStart(7)} ${`${(o.firstMs / 1000).toFixed(1)} (${(o.compileMs / 1000).toFixed(1)})`.padStart(20)} ${o.warmupMs.map((m) => (m / 1000).toFixed(1)).join('/').padStart(5)} ${(o.rssBytes / 1e9).toFixed(2).padStart(6)} ${o.load1.toFixed(1).padStart(4)}`,
        t
          ? `${`${fmtMs(t.medianMs)} (${fmtMs(t.minMs)})`.padStart(15)} ${gflops(r.flops, t.medianMs).toFixed(1).padStart(7)} ${(t.firstMs / 1000).toFixed(1).padStart(5)} ${(t.peakRssBytes / 1e9).toFixed(2).padStart(7)} ${t.load1.toFixed(1).padStart(4)}`
          : `${'—'.padStart(15)} ${'—'.padStart(7)} ${'—'.padStart(5)} ${'—'.padStart(7)} ${'—'.padStart(4)}`,
        t ? `${(t.medianMs / o.medianMs).toFixed(2)}×`.padStart(10) : '—'.padStart(10),
      ]),
    );
  }
  return lines;
}

function rssLines(r: RssResult): string[] {
  const s = shapes.rss;
  return [
    `FLUX-shaped model at the width above, ${s.double} double + ${s.single} single blocks, random weights generated lazily per tensor (nothing held in JS`,
    `until a graph compiles), ${s.imageGrid[0] * s.imageGrid[1]} img + ${s.textTokens} txt tokens, batch 1; forward = embed → block graphs of ≤ 0.4 GB of weights`,
    `(a larger block alone) → head; ORT pre-packing ${r.weightBytes > FLUX_PREPACK_MAX_WEIGHT_BYTES ? 'off (model above 1 GB)' : 'on'}; fresh process:`,
    `  float32 weight bytes                 ${GB(r.weightBytes)}`,
    `  peak RSS before the model (node+ORT) ${GB(r.baselinePeakBytes)}`,
    `  RSS after Flux.create                ${GB(r.afterCreateRssBytes)}`,
    `  RSS after the first forward          ${GB(r.afterFirstForwardRssBytes)} = ${(r.afterFirstForwardRssBytes / r.weightBytes).toFixed(2)}× the weights`,
    `  … then after a full GC               ${GB(r.afterGcRssBytes)} = ${(r.afterGcRssBytes / r.weightBytes).toFixed(2)}× the weights (the compiles' JS garbage freed)`,
    `  peak RSS (VmHWM) after two forwards  ${GB(r.peakBytes)} = ${(r.peakBytes / r.weightBytes).toFixed(2)}× the weights`,
    `  first forward ${(r.firstForwardMs / 1000).toFixed(1)} s (graph builds + sessions ${(r.compileMs / 1000).toFixed(1)} s), second forward ${(r.forwardMs / 1000).toFixed(2)} s`,
    `  RSS / peak RSS when each graph's build began (its weights are generated then), in forward order:`,
    ...r.marks.map((m) => `    ${m.part.padEnd(30)} ${GB(m.rssBytes)} / ${GB(m.peakBytes)}`),
    `    ${'after the first forward'.padEnd(30)} ${GB(r.afterFirstForwardRssBytes)}`,
  ];
}

async function main(): Promise<void> {
  const withTorch = !flag('--no-torch');
  const machine = `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; threads = ${threads} (ORT intra-op; torch.set_num_threads + OPENBLAS_NUM_THREADS); node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
  console.log(machine);
  const started = new Date();

  const check = withTorch && only.has('check') ? await crossCheck() : [];
  for (const l of check) console.log(`cross-check torch vs ours, rel max error: ${l}`);
  const rss = flag('--no-rss') || !only.has('rss') ? undefined : runRssChild();
  if (rss) for (const l of rssLines(rss)) console.log(l);
  if (only.has('flux')) await benchFlux(withTorch);
  if (only.has('wan')) await benchWan(withTorch);
  if (withTorch) notes.push(`torch: ${rows.find((r) => r.torch)?.torch?.torch ?? '?'} (${python}), float32, inference_mode, attention as matmul + softmax + matmul (no SDPA in 1.13)`);

  const report = [
    `# bench/flux-wan-blocks.ts — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC${small ? ' (--small: development shapes, not real width)' : ''}`,
    `# command: node --import tsx bench/flux-wan-blocks.ts ${argv.join(' ')}`.trimEnd(),
    `# ${machine}`,
    `# One block at batch 1, float32, random weights, timed through the denoiser contract's blocks(i, i + 1, …); median of ${runs} runs after`,
    `# the first call (graph build incl. lazy random-weight generation + session + run) and ${WARMUP_RUNS} warm-up run(s) ("2nd s"). FLOPs = the project's`,
    `# blockFlopsAt (FLUX) / blockFlops (Wan): 2 × multiply-adds of modulation, projections, MLP and both attention products (QKᵀ, PV).`,
    `# FLUX width ${fluxInnerDim(fluxConfig(shapes.flux, 1, 1))} (${shapes.flux.heads} heads × ${shapes.flux.headDim}), MLP 4×; Wan width ${shapes.wan.heads * shapes.wan.headDim} (${shapes.wan.heads} × ${shapes.wan.headDim}), ffn ${shapes.wan.ffn}, cross-attention over ${shapes.wan.textTokens} text tokens already projected to the width (text_dim ${shapes.wan.textDim} is the embedder's, outside the block).`,
    `# ORT weight pre-packing: FLUX ${fluxPrepack ? 'on' : 'off'}, Wan ${wanPrepack ? 'on' : 'off'} (${flag('--prepack') ? 'forced by --prepack' : 'as the whole model at these widths runs: the engines pre-pack only models of ≤ 1 GB float32 weights'}).`,
    ...notes.map((n) => `# ${n}`),
    `# Columns: RSS GB = this process's RSS after the timed runs with the block's session held (its weights and activation arena);`,
    `# peak GB = the PyTorch process's peak; load = 1-minute load average after the runs (≈ 2 is this benchmark alone on 2 cores;`,
    `# more means other jobs shared the cores). Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; wall time ${((Date.now() - started.getTime()) / 60000).toFixed(1)} min.`,
    '',
    ...table(),
    '',
    ...(check.length ? ['PyTorch blocks vs ours on the same weights and inputs (small shapes), max|torch − ours| / max|ours|:', ...check.map((l) => `  ${l}`), ''] : []),
    ...(rss ? rssLines(rss) : []),
  ];
  console.log('');
  for (const l of table()) console.log(l);
  // A partial or development run writes a report only where told to (--out), never over the day's full one.
  if (flag('--out') || (!small && !flag('--only'))) {
    const out = option('--out', path.join(here, 'results', `flux-wan-blocks-${started.toISOString().slice(0, 10)}.txt`));
    writeFileAtomicSync(out, `${report.join('\n')}\n`);
    console.log(`report written to ${path.relative(process.cwd(), out)}`);
  }
}

if (flag('--rss-child')) await rssChild();
else await main();
