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
    // peer:a>b moved 0.5 s after the kill, group:g1 8 s after it.
    assert.deepEqual(gaps.stallSpread, { count: 2, p50: 8, p90: 8 });
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

  it('spreads the stalls of many conversations: median and 90th percentile', () => {
    const gaps = new ProgressGaps();
    const ten = Array.from({ length: 10 }, (_, i) => `peer:u${i}>v`);
    gaps.sample(new Map(ten.map((c) => [c, 1])), 0);
    gaps.disrupted('worker kill 1', 1_000);
    // Conversation i moves again i + 1 s after the kill.
    for (let i = 0; i < 10; i++) gaps.sample(new Map([[ten[i]!, 2]]), 2_000 + i * 1_000);
    assert.deepEqual(gaps.stallSpread, { count: 10, p50: 6, p90: 10 });
  });

  it('sees a conversation first when it first appears, with no gap before it', () => {
    const gaps = new ProgressGaps();
    gaps.disrupted('worker kill 1', 500);
    gaps.sample(marks({ 'peer:a>b': 3 }), 60_000);
    gaps.sample(marks({ 'peer:a>b': 4 }), 61_000);
    assert.equal(gaps.longestAfterDisruption, undefined);
    assert.equal(gaps.stallSpread, undefined);
    assert.deepEqual(gaps.longestQuiet, { conversation: 'peer:a>b', seconds: 1 });
  });
});
