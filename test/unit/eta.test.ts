import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addSample, callsPerSecond, criticalPathSeconds, type RateSample } from '../../src/shared/eta';

describe('progress rates and ETA', () => {
  it('measures calls per second over recent samples only', () => {
    const samples: RateSample[] = [];
    assert.equal(callsPerSecond(samples), undefined);
    addSample(samples, { at: 0, calls: 0 });
    addSample(samples, { at: 1_000, calls: 100 });
    assert.equal(callsPerSecond(samples), undefined, 'under two seconds is too short to tell');
    addSample(samples, { at: 40_000, calls: 200 });
    addSample(samples, { at: 50_000, calls: 400 });
    assert.equal(callsPerSecond(samples), 20, 'old samples fall out of the 30 s window');
  });

  it('takes the critical path of the stage graph, not the sum', () => {
    const stage = (plannedCalls: number, calls = 0, rate?: number) => ({
      done: false,
      plannedCalls,
      calls,
      budget: 20,
      callsPerSecond: rate,
    });
    const eta = criticalPathSeconds(['accounts', 'friends', 'peer-messages', 'groups', 'group-messages'], {
      accounts: { ...stage(100), done: true },
      friends: stage(200), // 10 s at its budget
      'peer-messages': stage(2_000, 1_000, 10), // 100 s at its observed rate
      groups: stage(400), // 20 s, then group-messages 600 / 20 = 30 s: 50 s
      'group-messages': stage(600),
    });
    assert.equal(eta, 100);
  });
});
