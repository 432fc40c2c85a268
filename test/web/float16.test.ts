// float16Bits: the exact inverse of safetensors' F16 widening on every half, and round-to-nearest-even
// between neighbours (the fp16 weights the web app can download are made with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16Bits, toFloat16Bits } from '../../src/io/float16.js';
import { toFloat32 } from '../../src/io/safetensors-format.js';

const widen = (bits: Uint16Array): Float32Array => toFloat32({ dtype: 'F16', shape: [bits.length], data: new Uint8Array(bits.buffer) });
const all = widen(Uint16Array.from({ length: 65536 }, (_, h) => h));

test('every half pattern widens and narrows back to itself (NaN stays NaN)', () => {
  for (let h = 0; h < 65536; h++) {
    const v = all[h];
    if (Number.isNaN(v)) assert.ok(Number.isNaN(widen(Uint16Array.of(float16Bits(v)))[0]), `NaN 0x${h.toString(16)}`);
    else assert.equal(float16Bits(v), h, `0x${h.toString(16)} = ${v}`);
  }
});

test('values between two halves go to the nearer one, ties to the even pattern; overflow to infinity', () => {
  for (let h = 0; h < 0x7bff; h++) {
    const [a, b] = [all[h], all[h + 1]];
    const mid = (a + b) / 2; // exact in float32: the halves' midpoints need at most 12 significant bits
    assert.equal(float16Bits(mid), h % 2 === 0 ? h : h + 1, `tie between 0x${h.toString(16)} and 0x${(h + 1).toString(16)}`);
    assert.equal(float16Bits(a + (b - a) * 0.25), h);
    assert.equal(float16Bits(a + (b - a) * 0.75), h + 1);
    assert.equal(float16Bits(-(a + (b - a) * 0.75)), (h + 1) | 0x8000);
  }
  assert.equal(float16Bits(65520), 0x7c00); // halfway past the largest half (65504) rounds to ∞
  assert.equal(float16Bits(65519), 0x7bff);
  assert.equal(float16Bits(-1e9), 0xfc00);
  assert.deepEqual([...toFloat16Bits(Float32Array.of(1, -2, 0.5))], [0x3c00, 0xc000, 0x3800]);
});
