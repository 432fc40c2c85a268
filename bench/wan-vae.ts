// Times AutoencoderKLWan.decode at Wan 2.1's real width on random deterministic weights and reports the
// process's peak RSS: base_dim 96, dim_mult [1, 2, 4, 4], num_res_blocks 2, z [1, 16, T, h, w], 2 ORT threads.
// Prints each chunk's time (the first two include compiling their graph), the whole decode's wall time,
// nominal GFLOP/s (src/models/vae/wan/flops.ts) and the peak RSS (the kernel's VmHWM) with an RSS trace.
// Usage: node --import tsx bench/wan-vae.ts [--latent-frames 21] [--latent-h 60] [--latent-w 104] [--threads 2] [--tile N | --whole]
//   default: 81 frames of 480 × 832 (z [1, 16, 21, 60, 104]) with the VAE's default tiling decision;
//   --tile N: tiles of N latent pixels overlapping by N/4; --whole: whole frames whatever the size.
import fs from 'node:fs';
import os from 'node:os';
import { Rng } from '../src/diffusion/rng.js';
import { AutoencoderKLWan } from '../src/models/vae/wan/autoencoder-kl-wan.js';
import { wanVAEConfigFromDiffusersJson } from '../src/models/vae/wan/config.js';
import { wanDecoderChunkFlops } from '../src/models/vae/wan/flops.js';
import { randomWanVAEWeights } from '../src/models/vae/wan/random-weights.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const [t, h, w] = [arg('latent-frames', 21), arg('latent-h', 60), arg('latent-w', 104)];
const threads = arg('threads', 2);
const tileArg = arg('tile', 0);
const tile = process.argv.includes('--whole') ? false : tileArg > 0 ? { latentSize: tileArg, overlap: Math.floor(tileArg / 4) } : undefined;

/** The kernel's record of this process's peak and current resident set, in MiB. */
function rssMiB(): { peak: number; now: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

// diffusers' AutoencoderKLWan defaults are the Wan 2.1 VAE (Wan-AI/Wan2.1-T2V-*-Diffusers vae/config.json).
const config = wanVAEConfigFromDiffusersJson({ _class_name: 'AutoencoderKLWan' }, '<Wan 2.1 VAE defaults>');
const weights = randomWanVAEWeights(config, 1);
const params = [...weights.values()].reduce((a, x) => a + x.length, 0);
const vae = new AutoencoderKLWan(config, weights, { threads });
const z = { data: new Rng(7).randn(config.zDim * t * h * w), shape: [1, config.zDim, t, h, w] };
const frames = vae.framesFor(t);
const first = wanDecoderChunkFlops(config, h, w, true);
const later = wanDecoderChunkFlops(config, h, w, false);
const flops = first.total + (t - 1) * later.total;
const executed = flops - (5 / 9) * (first.upsamplerConv + (t - 1) * later.upsamplerConv);

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB), node ${process.version}, ORT threads ${threads}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`model: Wan 2.1 AutoencoderKLWan (base_dim ${config.baseDim}, dim_mult [${config.dimMult.join(', ')}], num_res_blocks ${config.numResBlocks}), random weights (seed 1), ${(params / 1e6).toFixed(1)} M parameters (${((params * 4) / 2 ** 20).toFixed(0)} MiB float32)`);
console.log(`decode: z [1, ${config.zDim}, ${t}, ${h}, ${w}] → video [1, 3, ${frames}, ${h * 8}, ${w * 8}], tiling: ${tile === false ? 'whole frames (forced)' : tile ? `tiles of ${tile.latentSize} latent px, overlap ≥ ${tile.overlap}` : `default (tiles of ${vae.tiling.tile.latentSize} above ${vae.tiling.autoAboveLatent} latent px a side)`}`);
console.log(`nominal FLOPs (2·MACs): first chunk ${(first.total / 1e12).toFixed(2)} T, each later chunk ${(later.total / 1e12).toFixed(2)} T, total ${(flops / 1e12).toFixed(1)} T (${(executed / 1e12).toFixed(1)} T executed: UpsampleConv runs 4/9 of the upsampler convs)`);
console.log(`RSS before decode: ${rssMiB().now.toFixed(0)} MiB (weights as JS arrays, z)`);

const started = performance.now();
let last = started;
const trace: string[] = [];
const sampler = setInterval(() => trace.push(`${((performance.now() - started) / 1000).toFixed(0)}s:${rssMiB().now.toFixed(0)}`), 10_000);
const out = await vae.decode(z, {
  tile,
  onProgress: (done, total) => {
    const now = performance.now();
    console.log(`  chunk ${done}/${total}: ${((now - last) / 1000).toFixed(1)} s, RSS ${rssMiB().now.toFixed(0)} MiB, peak ${rssMiB().peak.toFixed(0)} MiB`);
    last = now;
  },
});
clearInterval(sampler);
const seconds = (performance.now() - started) / 1000;
const data = out.data as Float32Array;
let finite = true;
for (let i = 0; i < data.length; i += 9973) finite &&= Number.isFinite(data[i]);
console.log(`decode: ${seconds.toFixed(1)} s wall (graph compile included), ${(flops / 1e9 / seconds).toFixed(1)} GFLOP/s nominal (${(executed / 1e9 / seconds).toFixed(1)} executed); output [${out.shape.join(', ')}]${finite ? '' : ' HOLDS NON-FINITE VALUES'}`);
console.log(`peak RSS ${rssMiB().peak.toFixed(0)} MiB; RSS every 10 s: ${trace.join(' ')}`);
await vae.release();
