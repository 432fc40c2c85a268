// DiT hyper-parameters (Peebles & Xie) and the named configs: the paper's S/B/L/XL at 256 and 512,
// and the project's small MNIST configs. Field names follow the original constructor in camelCase.

export type TimestepConvention = 'original' | 'diffusers';

export interface DiTConfig {
  inputSize: number; // latent/image side length H = W
  patchSize: number;
  inChannels: number;
  hiddenSize: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  numClasses: number; // the label table has numClasses + 1 rows; the last is the CFG null class
  learnSigma: boolean; // output 2·C channels (ε and the variance interpolation)
  classDropoutProb: number;
  /** 'original': DiT's t-embedding (÷half); 'diffusers': downscale_freq_shift = 1 (÷(half−1)). */
  timestepConvention: TimestepConvention;
  /** eps of the LayerNorm before the MLP; 1e-6 in DiT, config norm_eps (1e-5) in diffusers' blocks. */
  mlpNormEps: number;
  frequencyEmbeddingSize: number;
}

export function outChannels(c: DiTConfig): number {
  return c.learnSigma ? 2 * c.inChannels : c.inChannels;
}

export function numTokens(c: DiTConfig): number {
  return (c.inputSize / c.patchSize) ** 2;
}

export function headDim(c: DiTConfig): number {
  return c.hiddenSize / c.numHeads;
}

export function mlpHidden(c: DiTConfig): number {
  return Math.round(c.hiddenSize * c.mlpRatio);
}

const base = {
  inChannels: 4,
  mlpRatio: 4,
  numClasses: 1000,
  learnSigma: true,
  classDropoutProb: 0.1,
  timestepConvention: 'original' as const,
  mlpNormEps: 1e-6,
  frequencyEmbeddingSize: 256,
};

const sizes = {
  'S/2': { hiddenSize: 384, depth: 12, numHeads: 6, patchSize: 2 },
  'B/2': { hiddenSize: 768, depth: 12, numHeads: 12, patchSize: 2 },
  'L/2': { hiddenSize: 1024, depth: 24, numHeads: 16, patchSize: 2 },
  'XL/2': { hiddenSize: 1152, depth: 28, numHeads: 16, patchSize: 2 },
};

/** Named configs: `DiT-XL/2-256` etc. (latent side = image/8), and the project's MNIST models. */
export const NAMED_CONFIGS: Readonly<Record<string, DiTConfig>> = (() => {
  const out: Record<string, DiTConfig> = {};
  for (const [name, s] of Object.entries(sizes)) {
    for (const res of [256, 512]) out[`DiT-${name}-${res}`] = { ...base, ...s, inputSize: res / 8 };
  }
  // MNIST, pixel space 28×28×1, patch 4 → 49 tokens, hidden 256, depth 6 (trains in hours on 2 cores).
  out['mnist-dit'] = {
    ...base,
    inputSize: 28,
    patchSize: 4,
    inChannels: 1,
    hiddenSize: 256,
    depth: 6,
    numHeads: 4,
    numClasses: 10,
    learnSigma: false,
  };
  out['mnist-dit-tiny'] = { ...out['mnist-dit'], hiddenSize: 64, depth: 2, numHeads: 2 };
  return out;
})();

export function namedConfig(name: string): DiTConfig {
  const c = NAMED_CONFIGS[name];
  if (!c) throw new Error(`unknown model config "${name}"; known: ${Object.keys(NAMED_CONFIGS).join(', ')}`);
  return { ...c };
}

/** Reads the original DiT constructor arguments (config.json beside a checkpoint). */
export function configFromOriginalJson(j: Record<string, unknown>, file: string): DiTConfig {
  const num = (k: string, fallback?: number): number => {
    const v = j[k];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: "${k}" must be a number (got ${JSON.stringify(v)})`);
    return v;
  };
  const cfg: DiTConfig = {
    inputSize: num('input_size'),
    patchSize: num('patch_size'),
    inChannels: num('in_channels'),
    hiddenSize: num('hidden_size'),
    depth: num('depth'),
    numHeads: num('num_heads'),
    mlpRatio: num('mlp_ratio', 4),
    numClasses: num('num_classes'),
    learnSigma: j.learn_sigma === undefined ? true : j.learn_sigma === true,
    classDropoutProb: num('class_dropout_prob', 0.1),
    timestepConvention: 'original',
    mlpNormEps: 1e-6,
    frequencyEmbeddingSize: num('frequency_embedding_size', 256),
  };
  validateConfig(cfg, file);
  return cfg;
}

export function configToOriginalJson(c: DiTConfig): Record<string, number | boolean> {
  return {
    input_size: c.inputSize,
    patch_size: c.patchSize,
    in_channels: c.inChannels,
    hidden_size: c.hiddenSize,
    depth: c.depth,
    num_heads: c.numHeads,
    mlp_ratio: c.mlpRatio,
    class_dropout_prob: c.classDropoutProb,
    num_classes: c.numClasses,
    learn_sigma: c.learnSigma,
  };
}

/** Reads a diffusers DiTTransformer2DModel config.json. */
export function configFromDiffusersJson(j: Record<string, unknown>, file: string): DiTConfig {
  const num = (k: string, fallback?: number): number => {
    const v = j[k];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'number') throw new Error(`${file}: "${k}" must be a number (got ${JSON.stringify(v)})`);
    return v;
  };
  // Transformer2DModel is diffusers' older generic class (facebook/DiT-XL-2-256 ships it): a DiT only with
  // ada_norm_zero and no cross-attention; DiTTransformer2DModel is always one.
  if (j._class_name === 'Transformer2DModel' && j.norm_type !== 'ada_norm_zero') {
    throw new Error(`${file}: a Transformer2DModel is a DiT only with norm_type "ada_norm_zero" (got ${JSON.stringify(j.norm_type)}); this one is not supported`);
  }
  if (j.norm_type !== undefined && j.norm_type !== 'ada_norm_zero') throw new Error(`${file}: norm_type ${String(j.norm_type)} is not supported (DiT uses ada_norm_zero)`);
  const unsupported: [string, (v: unknown) => boolean, string][] = [
    ['activation_fn', (v) => v === 'gelu-approximate', '"gelu-approximate"'],
    ['cross_attention_dim', (v) => v === null, 'null'],
    ['num_vector_embeds', (v) => v === null, 'null'],
    ['only_cross_attention', (v) => v === false, 'false'],
    ['use_linear_projection', (v) => v === false, 'false'],
    ['upcast_attention', (v) => v === false, 'false'],
    ['attention_bias', (v) => v === true, 'true'],
    ['norm_elementwise_affine', (v) => v === false, 'false'],
  ];
  for (const [k, ok, want] of unsupported) {
    if (j[k] !== undefined && !ok(j[k])) throw new Error(`${file}: ${k} = ${JSON.stringify(j[k])} is not supported (a DiT has ${want})`);
  }
  const inC = num('in_channels');
  const outC = num('out_channels', inC);
  const heads = num('num_attention_heads');
  const cfg: DiTConfig = {
    inputSize: num('sample_size'),
    patchSize: num('patch_size'),
    inChannels: inC,
    hiddenSize: heads * num('attention_head_dim'),
    depth: num('num_layers'),
    numHeads: heads,
    mlpRatio: 4,
    numClasses: num('num_embeds_ada_norm'),
    learnSigma: outC === 2 * inC,
    classDropoutProb: 0.1,
    timestepConvention: 'diffusers',
    mlpNormEps: num('norm_eps', 1e-5),
    frequencyEmbeddingSize: 256,
  };
  if (outC !== inC && outC !== 2 * inC) throw new Error(`${file}: out_channels ${outC} must equal in_channels ${inC} or twice it`);
  validateConfig(cfg, file);
  return cfg;
}

export function validateConfig(c: DiTConfig, where: string): void {
  const fail = (m: string): never => {
    throw new Error(`${where}: invalid DiT config: ${m}`);
  };
  for (const k of ['inputSize', 'patchSize', 'inChannels', 'hiddenSize', 'depth', 'numHeads', 'numClasses'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(`${k} must be a positive integer (got ${c[k]})`);
  }
  if (c.inputSize % c.patchSize !== 0) fail(`inputSize ${c.inputSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.hiddenSize % c.numHeads !== 0) fail(`hiddenSize ${c.hiddenSize} is not a multiple of numHeads ${c.numHeads}`);
  if (c.hiddenSize % 4 !== 0) fail(`hiddenSize ${c.hiddenSize} must be a multiple of 4 (2-D sin-cos position embedding)`);
}
