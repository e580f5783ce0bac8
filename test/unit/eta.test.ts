import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { criticalPathSeconds, liveEtaSeconds, plannedRate, stageSeconds } from '../../src/shared/eta';
import { ownerChainSteps } from '../../src/shared/chains';

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

  it('times a stage by its longest chain × the step time when that outlasts the budget', () => {
    const peer = [{ action: 'ImportPeerMsg', calls: 40_000, perGroup: false, chainSteps: 5_000 }];
    assert.equal(
      stageSeconds(peer, () => 2_000),
      20,
      'no step time: the budget alone'
    );
    assert.equal(
      stageSeconds(peer, () => 2_000, 0.012),
      60,
      'the chain binds at 2,000/s'
    );
    assert.equal(
      stageSeconds(peer, () => 20, 0.012),
      2_000,
      'the budget binds at 20/s'
    );
    // A per-group Action's chain counts in its per-group sum, as its busiest group does.
    const groups = [{ action: 'Invite', calls: 10, perGroup: true, maxCallsPerGroup: 2, chainSteps: 300 }];
    assert.equal(
      stageSeconds(groups, () => 1, 0.01),
      3
    );
  });

  it('measures pace against the planned rate, so a chain-bound stage is not counted slow twice', () => {
    const peer = [{ action: 'ImportPeerMsg', calls: 40_000, perGroup: false, chainSteps: 5_000 }];
    const seconds = stageSeconds(peer, () => 2_000, 0.012); // 60 s: 666.7 calls/s planned
    assert.equal(plannedRate(peer, 'ImportPeerMsg', seconds), 40_000 / 60);
    // Half done, going at the planned 666.7 calls/s (a third of the budget): 30 s left, not 90.
    const pace = 40_000 / 60 / plannedRate(peer, 'ImportPeerMsg', seconds)!;
    const eta = liveEtaSeconds(['peer-messages'], {
      'peer-messages': { finished: false, settled: 20_000, planned: 40_000, seconds, pace },
    });
    assert.equal(Math.round(eta), 30);
    assert.equal(plannedRate(peer, 'ImportGroupMsg', seconds), undefined);
  });
});

describe('chains of one owner', () => {
  it('hands conversations to the lane that frees up first, each conversation in order', () => {
    assert.equal(ownerChainSteps([1_000]), 1_000, 'one conversation: one lane');
    assert.equal(ownerChainSteps([10, 10, 10, 10, 10]), 20, 'a fifth conversation waits for a lane');
    assert.equal(
      ownerChainSteps([100, 1, 1, 1, 1, 1, 1]),
      100,
      'the longest conversation, when the rest fit beside it'
    );
    assert.equal(ownerChainSteps([5, 5, 5, 5, 100]), 105, 'a long conversation taken last starts late');
    assert.equal(ownerChainSteps([]), 0);
    assert.equal(ownerChainSteps([3, 3], 1), 6, 'one lane: the whole copy in sequence');
  });
});
