import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RATES } from '../../src/plan/actions';
import { MIGRATION_ACTIONS, type MigrationAction } from '../../src/shared/stages';
import { computePlan } from '../../src/plan/compute-plan';
import { formatDuration } from '../../src/shared/format-duration';
import { renderPlan } from '../../src/plan/render-plan';
import type { StagingCounts, Workload } from '../../src/shared/migration-plan';

const counts: StagingCounts = {
  users: 5,
  deactivatedUsers: 0,
  usersWithExtra: 0,
  friends: 0,
  blocks: 0,
  groups: 0,
  groupMembers: 0,
  groupAdmins: 0,
  groupMemberNicknames: 0,
  peerMessages: 3,
  peerCopies: 6,
  owners: 2,
  conversations: 1,
  groupMessages: 0,
  expiredPeerMessages: 0,
  expiredGroupMessages: 0,
};
function workload(
  calls: Partial<Record<MigrationAction, number>>,
  maxCallsPerGroup: Workload['maxCallsPerGroup'] = {},
  chainSteps: Workload['chainSteps'] = {}
): Workload {
  return {
    calls: {
      ...(Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, 0])) as Record<MigrationAction, number>),
      ...calls,
    },
    sharedCalls: {},
    maxCallsPerGroup,
    chainSteps,
  };
}

describe('computePlan', () => {
  it('takes the critical path of the stage graph, not the sum of the stages', () => {
    const plan = computePlan(
      counts,
      workload({
        UserRegister: 200,
        AddFriends: 1000,
        ImportPeerMsg: 40_000,
        CreateGroup: 100,
        ImportGroupMsg: 10_000,
        QueryPeerMsg: 400,
      }),
      DEFAULT_RATES,
      [],
      0
    );
    // accounts 10s, then peer messages 2000s (friends 50s, groups 5s + group messages 500s run beside it), verify 20s.
    assert.deepEqual(plan.criticalPath, ['accounts', 'peer-messages', 'verify']);
    assert.equal(plan.etaSeconds, 10 + 2000 + 20);
    const stage = Object.fromEntries(plan.stages.map((s) => [s.stage, s]));
    assert.deepEqual([stage['group-messages']!.start, stage['group-messages']!.end], [15, 515]);
    assert.equal(stage.verify!.start, 2010);
  });

  it('follows group history when it is the longest branch, and budgets change the ETA', () => {
    const w = workload({ UserRegister: 20, ImportPeerMsg: 2000, CreateGroup: 20, ImportGroupMsg: 10_000 });
    assert.deepEqual(computePlan(counts, w, DEFAULT_RATES, [], 0).criticalPath, [
      'accounts',
      'groups',
      'group-messages',
    ]);
    const faster = computePlan(counts, w, { ...DEFAULT_RATES, ImportGroupMsg: 200 }, [], 0);
    assert.deepEqual(faster.criticalPath, ['accounts', 'peer-messages']);
    assert.equal(faster.etaSeconds, 1 + 100);
  });

  it('runs per-group Actions per group: the busiest group sets their time, not the total', () => {
    const plan = computePlan(
      counts,
      workload(
        { CreateGroup: 40, InviteUsersIntoGroup: 300, SetGroupMembersNickname: 50 },
        { InviteUsersIntoGroup: 19, SetGroupMembersNickname: 5 }
      ),
      DEFAULT_RATES,
      [],
      0
    );
    const groups = plan.stages.find((s) => s.stage === 'groups')!;
    assert.equal(
      groups.seconds,
      24,
      'invites then nicknames of the busiest group at 1/s, longer than CreateGroup 40/20'
    );
    assert.equal(plan.actions.find((a) => a.action === 'InviteUsersIntoGroup')!.seconds, 19);
  });

  it('times a stage by its longest chain when the chain outlasts the budget, and says so', () => {
    // 40,000 peer copies at 2,000/s: 20 s by the budget; the longest owner copy of 5,000 steps at 12 ms: 60 s.
    const rates = { ...DEFAULT_RATES, ImportPeerMsg: 2_000, UserRegister: 2_000 };
    const w = workload({ UserRegister: 20, ImportPeerMsg: 40_000 }, {}, { ImportPeerMsg: 5_000 });
    const plan = computePlan(counts, w, rates, [], 12);
    const peer = plan.stages.find((s) => s.stage === 'peer-messages')!;
    assert.equal(peer.seconds, 60);
    assert.equal(peer.chainBound, true);
    assert.equal(plan.etaSeconds, 0.01 + 60);
    const action = plan.actions.find((a) => a.action === 'ImportPeerMsg')!;
    assert.deepEqual([action.chainSteps, action.chainSeconds, action.seconds], [5_000, 60, 60]);
    const text = renderPlan(plan);
    assert.match(
      text,
      /ImportPeerMsg\s+peer-messages\s+40,000\s+2000\/s\s+1m 00s \(chain: 5,000 steps × 12 ms; budget alone 20s\)/
    );
    assert.match(text, /peer-messages\s+40,000\s+accounts\s+1s\s+1m 00s \(chain-bound\)/);
    assert.match(text, /Chain term: ImportPeerMsg 1m 00s/);

    // At the default 20/s the budget binds (2,000 s), the chain is not printed as binding.
    const slow = computePlan(counts, w, DEFAULT_RATES, [], 12);
    assert.equal(slow.stages.find((s) => s.stage === 'peer-messages')!.seconds, 2_000);
    assert.equal(slow.stages.find((s) => s.stage === 'peer-messages')!.chainBound, undefined);
    assert.doesNotMatch(renderPlan(slow), /chain/i);
    // A step time of 0 times no chains.
    assert.equal(computePlan(counts, w, rates, [], 0).stages.find((s) => s.stage === 'peer-messages')!.seconds, 20);
  });

  it('times the group history stage by the largest group history when it binds', () => {
    const rates = { ...DEFAULT_RATES, ImportGroupMsg: 1_000, CreateGroup: 1_000, UserRegister: 1_000 };
    const w = workload({ UserRegister: 1, CreateGroup: 1, ImportGroupMsg: 11_000 }, {}, { ImportGroupMsg: 11_000 });
    const plan = computePlan(counts, w, rates, [], 10);
    assert.equal(plan.stages.find((s) => s.stage === 'group-messages')!.seconds, 110);
    assert.deepEqual(plan.criticalPath, ['accounts', 'groups', 'group-messages']);
  });

  it('lists what is not imported by rule, leaving out file warnings that lose no record', () => {
    const rule = (r: string, severity: 'error' | 'warning', count: number) =>
      ({ rule: r, severity, count, examples: [] }) as never;
    const plan = computePlan(
      counts,
      workload({}),
      DEFAULT_RATES,
      [rule('time.retention', 'warning', 12), rule('file.crlf', 'warning', 1)],
      0
    );
    assert.deepEqual(
      plan.notImported.map((n) => [n.rule, n.records]),
      [['time.retention', 12]]
    );
    assert.match(plan.notImported[0]!.why, /retention/);
  });

  it('renders a table with calls, rates and the ETA', () => {
    const text = renderPlan(
      computePlan(counts, workload({ UserRegister: 1, ImportPeerMsg: 72_000 }), DEFAULT_RATES, [], 0)
    );
    assert.match(text, /ImportPeerMsg\s+peer-messages\s+72,000\s+20\/s\s+1h 00m/);
    assert.match(text, /ETA 1h 00m \(critical path: accounts → peer-messages/);
    assert.match(text, /one-to-one messages\s+3\s+6 owner copies/);
    // Each stage's calls: the count the workflows' progress plans with (stageCalls).
    assert.match(text, /\*\s+peer-messages\s+72,000\s+accounts\s+1s\s+1h 00m/);
  });
});

describe('formatDuration', () => {
  it('reads like a person would say it', () => {
    assert.deepEqual([0.2, 59, 61, 3600, 90_061].map(formatDuration), ['1s', '59s', '1m 01s', '1h 00m', '1d 1h 01m']);
    assert.equal(formatDuration(Number.NaN), '?');
  });
});
