"""PyTorch side of bench/flux-wan-blocks.ts: one FLUX double-stream block, one FLUX single-stream block or one
Wan2.1 block, written here from diffusers' FluxTransformerBlock / FluxSingleTransformerBlock / WanTransformerBlock
with the same shapes and parameter keys, float32 on the CPU under torch.inference_mode. Torch 1.13 has no
scaled_dot_product_attention, so attention is softmax(q·kᵀ/√hd)·v with two matmuls, as our graphs compute it.
The TS bench spawns this script once per block and shape, so both sides run in the same session; it counts
the FLOPs itself (with the project's own functions), so this script only times.

Usage (what the TS bench runs; --check compares against tensors the TS bench dumped instead of timing):
  /usr/bin/python3 bench/torch_flux_wan_blocks.py --block flux-double|flux-single|wan --tokens T --text L
      --heads H --head-dim HD [--ffn F] [--threads 2] [--runs 3] [--seed 0] [--check DIR] [--profile]
  flux: T = image tokens, the joint stream is [L text; T image]; wan: T = video tokens, L = text tokens of the
  cross-attention (already projected to the hidden width, as a block sees them).
Prints one human line and one line "RESULT {json}" (times in ms, peak RSS in bytes).
Needs Debian's python3-torch with libopenblas0-pthread (see bench/torch_dit_forward.py).
"""
import argparse
import json
import os
import resource
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--block", required=True, choices=["flux-double", "flux-single", "wan"])
ap.add_argument("--tokens", type=int, required=True)
ap.add_argument("--text", type=int, required=True)
ap.add_argument("--heads", type=int, required=True)
ap.add_argument("--head-dim", type=int, required=True)
ap.add_argument("--ffn", type=int, default=0, help="Wan ffn_dim (FLUX's MLP is 4 × hidden)")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--check", default="", help="directory with manifest.json + tensors.bin written by the TS bench")
ap.add_argument("--profile", action="store_true", help="after timing, one more run under torch.profiler: time per op")
args = ap.parse_args()

# OpenBLAS keeps a thread pool of its own beside ATen's OpenMP one; both must be capped before torch loads.
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
EPS = 1e-6  # FLUX's LayerNorms and q/k RMSNorms, Wan's eps
H, HD = args.heads, args.head_dim
D = H * HD


# ---- parameter shapes by diffusers key, relative to the block ----

def flux_double_shapes():
    s = {}
    lin = lambda k, i, o: s.update({f"{k}.weight": [o, i], f"{k}.bias": [o]})  # noqa: E731
    lin("norm1.linear", D, 6 * D)
    lin("norm1_context.linear", D, 6 * D)
    for k in ["to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"]:
        lin(f"attn.{k}", D, D)
    for k in ["norm_q", "norm_k", "norm_added_q", "norm_added_k"]:
        s[f"attn.{k}.weight"] = [HD]
    for ff in ["ff", "ff_context"]:
        lin(f"{ff}.net.0.proj", D, 4 * D)
        lin(f"{ff}.net.2", 4 * D, D)
    return s


def flux_single_shapes():
    s = {}
    lin = lambda k, i, o: s.update({f"{k}.weight": [o, i], f"{k}.bias": [o]})  # noqa: E731
    lin("norm.linear", D, 3 * D)
    lin("proj_mlp", D, 4 * D)
    lin("proj_out", 5 * D, D)
    for k in ["to_q", "to_k", "to_v"]:
        lin(f"attn.{k}", D, D)
    s["attn.norm_q.weight"] = [HD]
    s["attn.norm_k.weight"] = [HD]
    return s


def wan_shapes():
    s = {}
    lin = lambda k, i, o: s.update({f"{k}.weight": [o, i], f"{k}.bias": [o]})  # noqa: E731
    for a in ["attn1", "attn2"]:
        for k in ["to_q", "to_k", "to_v", "to_out.0"]:
            lin(f"{a}.{k}", D, D)
        s[f"{a}.norm_q.weight"] = [D]
        s[f"{a}.norm_k.weight"] = [D]
    s["norm2.weight"] = [D]
    s["norm2.bias"] = [D]
    lin("ffn.net.0.proj", D, args.ffn)
    lin("ffn.net.2", args.ffn, D)
    s["scale_shift_table"] = [1, 6, D]
    return s


# ---- the blocks ----

def lin(W, k, x):
    return F.linear(x, W[f"{k}.weight"], W[f"{k}.bias"])


def ln(x):
    return F.layer_norm(x, (x.shape[-1],), eps=EPS)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def heads(x):  # [B, L, D] -> [B, H, L, hd]
    return x.view(x.shape[0], x.shape[1], H, HD).transpose(1, 2)


def merge(x):  # [B, H, L, hd] -> [B, L, D]
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], D)


def attention(q, k, v):  # [B, H, L, hd] each
    return torch.softmax((q * HD ** -0.5) @ k.transpose(-2, -1), dim=-1) @ v


def gelu(x):
    return F.gelu(x, approximate="tanh")


def rope_flux(x, cos, sin):
    """diffusers apply_rotary_emb(use_real, unbind_dim=-1): interleaved pairs, cos/sin [T, hd] repeated per pair."""
    re, im = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)
    return x * cos + torch.stack([-im, re], dim=-1).flatten(3) * sin


def flux_double(W, tokens, temb, cos, sin, L):
    txt, img = tokens[:, :L], tokens[:, L:]
    sh, sc, g, sh_m, sc_m, g_m = lin(W, "norm1.linear", F.silu(temb)).unsqueeze(1).chunk(6, dim=-1)
    sh_t, sc_t, g_t, sh_mt, sc_mt, g_mt = lin(W, "norm1_context.linear", F.silu(temb)).unsqueeze(1).chunk(6, dim=-1)
    n_img = ln(img) * (1 + sc) + sh
    n_txt = ln(txt) * (1 + sc_t) + sh_t
    q = torch.cat([rms(heads(lin(W, "attn.add_q_proj", n_txt)), W["attn.norm_added_q.weight"]),
                   rms(heads(lin(W, "attn.to_q", n_img)), W["attn.norm_q.weight"])], dim=2)
    k = torch.cat([rms(heads(lin(W, "attn.add_k_proj", n_txt)), W["attn.norm_added_k.weight"]),
                   rms(heads(lin(W, "attn.to_k", n_img)), W["attn.norm_k.weight"])], dim=2)
    v = torch.cat([heads(lin(W, "attn.add_v_proj", n_txt)), heads(lin(W, "attn.to_v", n_img))], dim=2)
    a = merge(attention(rope_flux(q, cos, sin), rope_flux(k, cos, sin), v))
    img = img + g * lin(W, "attn.to_out.0", a[:, L:])
    txt = txt + g_t * lin(W, "attn.to_add_out", a[:, :L])
    img = img + g_m * lin(W, "ff.net.2", gelu(lin(W, "ff.net.0.proj", ln(img) * (1 + sc_m) + sh_m)))
    txt = txt + g_mt * lin(W, "ff_context.net.2", gelu(lin(W, "ff_context.net.0.proj", ln(txt) * (1 + sc_mt) + sh_mt)))
    return torch.cat([txt, img], dim=1)


def flux_single(W, x, temb, cos, sin, _L):
    sh, sc, g = lin(W, "norm.linear", F.silu(temb)).unsqueeze(1).chunk(3, dim=-1)
    n = ln(x) * (1 + sc) + sh
    mlp = gelu(lin(W, "proj_mlp", n))
    q = rope_flux(rms(heads(lin(W, "attn.to_q", n)), W["attn.norm_q.weight"]), cos, sin)
    k = rope_flux(rms(heads(lin(W, "attn.to_k", n)), W["attn.norm_k.weight"]), cos, sin)
    a = merge(attention(q, k, heads(lin(W, "attn.to_v", n))))
    return x + g * lin(W, "proj_out", torch.cat([a, mlp], dim=2))


def rope_wan(x, cos, sin):
    """diffusers' Wan apply_rotary_emb in float32: x [B, T, D] → [B, H, T, hd]; cos/sin [T, hd/2], one per pair."""
    x = x.view(x.shape[0], x.shape[1], H, HD)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    c, s = cos[:, None, :], sin[:, None, :]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * c - x2 * s
    out[..., 1::2] = x1 * s + x2 * c
    return out.transpose(1, 2)


def wan_block(W, x, cond, cos, sin, _L):
    tproj, text = cond
    sh, sc, g, c_sh, c_sc, c_g = (W["scale_shift_table"] + tproj.view(-1, 6, D)).chunk(6, dim=1)
    n = ln(x) * (1 + sc) + sh
    q = rope_wan(rms(lin(W, "attn1.to_q", n), W["attn1.norm_q.weight"]), cos, sin)
    k = rope_wan(rms(lin(W, "attn1.to_k", n), W["attn1.norm_k.weight"]), cos, sin)
    x = x + lin(W, "attn1.to_out.0", merge(attention(q, k, heads(lin(W, "attn1.to_v", n))))) * g
    c = F.layer_norm(x, (D,), W["norm2.weight"], W["norm2.bias"], eps=EPS)
    q = heads(rms(lin(W, "attn2.to_q", c), W["attn2.norm_q.weight"]))
    k = heads(rms(lin(W, "attn2.to_k", text), W["attn2.norm_k.weight"]))
    x = x + lin(W, "attn2.to_out.0", merge(attention(q, k, heads(lin(W, "attn2.to_v", text)))))
    return x + lin(W, "ffn.net.2", gelu(lin(W, "ffn.net.0.proj", ln(x) * (1 + c_sc) + c_sh))) * c_g


BLOCKS = {
    "flux-double": (flux_double_shapes, flux_double),
    "flux-single": (flux_single_shapes, flux_single),
    "wan": (wan_shapes, wan_block),
}


# ---- inputs: random (timing) or the TS bench's tensors (--check) ----

def random_setup(shapes):
    g = torch.Generator().manual_seed(args.seed)
    W = {}
    for k, s in shapes.items():
        if k.endswith("norm_q.weight") or k.endswith("norm_k.weight") or "norm_added" in k or k == "norm2.weight":
            W[k] = 1 + 0.2 * (2 * torch.rand(s, generator=g) - 1)
        elif k in ("scale_shift_table", "norm2.bias"):
            W[k] = D ** -0.5 * (2 * torch.rand(s, generator=g) - 1)
        else:
            fan_in = shapes[k.rsplit(".", 1)[0] + ".weight"][1]
            W[k] = fan_in ** -0.5 * (2 * torch.rand(s, generator=g) - 1)
    L, T = args.text, args.tokens
    if args.block == "wan":
        x = torch.randn(1, T, D, generator=g)
        cond = (torch.randn(1, 6 * D, generator=g), torch.randn(1, L, D, generator=g))
        angles = 100 * torch.rand(T, HD // 2, generator=g)
    else:
        x = torch.randn(1, L + T, D, generator=g)
        cond = torch.randn(1, D, generator=g)
        angles = (100 * torch.rand(L + T, HD // 2, generator=g)).repeat_interleave(2, dim=1)
    return W, x, cond, torch.cos(angles), torch.sin(angles), None


def loaded_setup(shapes):
    with open(os.path.join(args.check, "manifest.json")) as f:
        manifest = json.load(f)
    raw = np.fromfile(os.path.join(args.check, "tensors.bin"), dtype="<f4")

    def get(name):
        e = manifest["tensors"][name]
        return torch.from_numpy(raw[e["offset"]:e["offset"] + int(np.prod(e["shape"]))].copy()).view(e["shape"])

    W = {}
    for k, s in shapes.items():
        t = get(manifest["prefix"] + k)
        if list(t.shape) != s:
            sys.exit(f"{k}: the TS bench dumped shape {list(t.shape)}, this block expects {s}")
        W[k] = t
    cond = (get("in.timestep_proj"), get("in.text")) if args.block == "wan" else get("in.temb")
    return W, get("in.tokens"), cond, get("in.rope_cos"), get("in.rope_sin"), get("out")


shapes_of, block = BLOCKS[args.block]
shapes = shapes_of()
W, x, cond, cos, sin, expected = (loaded_setup if args.check else random_setup)(shapes)
run = lambda: block(W, x, cond, cos, sin, args.text)  # noqa: E731

with torch.inference_mode():
    if args.check:
        out = run()
        err = ((out - expected).abs().max() / expected.abs().max()).item()
        print(f"RESULT {json.dumps({'relMaxError': err})}")
        sys.exit(0)
    t0 = time.perf_counter()
    run()  # warm-up: first-touch allocations
    first_ms = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    if args.profile:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            run()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
times.sort()
median = times[len(times) // 2]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"torch {torch.__version__} {args.block} T={args.tokens} L={args.text} D={D}: median {median:.1f} ms over {args.runs} "
      f"(min {times[0]:.1f}; first {first_ms:.1f}), peak RSS {rss / 2**20:.0f} MiB, {args.threads} threads")
print("RESULT " + json.dumps({"medianMs": median, "minMs": times[0], "firstMs": first_ms, "ms": times, "peakRssBytes": rss,
                              "torch": torch.__version__}))
