import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressGaps } from '../../src/chaos/progress-gaps';

const marks = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('ProgressGaps', () => {
  it('charges a gap that spans a disruption from the moment the disrupted part was back', () => {
    const gaps = new ProgressGaps();
    gaps.sample(marks({ 'group:g1': 1, 'peer:a>b': 1 }), 0);
    gaps.sample(marks({ 'group:g1': 2, 'peer:a>b': 2 }), 1_000);
    gaps.disrupted('worker kill 1', 1_500);
    gaps.sample(marks({ 'group:g1': 2, 'peer:a>b': 3 }), 2_000);
    gaps.sample(marks({ 'group:g1': 2, 'peer:a>b': 4 }), 3_000);
    gaps.sample(marks({ 'group:g1': 3, 'peer:a>b': 5 }), 9_500);
    assert.deepEqual(gaps.longestAfterDisruption, { conversation: 'group:g1', seconds: 8, after: 'worker kill 1' });
    assert.deepEqual(gaps.longestQuiet, { conversation: 'peer:a>b', seconds: 6.5 });
  });

  it('charges the latest disruption within a gap, and counts nothing for a conversation that never moves again', () => {
    const gaps = new ProgressGaps();
    gaps.sample(marks({ 'group:g1': 1, 'group:done': 4 }), 0);
    gaps.disrupted('worker kill 1', 1_000);
    gaps.disrupted('Temporal server restart 1', 4_000);
    gaps.sample(marks({ 'group:g1': 2, 'group:done': 4 }), 5_000);
    assert.deepEqual(gaps.longestAfterDisruption, {
      conversation: 'group:g1',
      seconds: 1,
      after: 'Temporal server restart 1',
    });
    assert.equal(gaps.longestQuiet, undefined);
  });

  it('sees a conversation first when it first appears, with no gap before it', () => {
    const gaps = new ProgressGaps();
    gaps.disrupted('worker kill 1', 500);
    gaps.sample(marks({ 'peer:a>b': 3 }), 60_000);
    gaps.sample(marks({ 'peer:a>b': 4 }), 61_000);
    assert.equal(gaps.longestAfterDisruption, undefined);
    assert.deepEqual(gaps.longestQuiet, { conversation: 'peer:a>b', seconds: 1 });
  });
});
