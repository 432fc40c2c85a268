"""Side-by-side reference for the trainer benchmark: one training step (forward + backward + AdamW) of the
same DiT as `mnist-dit` (28x28x1, patch 4 -> 49 tokens, hidden 256, depth 6, 4 heads, adaLN-Zero) in
PyTorch on the CPU. Usage: python3 bench/torch_train_step.py [threads] [batch]. Needs python3-torch."""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.set_num_threads(threads)
D, DEPTH, HEADS, P, T, CLASSES = 256, 6, 4, 4, 49, 10


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.norm2 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.fc1 = nn.Linear(D, 4 * D)
        self.fc2 = nn.Linear(4 * D, D)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))

    def forward(self, x, c):
        s1, c1, g1, s2, c2, g2 = self.ada(c).chunk(6, dim=1)
        h = modulate(self.norm1(x), s1, c1)
        q, k, v = self.qkv(h).reshape(x.shape[0], T, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D // HEADS), dim=-1) @ v
        x = x + g1.unsqueeze(1) * self.proj(a.transpose(1, 2).reshape(x.shape[0], T, D))
        h = modulate(self.norm2(x), s2, c2)
        return x + g2.unsqueeze(1) * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))


class DiT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(1, D, P, P)
        self.pos = nn.Parameter(torch.zeros(1, T, D), requires_grad=False)
        self.t1, self.t2 = nn.Linear(256, D), nn.Linear(D, D)
        self.y = nn.Embedding(CLASSES + 1, D)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.out = nn.Linear(D, P * P)

    def forward(self, x, t, y):
        h = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        freqs = torch.exp(-math.log(10000) * torch.arange(128) / 128)
        args = t[:, None] * freqs[None]
        c = self.t2(F.silu(self.t1(torch.cat([torch.cos(args), torch.sin(args)], 1)))) + self.y(y)
        for b in self.blocks:
            h = b(h, c)
        shift, scale = self.ada(c).chunk(2, dim=1)
        o = self.out(modulate(self.norm(h), shift, scale))
        return o.reshape(-1, 7, 7, P, P, 1).permute(0, 5, 1, 3, 2, 4).reshape(-1, 1, 28, 28)


model = DiT()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
x, target = torch.randn(batch, 1, 28, 28), torch.randn(batch, 1, 28, 28)
t, y = torch.randint(0, 1000, (batch,)).float(), torch.randint(0, CLASSES + 1, (batch,))
params = sum(p.numel() for p in model.parameters())


def step():
    opt.zero_grad()
    loss = F.mse_loss(model(x, t, y), target)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(2):
    step()
times = []
for _ in range(5):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
med = sorted(times)[len(times) // 2]
print(f"pytorch {torch.__version__} threads={threads} batch={batch} params={params}: {med:.3f} s/step, {batch / med:.0f} images/s")
