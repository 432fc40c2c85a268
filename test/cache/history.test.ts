// ValueHistory: newest-first order, bounded capacity with recycled buffers, residuals, adopted buffers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CacheUsageError, ValueHistory } from '../../src/cache/index.js';

describe('ValueHistory', () => {
  it('keeps the newest `capacity` entries newest first and recycles the dropped buffer', () => {
    const h = new ValueHistory(2);
    const first = h.pushCopy(0, 0.9, Float32Array.of(1, 2)).data;
    h.pushCopy(1, 0.8, Float32Array.of(3, 4));
    const third = h.pushResidual(2, 0.7, Float32Array.of(1, 1), Float32Array.of(6, 8));
    assert.equal(h.length, 2);
    assert.deepEqual([h.at(0).stepIndex, h.at(1).stepIndex], [2, 1]);
    assert.deepEqual([...third.data], [5, 7]);
    assert.equal(third.data, first, 'the dropped entry’s buffer is reused');
    assert.equal(h.bytesHeld(), 2 * 2 * 4);
    assert.throws(() => h.at(2), CacheUsageError);
    assert.throws(() => h.pushCopy(3, 0.6, Float32Array.of(1)), /element count changed from 2 to 1/);
  });

  it('pushResidualChecked reports a non-finite residual', () => {
    const h = new ValueHistory(1);
    assert.equal(h.pushResidualChecked(0, 1, Float32Array.of(0, 0, 0, 0, 0), Float32Array.of(1, 2, 3, 4, 5)), true);
    assert.equal(h.pushResidualChecked(1, 0.5, Float32Array.of(0, 0, 0, 0, 0), Float32Array.of(1, 2, Infinity, 4, 5)), false);
    assert.equal(h.pushResidualChecked(2, 0.2, Float32Array.of(0, 0, 0, 0, 0), Float32Array.of(1, NaN, 3, 4, 5)), false);
  });

  it('pushAdopt takes the buffer itself and hands back one the history no longer holds', () => {
    const h = new ValueHistory(2);
    const a = Float32Array.of(1, 1);
    const spareA = h.pushAdopt(0, 0.9, a);
    assert.equal(h.at(0).data, a);
    assert.notEqual(spareA, a);
    const b = Float32Array.of(2, 2);
    h.pushAdopt(1, 0.8, b);
    const spareC = h.pushAdopt(2, 0.7, Float32Array.of(3, 3)); // drops entry 0 (buffer a)
    assert.equal(spareC, a);
    assert.deepEqual([h.at(0).stepIndex, h.at(1).stepIndex], [2, 1]);
    assert.equal(h.at(1).data, b);
  });
});
