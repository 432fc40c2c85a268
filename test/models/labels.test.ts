// Class lists by id or by ImageNet-style name (synonyms per id2label entry), and the errors for names
// that do not exist or are ambiguous.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeLabelNames, labelDisplayName, parseClassList } from '../../src/models/labels.js';

const names = ['tench, Tinca tinca', 'goldfish, Carassius auratus', 'crane', 'golden retriever', 'crane', 'great white shark, white shark, man-eater'];
const space = { count: names.length, nullLabel: names.length, names };

describe('parseClassList', () => {
  it('takes ids and names, case-insensitive, any synonym, in the order given', () => {
    assert.deepEqual(parseClassList('golden retriever,0, Carassius Auratus ,WHITE SHARK', space), [3, 0, 1, 5]);
  });
  it('reads a whole id2label entry given with its commas as one class, and repeats as repeats', () => {
    assert.deepEqual(parseClassList('tench, Tinca tinca,3', space), [0, 3]);
    assert.deepEqual(parseClassList('goldfish,goldfish', space), [1, 1]);
    assert.deepEqual(parseClassList('great white shark, white shark, man-eater', space), [5]);
  });
  it('refuses unknown names with close matches, ambiguous names with their ids, ids out of range', () => {
    assert.throws(() => parseClassList('golden retreiver', space), /unknown class name "golden retreiver"; close matches: golden retriever \(3\)/);
    assert.throws(() => parseClassList('crane', space), /"crane" is ambiguous: 2 \(crane\), 4 \(crane\); pass the id/);
    assert.throws(() => parseClassList('6', space), /class 6 is out of range: this model has classes 0 … 5/);
    assert.throws(() => parseClassList('goldfish', { count: 10, nullLabel: 10 }), /has no label names \(pass ids 0 … 9\)/);
  });
  it('names rows by the first synonym, or the id without names', () => {
    assert.equal(labelDisplayName(space, 5), 'great white shark');
    assert.equal(labelDisplayName({ count: 10, nullLabel: 10 }, 7), '7');
    assert.deepEqual(closeLabelNames('shark', names, 2), ['great white shark (5)', 'white shark (5)']);
  });
});
