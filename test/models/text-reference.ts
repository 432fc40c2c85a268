// Float64 references of transformers' CLIPTextModel and T5 / umT5 encoders written as plain loops over a
// weight map — independent of the graph code — so configs other than the fixtures' (more layers, heads × d_kv ≠
// d_model, non-gated FF, exact GELU, other bucket settings, masks) are checked against the same math.
type W = ReadonlyMap<string, Float64Array>;

const F32_MIN = -3.4028234663852886e38;

function get(w: W, k: string): Float64Array {
  const v = w.get(k);
  if (!v) throw new Error(`reference: no weight ${k}`);
  return v;
}

/** y[r, o] = Σ_i x[r, i]·W[o, i] (+ b[o]) for x [rows, in]. */
function linear(x: Float64Array, rows: number, inF: number, w: Float64Array, outF: number, b?: Float64Array): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  return y;
}

function layerNorm(x: Float64Array, rows: number, D: number, w: Float64Array, b: Float64Array | undefined, eps: number, rms: boolean): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    if (!rms) {
      for (let i = 0; i < D; i++) mean += x[r * D + i];
      mean /= D;
    }
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) y[r * D + i] = (x[r * D + i] - mean) * inv * w[i] + (b ? b[i] : 0);
  }
  return y;
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse here; integrate exp(−t²) by Simpson's rule instead (ample for tests).
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

export function act(name: string, x: number): number {
  switch (name) {
    case 'relu': return Math.max(0, x);
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'quick_gelu': return x / (1 + Math.exp(-1.702 * x));
    case 'silu': case 'swish': return x / (1 + Math.exp(-x));
    default: throw new Error(`reference: activation ${name}`);
  }
}

/** softmax((q·kᵀ)·scale + bias[b, h, i, j]) · v over heads; q, k, v [B·L, H·dh] → [B·L, H·dh]. */
function attention(q: Float64Array, k: Float64Array, v: Float64Array, B: number, L: number, H: number, dh: number, scale: number, bias: (b: number, h: number, i: number, j: number) => number): Float64Array {
  const I = H * dh;
  const out = new Float64Array(B * L * I);
  const p = new Float64Array(L);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < L; i++) {
        let m = -Infinity;
        for (let j = 0; j < L; j++) {
          let s = 0;
          for (let d = 0; d < dh; d++) s += q[(b * L + i) * I + h * dh + d] * k[(b * L + j) * I + h * dh + d];
          p[j] = s * scale + bias(b, h, i, j);
          m = Math.max(m, p[j]);
        }
        let z = 0;
        for (let j = 0; j < L; j++) z += (p[j] = Math.exp(p[j] - m));
        for (let d = 0; d < dh; d++) {
          let s = 0;
          for (let j = 0; j < L; j++) s += (p[j] / z) * v[(b * L + j) * I + h * dh + d];
          out[(b * L + i) * I + h * dh + d] = s;
        }
      }
  return out;
}

export interface ClipRefConfig { D: number; H: number; I: number; layers: number; eps: number; act: string; eos: number }

/** CLIPTextModel: [last_hidden_state [B·L·D], pooler_output [B·D]]. */
export function clipReference(c: ClipRefConfig, w: W, ids: number[], B: number, L: number, mask?: number[]): { last: Float64Array; pooled: Float64Array } {
  const { D, H } = c;
  const tok = get(w, 'text_model.embeddings.token_embedding.weight');
  const pos = get(w, 'text_model.embeddings.position_embedding.weight');
  let h = new Float64Array(B * L * D);
  for (let r = 0; r < B * L; r++) for (let d = 0; d < D; d++) h[r * D + d] = tok[ids[r] * D + d] + pos[(r % L) * D + d];
  const rows = B * L;
  const bias = (b: number, _h: number, i: number, j: number) => (j <= i && (!mask || mask[b * L + j] !== 0) ? 0 : F32_MIN);
  for (let l = 0; l < c.layers; l++) {
    const p = (n: string) => get(w, `text_model.encoder.layers.${l}.${n}`);
    const x = layerNorm(h, rows, D, p('layer_norm1.weight'), p('layer_norm1.bias'), c.eps, false);
    const lin = (n: string) => linear(x, rows, D, p(`self_attn.${n}.weight`), D, p(`self_attn.${n}.bias`));
    const a = attention(lin('q_proj'), lin('k_proj'), lin('v_proj'), B, L, H, D / H, (D / H) ** -0.5, bias);
    const o = linear(a, rows, D, p('self_attn.out_proj.weight'), D, p('self_attn.out_proj.bias'));
    h = h.map((v, i) => v + o[i]);
    const x2 = layerNorm(h, rows, D, p('layer_norm2.weight'), p('layer_norm2.bias'), c.eps, false);
    const f = linear(x2, rows, D, p('mlp.fc1.weight'), c.I, p('mlp.fc1.bias')).map((v) => act(c.act, v));
    const m = linear(f, rows, c.I, p('mlp.fc2.weight'), D, p('mlp.fc2.bias'));
    h = h.map((v, i) => v + m[i]);
  }
  const last = layerNorm(h, rows, D, get(w, 'text_model.final_layer_norm.weight'), get(w, 'text_model.final_layer_norm.bias'), c.eps, false);
  const pooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++) {
    const row = ids.slice(b * L, (b + 1) * L);
    const at = c.eos === 2 ? row.indexOf(Math.max(...row)) : Math.max(0, row.indexOf(c.eos));
    pooled.set(last.subarray((b * L + at) * D, (b * L + at + 1) * D), b * D);
  }
  return { last, pooled };
}

export interface T5RefConfig { D: number; H: number; dkv: number; ff: number; layers: number; eps: number; act: string; gated: boolean; umt5: boolean; buckets: number; maxDistance: number }

/** The bucket of relative position r (float32 steps as torch takes them: see t5.ts). */
function bucket(r: number, nb: number, maxDist: number): number {
  const half = Math.floor(nb / 2);
  const exact = Math.floor(half / 2);
  const a = Math.abs(r);
  const base = r > 0 ? half : 0;
  if (a < exact) return base + a;
  const f = Math.fround;
  return base + Math.min(exact + Math.trunc(f(f(f(Math.log(f(a / exact))) / f(Math.log(maxDist / exact))) * (half - exact))), half - 1);
}

/** T5EncoderModel / UMT5EncoderModel: last_hidden_state [B·L·D]. */
export function t5Reference(c: T5RefConfig, w: W, ids: number[], B: number, L: number, mask?: number[]): Float64Array {
  const { D, H, dkv } = c;
  const I = H * dkv;
  const rows = B * L;
  const shared = w.get('shared.weight') ?? get(w, 'encoder.embed_tokens.weight');
  let h = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) for (let d = 0; d < D; d++) h[r * D + d] = shared[ids[r] * D + d];
  for (let l = 0; l < c.layers; l++) {
    const p = (n: string) => get(w, `encoder.block.${l}.${n}`);
    const table = get(w, `encoder.block.${c.umt5 ? l : 0}.layer.0.SelfAttention.relative_attention_bias.weight`);
    const bias = (b: number, hh: number, i: number, j: number) => table[bucket(j - i, c.buckets, c.maxDistance) * H + hh] + (mask && mask[b * L + j] === 0 ? F32_MIN : 0);
    const x = layerNorm(h, rows, D, p('layer.0.layer_norm.weight'), undefined, c.eps, true);
    const lin = (n: string) => linear(x, rows, D, p(`layer.0.SelfAttention.${n}.weight`), I);
    const a = attention(lin('q'), lin('k'), lin('v'), B, L, H, dkv, 1, bias);
    const o = linear(a, rows, I, p('layer.0.SelfAttention.o.weight'), D);
    h = h.map((v, i) => v + o[i]);
    const x2 = layerNorm(h, rows, D, p('layer.1.layer_norm.weight'), undefined, c.eps, true);
    const f = c.gated
      ? (() => {
          const g0 = linear(x2, rows, D, p('layer.1.DenseReluDense.wi_0.weight'), c.ff);
          const g1 = linear(x2, rows, D, p('layer.1.DenseReluDense.wi_1.weight'), c.ff);
          return g0.map((v, i) => act(c.act, v) * g1[i]);
        })()
      : linear(x2, rows, D, p('layer.1.DenseReluDense.wi.weight'), c.ff).map((v) => act(c.act, v));
    const m = linear(f, rows, c.ff, p('layer.1.DenseReluDense.wo.weight'), D);
    h = h.map((v, i) => v + m[i]);
  }
  return layerNorm(h, rows, D, get(w, 'encoder.final_layer_norm.weight'), undefined, c.eps, true);
}
