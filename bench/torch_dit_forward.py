"""Side-by-side reference for `npm run bench:engine`'s DiT-XL/2 rows: the forward pass of a DiT-XL/2-256-shaped
model (latent 32x32x4, patch 2 -> 256 tokens, hidden 1152, depth 28, 16 heads of 72, adaLN-Zero, learned sigma)
with random weights, in PyTorch on the CPU, under torch.inference_mode. GFLOP/s counts the blocks' FLOPs only,
exactly as bench/engine.ts does. Usage: /usr/bin/python3 bench/torch_dit_forward.py [threads] [depth].
Needs Debian's python3-torch, and libopenblas0-pthread: with the reference libblas3 that python3-torch pulls
in, every Linear runs at ~4 GFLOP/s (measured 3.7), which says nothing about PyTorch."""
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
DEPTH = int(sys.argv[2]) if len(sys.argv) > 2 else 28
torch.set_num_threads(threads)
D, HEADS, P, SIDE, C, CLASSES, FREQ = 1152, 16, 2, 32, 4, 1000, 256
T = (SIDE // P) ** 2
MLP = 4 * D


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.norm2 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.fc1 = nn.Linear(D, MLP)
        self.fc2 = nn.Linear(MLP, D)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))

    def forward(self, x, c):
        b = x.shape[0]
        s1, c1, g1, s2, c2, g2 = self.ada(c).chunk(6, dim=1)
        h = modulate(self.norm1(x), s1, c1)
        q, k, v = self.qkv(h).reshape(b, T, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D // HEADS), dim=-1) @ v
        x = x + g1.unsqueeze(1) * self.proj(a.transpose(1, 2).reshape(b, T, D))
        h = modulate(self.norm2(x), s2, c2)
        return x + g2.unsqueeze(1) * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))


class DiT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(C, D, P, P)
        self.pos = nn.Parameter(torch.randn(1, T, D) * 0.02)
        self.t1, self.t2 = nn.Linear(FREQ, D), nn.Linear(D, D)
        self.y = nn.Embedding(CLASSES + 1, D)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.final_norm = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.final = nn.Linear(D, P * P * 2 * C)

    def forward(self, x, t, y):
        b = x.shape[0]
        h = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        half = FREQ // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        temb = self.t2(F.silu(self.t1(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))))
        c = temb + self.y(y)
        for blk in self.blocks:
            h = blk(h, c)
        shift, scale = self.final_ada(c).chunk(2, dim=1)
        h = self.final(modulate(self.final_norm(h), shift, scale))
        n = SIDE // P
        h = h.reshape(b, n, n, P, P, 2 * C).permute(0, 5, 1, 3, 2, 4)
        return h.reshape(b, 2 * C, SIDE, SIDE)


def block_flops():
    linears = T * (3 * D * D + D * D + 2 * D * MLP) + 6 * D * D
    return 2 * (linears + 2 * T * T * D)


torch.manual_seed(0)
model = DiT().eval()
print(f"torch {torch.__version__}, {threads} threads, DiT-XL/2-256 shape, depth {DEPTH}, "
      f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters")
with torch.inference_mode():
    for batch in (1, 2):
        x = torch.randn(batch, C, SIDE, SIDE)
        t = torch.full((batch,), 500)
        y = torch.arange(batch) % CLASSES
        for _ in range(2):
            model(x, t, y)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            model(x, t, y)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        ms = times[len(times) // 2]
        gflops = block_flops() * DEPTH * batch / 1e9
        print(f"DiT-XL/2-256 forward, batch {batch}: {ms:9.1f} ms (min {times[0]:.1f})  {gflops / (ms / 1000):6.1f} GFLOP/s (blocks only counted)")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
