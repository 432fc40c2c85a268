// Times AutoencoderKL.decode at SD size on random deterministic weights: batch 1, latent 32×32×4 → 256²,
// block_out_channels [128, 256, 512, 512], 2 ORT threads. Prints the median of several runs after a
// warm-up (which compiles the graph), GFLOP/s and the process's peak RSS. "Effective" GFLOP/s divides the
// architecture's nominal FLOPs (2·MACs of every conv and attention matmul as diffusers computes them, see
// src/models/vae/flops.ts) by the time; "executed" counts the upsampler convs at the 4/9 of their
// multiply-adds our UpsampleConv actually runs. Compare with bench/torch_vae.py on the same machine.
// Usage: node --import tsx bench/vae.ts [--latent 32] [--runs 5] [--threads 2] [--flux] [--encode] [--tile N] [--separate-upsample]
//   --tile N: time a tiled decode instead (tiles of N latent pixels, overlap N/4), e.g. --latent 64 --tile 32.
//   --separate-upsample: time the decoder graph with upsample and conv as two ops (diffusers' way), for comparison.
import os from 'node:os';
import { AutoencoderKL } from '../src/models/vae/autoencoder-kl.js';
import { vaeConfigFromDiffusersJson } from '../src/models/vae/config.js';
import { decoderFlops, encoderFlops } from '../src/models/vae/flops.js';
import { randomVAEWeights } from '../src/models/vae/random-weights.js';
import { buildDecoderGraph } from '../src/models/vae/graph.js';
import { CompiledGraph } from '../src/runtime/session.js';
import { Rng } from '../src/diffusion/rng.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const latent = arg('latent', 32);
const runs = arg('runs', 5);
const threads = arg('threads', 2);
const flux = process.argv.includes('--flux');
const withEncode = process.argv.includes('--encode');
const tileLatent = arg('tile', 0);
const separateUpsample = process.argv.includes('--separate-upsample');

// The SD VAE (sd-vae-ft-mse) config; --flux: the FLUX.1 VAE's (16 latent channels, no quant convs).
const config = vaeConfigFromDiffusersJson(
  {
    block_out_channels: [128, 256, 512, 512],
    down_block_types: Array(4).fill('DownEncoderBlock2D'),
    up_block_types: Array(4).fill('UpDecoderBlock2D'),
    layers_per_block: 2,
    latent_channels: flux ? 16 : 4,
    ...(flux ? { use_quant_conv: false, use_post_quant_conv: false, scaling_factor: 0.3611, shift_factor: 0.1159 } : {}),
  },
  flux ? '<FLUX VAE config>' : '<SD VAE config>',
);
const weights = randomVAEWeights(config, 1);
const vae = new AutoencoderKL(config, weights, { threads });
const z = { data: new Rng(7).randn(config.latentChannels * latent * latent), shape: [1, config.latentChannels, latent, latent] };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(what: string, flops: number, executedFlops: number, run: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await run();
  const warmMs = performance.now() - t0;
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  const med = median(ms);
  console.log(
    `${what}: median ${med.toFixed(0)} ms over ${runs} runs (min ${Math.min(...ms).toFixed(0)}, max ${Math.max(...ms).toFixed(0)}; ` +
      `first call incl. compile ${warmMs.toFixed(0)} ms), ${(flops / 1e9).toFixed(1)} GFLOP → ${(flops / 1e6 / med).toFixed(1)} GFLOP/s effective` +
      (executedFlops !== flops ? ` (${(executedFlops / 1e9).toFixed(1)} GFLOP executed → ${(executedFlops / 1e6 / med).toFixed(1)} GFLOP/s)` : ''),
  );
}

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.availableParallelism()} cores), node ${process.version}, ORT threads ${threads}`);
console.log(`model: ${flux ? 'FLUX' : 'SD'} AutoencoderKL, random weights (seed 1), batch 1, latent ${config.latentChannels}×${latent}×${latent} → ${latent * 8}²`);
const dec = decoderFlops(config, latent, latent);
// UpsampleConv computes the upsampler convs with 4/9 of their multiply-adds (src/graph/ops/resize.ts).
const decExecuted = dec.total - (5 / 9) * dec.upsamplerConv;
console.log(
  `decoder FLOPs (2·MACs): conv ${(dec.conv / 1e9).toFixed(1)} G (of which upsampler convs ${(dec.upsamplerConv / 1e9).toFixed(1)} G) + ` +
    `attention ${(dec.attention / 1e9).toFixed(1)} G = ${(dec.total / 1e9).toFixed(1)} G nominal; ${(decExecuted / 1e9).toFixed(1)} G executed`,
);
const tile = tileLatent > 0 ? { latentSize: tileLatent, overlap: Math.floor(tileLatent / 4) } : false;
if (tile) console.log(`tiled: tiles of ${tile.latentSize} latent pixels, overlap ≥ ${tile.overlap} (FLOPs below are the untiled decode's)`);
if (separateUpsample) {
  const graph = await CompiledGraph.create(buildDecoderGraph(config, weights, latent, latent, { separateUpsample: true }), { threads });
  await time('decode, upsample and conv as separate ops', dec.total, dec.total, () => graph.run({ z }));
  await graph.release();
} else {
  await time(tile ? 'tiled decode' : 'decode', dec.total, decExecuted, () => vae.decode(z, { tile }));
}
if (withEncode) {
  const px = latent * 8;
  const x = { data: new Rng(8).randn(3 * px * px).map((v) => Math.tanh(v)), shape: [1, 3, px, px] };
  const enc = encoderFlops(config, px, px).total;
  await time('encode', enc, enc, () => vae.encode(x));
}
console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
await vae.release();
