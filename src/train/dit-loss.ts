// The DiT training graph: forward on noised inputs, mean-squared error against the target
// (ε or velocity), and the gradient of every trainable parameter, in one ORT session.
import { GraphBuilder } from '../graph/builder.js';
import { gradients } from '../graph/autodiff.js';
import { Graph } from '../graph/ir.js';
import { DiTConfig } from '../models/dit/dit-config.js';
import { block, embed, head, parameterShapes } from '../models/dit/dit-graph.js';

/** pos_embed is a fixed sin-cos table in DiT: stored in checkpoints, never trained. */
export const FROZEN_PARAMS: ReadonlySet<string> = new Set(['pos_embed']);

export interface TrainingGraph {
  graph: Graph;
  trainable: string[];
}

/**
 * Inputs: xt [B, C, H, W] (noised sample), t [B] (model timestep), y [B] int64 (label, null class for
 * dropped labels), target [B, C, H, W]. Outputs: loss (scalar MSE over the first C output channels)
 * and grad:<key> for each trainable parameter. Parameters are graph inputs, fed every step.
 */
export function buildTrainingGraph(c: DiTConfig): TrainingGraph {
  const g = new GraphBuilder('dit_train');
  const shapes = parameterShapes(c);
  const params = new Map<string, ReturnType<GraphBuilder['param']>>();
  for (const [k, s] of shapes) params.set(k, g.param(k, s));
  const P = (_g: GraphBuilder, key: string): ReturnType<GraphBuilder['param']> => {
    const v = params.get(key);
    if (!v) throw new Error(`training graph: unknown parameter ${key}`);
    return v;
  };
  const xShape = ['B', c.inChannels, c.inputSize, c.inputSize];
  const xt = g.input('xt', 'float32', xShape);
  const t = g.input('t', 'float32', ['B']);
  const y = g.input('y', 'int64', ['B']);
  const target = g.input('target', 'float32', xShape);
  const e = embed(g, P, c, xt, t, y);
  let h = e.tokens;
  for (let i = 0; i < c.depth; i++) h = block(g, P, c, i, h, e.cond);
  let out = head(g, P, c, h, e.cond);
  if (c.learnSigma) out = g.slice(out, [1], [0], [c.inChannels]);
  const diff = g.sub(out, target);
  const loss = g.reduceMean(g.mul(diff, diff), [0, 1, 2, 3], false);
  g.output('loss', loss);
  const trainable = [...shapes.keys()].filter((k) => !FROZEN_PARAMS.has(k));
  const grads = gradients(g, loss, trainable.map((k) => params.get(k)!));
  grads.forEach((d, i) => g.output(`grad:${trainable[i]}`, d));
  return { graph: g.build(), trainable };
}
