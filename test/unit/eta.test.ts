import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { criticalPathSeconds, liveEtaSeconds, stageSeconds } from '../../src/shared/eta';

describe('stage times and the ETA', () => {
  it('times a stage by its slowest Action, its per-group Actions one after the other for the busiest group', () => {
    const rate = (a: string) => (a === 'Invite' || a === 'Nick' ? 1 : 20);
    const groups = [
      { action: 'CreateGroup', calls: 200, perGroup: false }, // 10 s
      { action: 'Invite', calls: 900, perGroup: true, maxCallsPerGroup: 7 }, // 7 s for the busiest group
      { action: 'Nick', calls: 50, perGroup: true, maxCallsPerGroup: 5 }, // then 5 s more
    ];
    assert.equal(stageSeconds(groups, rate), 12);
    assert.equal(stageSeconds(groups.slice(0, 2), rate), 10);
    assert.equal(stageSeconds([], rate), 0);
  });

  it('takes the critical path of the stage graph, not the sum', () => {
    const eta = criticalPathSeconds(['accounts', 'friends', 'peer-messages', 'groups', 'group-messages'], {
      accounts: { seconds: 0 },
      friends: { seconds: 10 },
      'peer-messages': { seconds: 100 },
      groups: { seconds: 20 }, // then group-messages 30 s: 50 s
      'group-messages': { seconds: 30 },
    });
    assert.equal(eta, 100);
  });

  it("counts each stage's unsettled share of its planned time, slowed by its measured pace", () => {
    const stage = (settled: number, seconds: number, pace?: number) => ({
      finished: false,
      settled,
      planned: 1_000,
      seconds,
      ...(pace !== undefined && { pace }),
    });
    const selected = ['accounts', 'peer-messages', 'groups', 'group-messages'] as const;
    assert.equal(
      liveEtaSeconds(selected, {
        accounts: { ...stage(1_000, 5), finished: true },
        'peer-messages': stage(750, 200), // a quarter left: 50 s at the budget
        groups: stage(0, 10),
        'group-messages': stage(500, 60, 0.5), // half left at half the budget: 60 s, after groups' 10 s
      }),
      70
    );
    assert.equal(
      liveEtaSeconds(selected, { 'peer-messages': stage(0, 100, 0.001) }),
      2_000,
      'a pace near zero is bounded, so the ETA stays finite'
    );
  });
});
