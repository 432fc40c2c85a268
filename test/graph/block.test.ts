// A whole adaLN-Zero DiT block (and the head, with unpatchify): ONNX Runtime vs the float64
// reference, and every parameter's gradient vs central finite differences.
import { describe, it } from 'node:test';
import { OpCase, ParamSpec, checkGradient, checkLowering } from './harness.js';
import { ParamSource, block, head, parameterShapes } from '../../src/models/dit/dit-graph.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { DiTConfig, namedConfig } from '../../src/models/dit/dit-config.js';
import { Value } from '../../src/graph/ir.js';

const cfg: DiTConfig = { ...namedConfig('mnist-dit-tiny'), inputSize: 4, patchSize: 2, inChannels: 1, hiddenSize: 8, numHeads: 2, depth: 1, learnSigma: true };
const T = 4;

function ditCase(name: string, keys: string[], build: (g: GraphBuilder, P: ParamSource, x: Value, c: Value) => Value): OpCase {
  const shapes = parameterShapes(cfg);
  const params: ParamSpec[] = [
    { name: 'x', shape: [2, T, cfg.hiddenSize] },
    { name: 'c', shape: [2, cfg.hiddenSize] },
    ...keys.map((k) => ({ name: k, shape: shapes.get(k)!, gen: (u: number) => 0.8 * (2 * u - 1) })),
  ];
  return {
    name,
    params,
    gradTol: 2e-5,
    build: (g, [x, c, ...ws]) => {
      const byKey = new Map(keys.map((k, i) => [k, ws[i]] as const));
      return build(g, (_g, k) => byKey.get(k)!, x, c);
    },
  };
}

const blockKeys = [...parameterShapes(cfg).keys()].filter((k) => k.startsWith('blocks.0.'));
const headKeys = [...parameterShapes(cfg).keys()].filter((k) => k.startsWith('final_layer.'));
const cases: OpCase[] = [
  ditCase('adaLN-Zero DiT block (attention + MLP, gates, modulation)', blockKeys, (g, P, x, c) => block(g, P, cfg, 0, x, c)),
  ditCase('DiT head (final adaLN, linear, unpatchify)', headKeys, (g, P, x, c) => head(g, P, cfg, x, c)),
];

describe('DiT block and head as whole graphs', () => {
  for (const c of cases) {
    it(`${c.name}: ORT forward and backward graphs match the reference`, () => checkLowering(c));
    it(`${c.name}: gradients of input, conditioning and every weight match finite differences`, () => checkGradient(c));
  }
});
