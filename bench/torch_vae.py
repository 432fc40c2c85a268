# Times the same AutoencoderKL decoder as bench/vae.ts in PyTorch on this machine: SD layout
# (block_out_channels [128, 256, 512, 512], layers_per_block 2, GroupNorm 32 groups eps 1e-6, SiLU,
# single-head mid-block attention, nearest x2 + conv upsamplers), random weights, batch 1,
# latent 32x32x4 -> 256^2, torch.set_num_threads(2). The modules are written here by hand after
# diffusers' AutoencoderKL (no diffusers install needed); FLOPs are counted as in src/models/vae/flops.ts.
# Usage: /usr/bin/python3 bench/torch_vae.py [--latent 32] [--runs 5] [--threads 2] [--channels-last]
import argparse
import platform
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-6


class Resnet(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    """One head of width C over the H*W positions, GroupNorm first, residual added (diffusers' VAE attention)."""

    def __init__(self, ch, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, ch, eps=EPS)
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(ch, ch) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        a = torch.softmax(q @ k.transpose(1, 2) / c**0.5, dim=-1) @ v
        return self.to_out(a).transpose(1, 2).reshape(b, c, h, w) + x


class Decoder(nn.Module):
    def __init__(self, block_out=(128, 256, 512, 512), layers=2, latent=4, out_ch=3, groups=32, post_quant=True):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(latent, latent, 1) if post_quant else None
        rev = list(reversed(block_out))
        self.conv_in = nn.Conv2d(latent, rev[0], 3, padding=1)
        self.mid = nn.ModuleList([Resnet(rev[0], rev[0], groups), Attention(rev[0], groups), Resnet(rev[0], rev[0], groups)])
        self.levels = nn.ModuleList()
        prev = rev[0]
        for i, out in enumerate(rev):
            resnets = nn.ModuleList([Resnet(prev if j == 0 else out, out, groups) for j in range(layers + 1)])
            up = nn.Conv2d(out, out, 3, padding=1) if i < len(rev) - 1 else None
            self.levels.append(nn.ModuleDict({"resnets": resnets, **({"up": up} if up is not None else {})}))
            prev = out
        self.conv_norm_out = nn.GroupNorm(groups, block_out[0], eps=EPS)
        self.conv_out = nn.Conv2d(block_out[0], out_ch, 3, padding=1)

    def forward(self, z):
        x = self.post_quant_conv(z) if self.post_quant_conv is not None else z
        x = self.conv_in(x)
        for m in self.mid:
            x = m(x)
        for level in self.levels:
            for r in level["resnets"]:
                x = r(x)
            if "up" in level:
                x = level["up"](F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.conv_norm_out(x)))


def decoder_flops(block_out, layers, latent_ch, out_ch, h, w, post_quant=True):
    """2*MACs of convs + attention matmuls, the same count as src/models/vae/flops.ts."""
    conv = 0

    def add(cout, cin, k, oh, ow):
        nonlocal conv
        conv += 2 * cout * cin * k * k * oh * ow

    def resnet(cin, cout, oh, ow):
        add(cout, cin, 3, oh, ow)
        add(cout, cout, 3, oh, ow)
        if cin != cout:
            add(cout, cin, 1, oh, ow)

    rev = list(reversed(block_out))
    if post_quant:
        add(latent_ch, latent_ch, 1, h, w)
    add(rev[0], latent_ch, 3, h, w)
    resnet(rev[0], rev[0], h, w)
    resnet(rev[0], rev[0], h, w)
    t, c = h * w, rev[0]
    attention = 2 * (4 * t * c * c + 2 * t * t * c)
    prev = rev[0]
    for i, out in enumerate(rev):
        for j in range(layers + 1):
            resnet(prev if j == 0 else out, out, h, w)
        prev = out
        if i < len(rev) - 1:
            h, w = 2 * h, 2 * w
            add(out, out, 3, h, w)
    add(out_ch, block_out[0], 3, h, w)
    return conv, attention


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels-last", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Decoder().eval()
    z = torch.randn(1, 4, a.latent, a.latent)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        z = z.contiguous(memory_format=torch.channels_last)
    conv, attn = decoder_flops((128, 256, 512, 512), 2, 4, 3, a.latent, a.latent)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"oneDNN {torch.backends.mkldnn.is_available()}, layout {'channels_last' if a.channels_last else 'NCHW'}")
    print(f"model: SD AutoencoderKL decoder, random weights, batch 1, latent 4x{a.latent}x{a.latent} -> {8 * a.latent}^2")
    print(f"decoder FLOPs: conv {conv / 1e9:.1f} G + attention {attn / 1e9:.1f} G = {(conv + attn) / 1e9:.1f} G")
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(z)
        first = time.perf_counter() - t0
        ms = []
        for _ in range(a.runs):
            t = time.perf_counter()
            model(z)
            ms.append(1000 * (time.perf_counter() - t))
    med = statistics.median(ms)
    print(f"decode: median {med:.0f} ms over {a.runs} runs (min {min(ms):.0f}, max {max(ms):.0f}; first call {1000 * first:.0f} ms), "
          f"{(conv + attn) / 1e9:.1f} GFLOP -> {(conv + attn) / 1e6 / med:.1f} GFLOP/s effective")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
