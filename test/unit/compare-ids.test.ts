import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareIds, describeIds, listIds } from '../../src/verify/compare-ids';

describe('compareIds', () => {
  it('names what is missing and what nothing explains, accepting tolerated ids either way', () => {
    const check = compareIds(['a', 'b'], ['b', 'c', 'd'], new Set(['d', 'e']));
    assert.deepEqual(check, { missing: ['a'], unexpected: ['c'], match: false });
    assert.deepEqual(
      describeIds(check, (id) => `u/${id}`),
      ['missing 1: u/a', 'not expected 1: u/c']
    );
    assert.ok(compareIds(['a'], ['a', 'e'], new Set(['e'])).match);
    assert.ok(compareIds([], []).match);
  });

  it('keeps long lists short', () => {
    const ids = Array.from({ length: 25 }, (_, i) => `x${i}`);
    assert.equal(listIds(ids).split(',').length, 21);
    assert.ok(listIds(ids).endsWith(',…'));
    assert.equal(listIds(['a', 'b']), 'a,b');
  });
});
