// Test support: a plain-TypeScript forward pass of the third-party LeNet-5 in ../shared/reference,
// used to cross-check our FID and accuracy code on a network nobody here trained. Not shipped in models/.
import { readFileSync } from 'node:fs';

/** Thrown when the reference safetensors file is missing a tensor or is malformed. */
export class ReferenceModelError extends Error {
  override name = 'ReferenceModelError';
}

/**
 * Minimal F32-only safetensors reader (8-byte little-endian header length, JSON header, raw data).
 * Kept inline because src/io/safetensors.ts was not available when this module was written.
 */
function readF32Safetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(path);
  if (buf.length < 8) throw new ReferenceModelError(`${path}: ${buf.length} bytes, too short for a safetensors file`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (8 + headerLen > buf.length) throw new ReferenceModelError(`${path}: header length ${headerLen} exceeds the file size ${buf.length}`);
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, t] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new ReferenceModelError(`${path}: tensor ${key} has dtype ${t.dtype}, this reader only handles F32`);
    const [start, end] = t.data_offsets;
    const bytes = buf.subarray(base + start, base + end);
    const data = new Float32Array(bytes.length / 4);
    for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(4 * i);
    out.set(key, { shape: t.shape, data });
  }
  return out;
}

/**
 * Bilinear resize of `n` single-channel [h, w] images to [oh, ow] with half-pixel centres and edge
 * clamping (PyTorch `interpolate(mode='bilinear', align_corners=False)`).
 */
export function resizeBilinear(src: Float32Array, n: number, h: number, w: number, oh: number, ow: number): Float32Array {
  if (src.length !== n * h * w) throw new ReferenceModelError(`resizeBilinear: expected ${n}x${h}x${w} values, got ${src.length}`);
  const axis = (inSize: number, outSize: number) => {
    const lo = new Int32Array(outSize);
    const hi = new Int32Array(outSize);
    const frac = new Float32Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const s = Math.max(((o + 0.5) * inSize) / outSize - 0.5, 0);
      lo[o] = Math.min(Math.floor(s), inSize - 1);
      hi[o] = Math.min(lo[o] + 1, inSize - 1);
      frac[o] = s - lo[o];
    }
    return { lo, hi, frac };
  };
  const ay = axis(h, oh);
  const ax = axis(w, ow);
  const out = new Float32Array(n * oh * ow);
  for (let i = 0; i < n; i++) {
    const sb = i * h * w;
    const ob = i * oh * ow;
    for (let y = 0; y < oh; y++) {
      const r0 = sb + ay.lo[y] * w;
      const r1 = sb + ay.hi[y] * w;
      const fy = ay.frac[y];
      for (let x = 0; x < ow; x++) {
        const fx = ax.frac[x];
        const top = src[r0 + ax.lo[x]] * (1 - fx) + src[r0 + ax.hi[x]] * fx;
        const bot = src[r1 + ax.lo[x]] * (1 - fx) + src[r1 + ax.hi[x]] * fx;
        out[ob + y * ow + x] = top * (1 - fy) + bot * fy;
      }
    }
  }
  return out;
}

/** Valid 5x5 convolution + bias + ReLU of one image [cin, s, s] → [cout, s−4, s−4]. */
function conv5Relu(inp: Float32Array, cin: number, s: number, weight: Float32Array, bias: Float32Array, cout: number, out: Float32Array): void {
  const os = s - 4;
  const plane = os * os;
  for (let oc = 0; oc < cout; oc++) {
    const ob = oc * plane;
    out.fill(bias[oc], ob, ob + plane);
    for (let ic = 0; ic < cin; ic++) {
      const ib = ic * s * s;
      const wb = (oc * cin + ic) * 25;
      for (let ky = 0; ky < 5; ky++) {
        for (let kx = 0; kx < 5; kx++) {
          const wv = weight[wb + ky * 5 + kx];
          for (let y = 0; y < os; y++) {
            const orow = ob + y * os;
            const irow = ib + (y + ky) * s + kx;
            for (let x = 0; x < os; x++) out[orow + x] += wv * inp[irow + x];
          }
        }
      }
    }
    for (let i = ob; i < ob + plane; i++) if (out[i] < 0) out[i] = 0;
  }
}

/** 2x2 stride-2 max pool of [c, s, s] → [c, s/2, s/2]. */
function maxPool2(inp: Float32Array, c: number, s: number, out: Float32Array): void {
  const os = s / 2;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < os; y++) {
      for (let x = 0; x < os; x++) {
        const i = ch * s * s + 2 * y * s + 2 * x;
        out[ch * os * os + y * os + x] = Math.max(inp[i], inp[i + 1], inp[i + s], inp[i + s + 1]);
      }
    }
  }
}

/** y = W x + b for W [outDim, inDim], optionally followed by ReLU. */
function linear(x: Float32Array, weight: Float32Array, bias: Float32Array, inDim: number, outDim: number, out: Float32Array, outOffset: number, relu: boolean): void {
  for (let o = 0; o < outDim; o++) {
    let s = bias[o];
    const wb = o * inDim;
    for (let i = 0; i < inDim; i++) s += weight[wb + i] * x[i];
    out[outOffset + o] = relu && s < 0 ? 0 : s;
  }
}

/** Outputs for `n` images: penultimate features f6 [n, 84] (after ReLU) and logits f7 [n, 10]. */
export interface LeNetOutputs {
  readonly f6: Float32Array;
  readonly logits: Float32Array;
}

const SHAPES: Record<string, number[]> = {
  'convnet.c1.weight': [6, 1, 5, 5],
  'convnet.c1.bias': [6],
  'convnet.c3.weight': [16, 6, 5, 5],
  'convnet.c3.bias': [16],
  'convnet.c5.weight': [120, 16, 5, 5],
  'convnet.c5.bias': [120],
  'fc.f6.weight': [84, 120],
  'fc.f6.bias': [84],
  'fc.f7.weight': [10, 84],
  'fc.f7.bias': [10],
};

/** LeNet-5 (csinva/gan-vae-pretrained-pytorch) on MNIST 28x28 in [0, 1], resized to 32x32 internally. */
export class LeNetReference {
  private constructor(private readonly w: Map<string, Float32Array>) {}

  static load(path: string): LeNetReference {
    const tensors = readF32Safetensors(path);
    const w = new Map<string, Float32Array>();
    for (const [key, shape] of Object.entries(SHAPES)) {
      const t = tensors.get(key);
      if (!t) throw new ReferenceModelError(`${path}: missing tensor ${key}`);
      if (t.shape.join(',') !== shape.join(',')) throw new ReferenceModelError(`${path}: tensor ${key} has shape [${t.shape}], expected [${shape}]`);
      w.set(key, t.data);
    }
    return new LeNetReference(w);
  }

  /** Forward of `n` images [n, 1, 28, 28]. */
  forward(images: Float32Array, n: number): LeNetOutputs {
    if (images.length !== n * 28 * 28) throw new ReferenceModelError(`LeNetReference.forward: expected [${n}, 1, 28, 28] = ${n * 784} values, got ${images.length}`);
    const g = (k: string) => this.w.get(k) as Float32Array;
    const x32 = resizeBilinear(images, n, 28, 28, 32, 32);
    const a1 = new Float32Array(6 * 28 * 28);
    const p1 = new Float32Array(6 * 14 * 14);
    const a3 = new Float32Array(16 * 10 * 10);
    const p3 = new Float32Array(16 * 5 * 5);
    const a5 = new Float32Array(120);
    const f6 = new Float32Array(n * 84);
    const logits = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) {
      conv5Relu(x32.subarray(i * 1024, (i + 1) * 1024), 1, 32, g('convnet.c1.weight'), g('convnet.c1.bias'), 6, a1);
      maxPool2(a1, 6, 28, p1);
      conv5Relu(p1, 6, 14, g('convnet.c3.weight'), g('convnet.c3.bias'), 16, a3);
      maxPool2(a3, 16, 10, p3);
      // c5's 5x5 kernel covers the whole 5x5 map, so it is a dense layer over the flattened [16, 5, 5].
      linear(p3, g('convnet.c5.weight'), g('convnet.c5.bias'), 400, 120, a5, 0, true);
      linear(a5, g('fc.f6.weight'), g('fc.f6.bias'), 120, 84, f6, i * 84, true);
      linear(f6.subarray(i * 84, (i + 1) * 84), g('fc.f7.weight'), g('fc.f7.bias'), 84, 10, logits, i * 10, false);
    }
    return { f6, logits };
  }
}
