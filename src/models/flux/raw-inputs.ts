// forwardRaw's arguments as diffusers' FluxTransformer2DModel.forward takes them, checked and turned into
// host arrays: packed latents, text tokens, conditioning in model units, and the joint position ids.
import { ModelInputError } from '../denoiser.js';
import type { Tensor } from '../tensor.js';
import { FluxConfig } from './config.js';
import type { HostConditioning } from './engine.js';
import type { TokenCounts } from './graph.js';

export const RAW_INPUT_NAMES = ['hidden_states', 'encoder_hidden_states', 'pooled_projections', 'timestep', 'img_ids', 'txt_ids', 'guidance'] as const;

export interface RawCall {
  readonly batch: number;
  readonly counts: TokenCounts;
  readonly latents: Float32Array; // [B, L_img, in_channels]
  readonly text: Float32Array; // [B, L_txt, joint_attention_dim]
  readonly conditioning: HostConditioning;
  /** cat(txt_ids, img_ids) [L_txt + L_img, 3] */
  readonly ids: Float32Array;
}

const fail = (m: string): never => {
  throw new ModelInputError(`FLUX forwardRaw: ${m}`);
};

const shapeText = (t: Tensor): string => `[${t.shape.join(', ')}]`;

function float32(name: string, t: Tensor): Float32Array {
  if (!(t.data instanceof Float32Array)) fail(`${name} must be float32 (a Float32Array), got ${t.data.constructor.name}`);
  if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) fail(`${name} holds ${t.data.length} values but its shape ${shapeText(t)} needs ${t.shape.reduce((a, b) => a * b, 1)}`);
  return t.data as Float32Array;
}

/** One value per sample (or one for all, broadcast as torch would), × 1000 in float32 as diffusers does. */
function perSample(name: string, t: Tensor, batch: number): Float32Array {
  const v = Array.from(t.data as ArrayLike<number | bigint>, Number);
  if (v.length !== 1 && v.length !== batch) fail(`${name} must hold 1 or B = ${batch} values, got shape ${shapeText(t)}`);
  if (v.some((x) => !Number.isFinite(x))) fail(`${name} holds a value that is not finite`);
  const scaled = v.map((x) => Math.fround(Math.fround(x) * 1000));
  return Float32Array.from({ length: batch }, (_, i) => scaled[v.length === 1 ? 0 : i]);
}

/** Position ids [L, 3], or [B, L, 3] of which diffusers takes the first (with a deprecation warning). */
function ids(name: string, t: Tensor, tokens: number): Float32Array {
  const ok = (t.shape.length === 2 || t.shape.length === 3) && t.shape.at(-1) === 3 && t.shape.at(-2) === tokens;
  if (!ok) fail(`${name} must be [${tokens}, 3] (or [B, ${tokens}, 3]), got ${shapeText(t)}`);
  const v = Float32Array.from(t.data as ArrayLike<number | bigint>, Number);
  return v.subarray(0, tokens * 3);
}

/** Checks diffusers-named inputs against the config; every message names the input, the expected and the actual shape. */
export function parseRawInputs(c: FluxConfig, inputs: Readonly<Record<string, Tensor>>): RawCall {
  const unknown = Object.keys(inputs).filter((k) => !(RAW_INPUT_NAMES as readonly string[]).includes(k));
  if (unknown.length) fail(`unknown input(s) ${unknown.join(', ')}; it takes ${RAW_INPUT_NAMES.join(', ')}`);
  const required = ['hidden_states', 'encoder_hidden_states', 'pooled_projections', 'timestep', 'img_ids', 'txt_ids'];
  if (c.guidanceEmbeds) required.push('guidance');
  const missing = required.filter((k) => !inputs[k]);
  if (missing.length) fail(`missing ${missing.join(', ')}${c.guidanceEmbeds && missing.includes('guidance') ? ' (this model embeds the guidance scale: guidance_embeds is true, as in FLUX.1-dev)' : ''}`);
  if (!c.guidanceEmbeds && inputs.guidance) fail('guidance was given, but this model has no guidance embedding (guidance_embeds is false, as in FLUX.1-schnell); leave it out');

  const hs = inputs.hidden_states;
  if (hs.shape.length !== 3 || hs.shape[2] !== c.inChannels || hs.shape[1] < 1) fail(`hidden_states must be packed latents [B, L_img, ${c.inChannels}], got ${shapeText(hs)}`);
  const [batch, image] = hs.shape;
  const enc = inputs.encoder_hidden_states;
  if (enc.shape.length !== 3 || enc.shape[0] !== batch || enc.shape[2] !== c.jointAttentionDim || enc.shape[1] < 1) {
    fail(`encoder_hidden_states must be [${batch}, L_txt, ${c.jointAttentionDim}], got ${shapeText(enc)}`);
  }
  const text = enc.shape[1];
  const pooled = inputs.pooled_projections;
  if (pooled.shape.length !== 2 || pooled.shape[0] !== batch || pooled.shape[1] !== c.pooledProjectionDim) {
    fail(`pooled_projections must be [${batch}, ${c.pooledProjectionDim}], got ${shapeText(pooled)}`);
  }
  const txtIds = ids('txt_ids', inputs.txt_ids, text);
  const imgIds = ids('img_ids', inputs.img_ids, image);
  const joint = new Float32Array((text + image) * 3);
  joint.set(txtIds, 0);
  joint.set(imgIds, text * 3);
  return {
    batch,
    counts: { text, image },
    latents: float32('hidden_states', hs),
    text: float32('encoder_hidden_states', enc),
    conditioning: {
      timestep: perSample('timestep', inputs.timestep, batch),
      ...(c.guidanceEmbeds ? { guidance: perSample('guidance', inputs.guidance, batch) } : {}),
      pooled: float32('pooled_projections', pooled),
    },
    ids: joint,
  };
}
