// Memory and time of a full-size T5-XXL encoder (FLUX.1's text_encoder_2 shapes: 24 layers, d_model 4096, d_ff
// 10240 gated-GELU, 64 heads × 64, vocab 32128; 4.76 B encoder parameters, 19 GB in float32) with RANDOM weights,
// written as sharded BF16 safetensors as the real checkpoint ships. No trained weights are available here, so
// this measures memory and speed only. Each measurement runs in a fresh child process:
//   encode: loadTextEncoder + forwardRaw of P prompts at 512 tokens (FluxPipeline's call), twice per batch size;
//           peak RSS (getrusage maxrss) and seconds per call, split into weight reading/widening and layer runs.
//   layer:  one layer at 512 tokens through the fed-weights graph the encoder uses, against the same layer compiled
//           with embedded weights (ORT pre-packing on and off), to show what feeding the weights costs.
// Usage: node --import tsx bench/text-encoders.ts [--small] [--dir DIR] [--keep] [--prompts 1,2] [--threads 2]
//        [--resident-bytes N] [--prepare] [--out FILE]
//   --small: a tiny config, for developing this script (no report is written unless --out is given).
//   --resident-bytes: the encoder's residentWeightBytes (default: the library's; 0 streams even a small model).
//   --prepare: only write the random folder (kept), so the measurement can run later on a quiet machine.
//   The random folder goes to DIR (default a temporary folder, removed afterwards unless --keep).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../src/graph/builder.js';
import { writeFileAtomicSync } from '../src/io/atomic.js';
import { findSafetensors, readSafetensorsHeaders, readStoredFloat32 } from '../src/io/sharded-safetensors.js';
import { writeSafetensorsSync } from '../src/io/safetensors.js';
import type { ParamSource } from '../src/models/layers.js';
import { textEncoderConfigFromJson, type T5EncoderConfig } from '../src/models/text/config.js';
import { loadTextEncoder } from '../src/models/text/index.js';
import { T5_BLOCK_PREFIX, relativePositionBuckets, t5Block, t5BlockShapes, t5MaskBias, t5ParameterShapes } from '../src/models/text/t5.js';
import { CompiledGraph, type Feed, defaultThreads } from '../src/runtime/session.js';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const option = (name: string, fallback: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const here = path.dirname(fileURLToPath(import.meta.url));
const small = flag('--small');
const threads = Number(option('--threads', String(defaultThreads())));

/** google/t5-v1_1-xxl's encoder as FLUX.1 ships it (text_encoder_2/config.json), or a tiny stand-in. */
const CONFIG = small
  ? { model_type: 't5', architectures: ['T5EncoderModel'], vocab_size: 1000, d_model: 64, d_kv: 16, d_ff: 160, num_layers: 4, num_heads: 4, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu_new', is_gated_act: true, layer_norm_epsilon: 1e-6 }
  : { model_type: 't5', architectures: ['T5EncoderModel'], vocab_size: 32128, d_model: 4096, d_kv: 64, d_ff: 10240, num_layers: 24, num_heads: 64, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu_new', is_gated_act: true, layer_norm_epsilon: 1e-6 };
const TOKENS = small ? 64 : 512;
const LAYERS_PER_SHARD = 2;

// ---------------------------------------------------------------- the random BF16 folder

/**
 * Uniform bf16 values of standard deviation `std` around `center` (T5's init scales: q ~ (d_model·d_kv)^−½,
 * k, v, wi ~ d_model^−½, o ~ (heads·d_kv)^−½, wo ~ d_ff^−½, embedding 1, norms 1), xorshift32 per tensor.
 */
function randomBf16(n: number, seed: number, center: number, std: number): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  let s = (seed * 2654435761) >>> 0 || 1;
  const half = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    f[0] = center + half * ((s >>> 0) / 2 ** 31 - 1);
    out[i] = bits[0] >>> 16;
  }
  return out;
}

function initStd(key: string, c: T5EncoderConfig): { center: number; std: number } {
  if (/layer_norm/.test(key)) return { center: 1, std: 0 };
  if (/relative_attention_bias|shared/.test(key)) return { center: 0, std: key.includes('shared') ? 1 : c.dModel ** -0.5 };
  if (/SelfAttention\.q\./.test(key)) return { center: 0, std: (c.dModel * c.dKv) ** -0.5 };
  if (/SelfAttention\.o\./.test(key)) return { center: 0, std: (c.numHeads * c.dKv) ** -0.5 };
  if (/\.wo\./.test(key)) return { center: 0, std: c.dFf ** -0.5 };
  return { center: 0, std: c.dModel ** -0.5 };
}

function writeRandomFolder(dir: string, c: T5EncoderConfig): void {
  const marker = path.join(dir, 'complete.json');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === JSON.stringify(CONFIG)) return;
  fs.mkdirSync(dir, { recursive: true });
  const shapes = t5ParameterShapes(c);
  const keys = [...shapes.keys()];
  const shardOf = (k: string): number => {
    const m = /^encoder\.block\.(\d+)\./.exec(k);
    return m ? Math.floor(Number(m[1]) / LAYERS_PER_SHARD) : k === 'shared.weight' ? 0 : Math.floor((c.numLayers - 1) / LAYERS_PER_SHARD);
  };
  const shards = Math.floor((c.numLayers - 1) / LAYERS_PER_SHARD) + 1;
  const name = (s: number): string => `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
  const weightMap: Record<string, string> = {};
  const started = performance.now();
  for (let s = 0; s < shards; s++) {
    const tensors: Record<string, { dtype: 'BF16'; shape: number[]; data: Uint16Array }> = {};
    keys.filter((k) => shardOf(k) === s).forEach((k) => {
      const shape = shapes.get(k)!;
      const { center, std } = initStd(k, c);
      tensors[k] = { dtype: 'BF16', shape, data: randomBf16(shape.reduce((a, b) => a * b, 1), keys.indexOf(k) + 1, center, std) };
      weightMap[k] = name(s);
    });
    writeSafetensorsSync(path.join(dir, name(s)), tensors, { format: 'pt' });
    console.error(`  wrote ${name(s)} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(CONFIG));
  fs.writeFileSync(marker, JSON.stringify(CONFIG));
}

// ---------------------------------------------------------------- children

/** Deterministic token ids: FluxPipeline's rows are prompt tokens, EOS (1), then padding (0). */
function promptIds(prompts: number, L: number, vocab: number): BigInt64Array {
  const ids = new BigInt64Array(prompts * L);
  for (let p = 0; p < prompts; p++) {
    const n = 20 + 15 * p; // prompt lengths 20, 35, …
    for (let j = 0; j < n; j++) ids[p * L + j] = BigInt(100 + ((p * 7919 + j * 104729) % (vocab - 100)));
    ids[p * L + n] = 1n;
  }
  return ids;
}

const rss = (): number => process.memoryUsage().rss;
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

async function encodeChild(dir: string, batches: number[]): Promise<object> {
  const rssStart = rss();
  let t = performance.now();
  const residentWeightBytes = argv.includes('--resident-bytes') ? Number(option('--resident-bytes', '0')) : undefined;
  const enc = await loadTextEncoder(dir, { threads, residentWeightBytes });
  const loadMs = performance.now() - t;
  const rssLoaded = rss();
  const calls: object[] = [];
  for (const P of batches) {
    for (let rep = 0; rep < 2; rep++) {
      const before = { ...enc.timing };
      t = performance.now();
      const o = await enc.forwardRaw({ input_ids: { data: promptIds(P, TOKENS, CONFIG.vocab_size), shape: [P, TOKENS] } });
      const ms = performance.now() - t;
      const h = o.last_hidden_state.data as Float32Array;
      let maxAbs = 0;
      let finite = true;
      for (const v of h) {
        if (!Number.isFinite(v)) finite = false;
        else maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      calls.push({ prompts: P, rep, ms, weightMs: enc.timing.weightMs - before.weightMs, runMs: enc.timing.runMs - before.runMs, compileMs: enc.compileMs, finite, maxAbs, peakRss: peakRss() });
      console.error(`  P=${P} rep ${rep}: ${(ms / 1000).toFixed(1)} s, peak RSS ${(peakRss() / 2 ** 30).toFixed(2)} GiB`);
    }
  }
  await enc.release();
  return { resident: enc.resident, loadMs, rssStart, rssLoaded, calls, peakRss: peakRss() };
}

/** One layer at TOKENS tokens, batch 1: the fed-weights graph (as LayerStack builds it) vs embedded weights. */
async function layerChild(dir: string): Promise<object> {
  const c = textEncoderConfigFromJson(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), 'config.json') as T5EncoderConfig;
  const stored = readSafetensorsHeaders(findSafetensors(dir, 'model')!.weightFiles);
  const weights = new Map([...t5BlockShapes(c).keys()].map((k) => [k, readStoredFloat32(stored.get(`${T5_BLOCK_PREFIX}0.${k}`)!)] as const));
  const L = TOKENS;
  const x = Float32Array.from({ length: L * c.dModel }, (_, i) => Math.sin(i));
  const common: Record<string, Feed> = {
    h: { data: x, shape: [1, L, c.dModel] },
    buckets: { data: relativePositionBuckets(L, c.relativeBuckets, c.relativeMaxDistance), shape: [L, L] },
    mask_bias: { data: t5MaskBias(1, L), shape: [1, 1, 1, L] },
  };
  const build = (P: ParamSource): GraphBuilder => {
    const g = new GraphBuilder('t5_layer');
    const h = g.input('h', 'float32', ['B', L, c.dModel]);
    g.output('out', t5Block(g, c, P, h, g.input('buckets', 'int64', [L, L]), g.input('mask_bias', 'float32', ['B', 1, 1, L]), L));
    return g;
  };
  const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  async function time(cg: CompiledGraph, feeds: Record<string, Feed>): Promise<number> {
    await cg.run(feeds); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await cg.run(feeds);
      ms.push(performance.now() - t);
    }
    return median(ms);
  }
  const out: Record<string, number> = {};
  {
    const declared = new Map<string, ReturnType<GraphBuilder['input']>>();
    let t = performance.now();
    const cg = await CompiledGraph.create(build((g, key, shape) => declared.get(key) ?? declared.set(key, g.input(key, 'float32', shape)).get(key)!).build(), { threads });
    out.fedCompileMs = performance.now() - t;
    const feeds: Record<string, Feed> = { ...common };
    for (const [k, s] of t5BlockShapes(c)) feeds[k] = { data: weights.get(k)!, shape: s };
    out.fedRunMs = await time(cg, feeds);
    await cg.release();
  }
  for (const prepack of [true, false]) {
    const t = performance.now();
    const cg = await CompiledGraph.create(build((g, key, shape) => g.param(key, shape, weights.get(key)!)).build(), { threads, prepack });
    out[`embedded${prepack ? 'Prepacked' : ''}CompileMs`] = performance.now() - t;
    out[`embedded${prepack ? 'Prepacked' : ''}RunMs`] = await time(cg, common);
    await cg.release();
  }
  out.peakRss = peakRss();
  return out;
}

function child(mode: string, dir: string, extra: string[] = []): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), `--${mode}-child`, dir, ...extra, ...(small ? ['--small'] : []), '--threads', String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${mode} child failed (status ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

// ---------------------------------------------------------------- main

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const childAt = argv.findIndex((a) => a.endsWith('-child'));
  if (childAt >= 0) {
    const dir = argv[childAt + 1];
    const result = argv[childAt] === '--encode-child' ? await encodeChild(dir, option('--prompts', '1,2').split(',').map(Number)) : await layerChild(dir);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const c = textEncoderConfigFromJson(CONFIG, 'config') as T5EncoderConfig;
  const dir = option('--dir', path.join(os.tmpdir(), small ? 't5-small-random' : 't5-xxl-random'));
  console.error(`random BF16 T5 encoder in ${dir}`);
  let t = performance.now();
  writeRandomFolder(dir, c);
  const writeMs = performance.now() - t;
  if (flag('--prepare')) return; // the folder only (then measure when the machine is quiet)
  const diskBytes = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
  const params = [...t5ParameterShapes(c).values()].reduce((a, sh) => a + sh.reduce((p, q) => p * q, 1), 0);
  // The shards are read through the page cache (warm here: just written or read); what a cold first call would add
  // is the raw disk read of 9.5 GB, estimated from one shard read with O_DIRECT.
  const shard = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()[1] ?? fs.readdirSync(dir).find((f) => f.endsWith('.safetensors'))!;
  const dd = spawnSync('dd', [`if=${path.join(dir, shard)}`, 'of=/dev/null', 'bs=16M', 'iflag=direct'], { encoding: 'utf8' });
  const ddRate = /([\d.]+) ([kMG])B\/s/.exec(dd.stderr ?? '');
  const diskBytesPerS = ddRate ? Number(ddRate[1]) * { k: 1e3, M: 1e6, G: 1e9 }[ddRate[2] as 'k' | 'M' | 'G'] : undefined;
  console.error('encode …');
  const enc = child('encode', dir, ['--prompts', option('--prompts', '1,2'), ...(argv.includes('--resident-bytes') ? ['--resident-bytes', option('--resident-bytes', '0')] : [])]) as { resident: boolean; loadMs: number; rssStart: number; rssLoaded: number; peakRss: number; calls: { prompts: number; rep: number; ms: number; weightMs: number; runMs: number; compileMs: number; finite: boolean; maxAbs: number; peakRss: number }[] };
  console.error('layer …');
  const layer = child('layer', dir) as Record<string, number>;
  if (!flag('--keep') && !argv.includes('--dir')) fs.rmSync(dir, { recursive: true, force: true });

  const flops = (P: number): number => {
    const I = c.numHeads * c.dKv;
    const perToken = 2 * (3 * c.dModel * I + I * c.dModel + 3 * c.dModel * c.dFf);
    return c.numLayers * P * (TOKENS * perToken + 2 * 2 * TOKENS * TOKENS * I);
  };
  const lines = [
    `T5-XXL encoder, RANDOM weights (no trained checkpoint here: memory and speed only) — bench/text-encoders.ts${small ? ' --small' : ''}`,
    `date ${new Date().toISOString()}; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()} cores, ${gib(os.totalmem())} RAM, ${threads} ORT threads; node ${process.version}`,
    `config: ${c.numLayers} layers, d_model ${c.dModel}, ${c.numHeads} heads × d_kv ${c.dKv}, d_ff ${c.dFf} ${c.gated ? 'gated ' : ''}${c.act}, vocab ${c.vocabSize}: ${(params / 1e9).toFixed(3)} B parameters = ${(4 * params / 1e9).toFixed(2)} GB float32`,
    `files: ${(diskBytes / 1e9).toFixed(2)} GB BF16 in ${fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length : Math.ceil(c.numLayers / LAYERS_PER_SHARD)} shards + model.safetensors.index.json (written in ${s(writeMs)}${writeMs < 1000 ? ', already there' : ''})`,
    `call: forwardRaw({ input_ids [P, ${TOKENS}] }) without a mask, as FluxPipeline calls text_encoder_2; weights ${enc.resident ? 'resident' : 'streamed: each layer read from its BF16 shard and widened to float32 just before it runs'}`,
    '',
    `load (headers only): ${enc.loadMs.toFixed(0)} ms; RSS ${gib(enc.rssStart)} before, ${gib(enc.rssLoaded)} after`,
    'prompts  call  wall      s/prompt  weights read+widen  layer runs  GFLOP/s (runs)  peak RSS so far  output finite, max|x|',
    ...enc.calls.map((r) => `${String(r.prompts).padStart(7)}  ${r.rep === 0 ? 'first' : 'again'}  ${s(r.ms).padStart(8)}  ${s(r.ms / r.prompts).padStart(8)}  ${s(r.weightMs).padStart(18)}  ${s(r.runMs).padStart(10)}  ${(flops(r.prompts) / r.runMs / 1e6).toFixed(0).padStart(14)}  ${gib(r.peakRss).padStart(15)}  ${r.finite}, ${r.maxAbs.toFixed(3)}`),
    `peak RSS of the whole encode process: ${gib(enc.peakRss)} (${(enc.peakRss / (4 * params)).toFixed(3)} × the float32 weights); graph compilation ${enc.calls.at(-1)!.compileMs.toFixed(0)} ms in all`,
    diskBytesPerS
      ? `shards came from the page cache; the disk reads ${(diskBytesPerS / 1e9).toFixed(2)} GB/s uncached (dd iflag=direct, one shard), so a cold first call adds ~${s((1000 * diskBytes) / diskBytesPerS)}`
      : 'shards came from the page cache (the uncached disk rate could not be measured: no dd)',
    '',
    `one layer, batch 1, ${TOKENS} tokens (median of 3 runs after a warm-up; separate process, peak RSS ${gib(layer.peakRss)}):`,
    `  weights fed as inputs (what the encoder runs): compile ${layer.fedCompileMs.toFixed(0)} ms once per length, run ${layer.fedRunMs.toFixed(0)} ms`,
    `  weights embedded, ORT pre-packing on:           compile ${layer.embeddedPrepackedCompileMs.toFixed(0)} ms per layer per call, run ${layer.embeddedPrepackedRunMs.toFixed(0)} ms`,
    `  weights embedded, pre-packing off:              compile ${layer.embeddedCompileMs.toFixed(0)} ms per layer per call, run ${layer.embeddedRunMs.toFixed(0)} ms`,
    `  → streaming through embedded graphs would recompile ${c.numLayers} layers per call (${s(c.numLayers * layer.embeddedCompileMs)}–${s(c.numLayers * layer.embeddedPrepackedCompileMs)}) to save ${(100 * (1 - layer.embeddedPrepackedRunMs / layer.fedRunMs)).toFixed(0)} % of the layer runs`,
    '',
  ];
  const report = lines.join('\n');
  process.stdout.write(report);
  const out = option('--out', small ? '' : path.join(here, 'results', `t5-xxl-encode-${new Date().toISOString().slice(0, 10)}.txt`));
  if (out) writeFileAtomicSync(out, report);
}

await main();
