// Attention in pieces (models/layers.ts pieceWiseAttention): groups of heads, and query ranges of one head,
// give the same numbers as the whole score tensor — bit for bit through onnxruntime, since heads and queries
// never mix — and small attentions stay one piece (the unsplit graph).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { pieceWiseAttention } from '../../src/models/layers.js';
import { CompiledGraph } from '../../src/runtime/session.js';
import { lcg } from '../support/prng.js';

const [B, H, Tq, Tk, hd] = [2, 5, 37, 23, 8];

function rand(seed: number, n: number): Float32Array {
  const r = lcg(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

const q = rand(1, B * H * Tq * hd);
const kT = rand(2, B * H * hd * Tk);
const v = rand(3, B * H * Tk * hd);

async function run(pieceBytes: number): Promise<{ out: Float32Array; nodes: string[] }> {
  const g = new GraphBuilder('attention');
  const qi = g.input('q', 'float32', [B, H, Tq, hd]);
  const ki = g.input('kT', 'float32', [B, H, hd, Tk]);
  const vi = g.input('v', 'float32', [B, H, Tk, hd]);
  g.output('y', pieceWiseAttention(g, qi, ki, vi, { heads: H, tq: Tq, tk: Tk, scale: hd ** -0.5 }, pieceBytes));
  const graph = g.build();
  const s = await CompiledGraph.create(graph, { threads: 1 });
  try {
    const r = await s.run({ q: { data: q, shape: [B, H, Tq, hd] }, kT: { data: kT, shape: [B, H, hd, Tk] }, v: { data: v, shape: [B, H, Tk, hd] } });
    return { out: r.y.data as Float32Array, nodes: graph.nodes.map((n) => n.op) };
  } finally {
    await s.release();
  }
}

describe('attention in pieces', () => {
  it('one piece when the scores fit: no Split, no Concat', async () => {
    const whole = await run(4 * H * Tq * Tk);
    assert.ok(!whole.nodes.includes('Split') && !whole.nodes.includes('Concat'));
    assert.equal(whole.nodes.filter((n) => n === 'Softmax').length, 1);
  });

  it('groups of 2 heads (3 pieces for 5 heads) and query ranges of 10 rows give the same numbers as the whole', async () => {
    const whole = await run(4 * H * Tq * Tk);
    const groups = await run(4 * 2 * Tq * Tk);
    assert.equal(groups.nodes.filter((n) => n === 'Softmax').length, 3);
    const rows = await run(4 * 10 * Tk);
    assert.equal(rows.nodes.filter((n) => n === 'Softmax').length, H * Math.ceil(Tq / 10));
    for (const [name, r] of [['head groups', groups], ['query ranges', rows]] as const) {
      assert.equal(r.out.length, whole.out.length);
      let maxAbs = 0;
      for (let i = 0; i < r.out.length; i++) maxAbs = Math.max(maxAbs, Math.abs(r.out[i] - whole.out[i]));
      assert.ok(maxAbs <= 1e-6, `${name}: max |Δ| ${maxAbs}`);
    }
  });
});
