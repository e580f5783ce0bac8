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
  maxCallsPerGroup: Workload['maxCallsPerGroup'] = {}
): Workload {
  return {
    calls: {
      ...(Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, 0])) as Record<MigrationAction, number>),
      ...calls,
    },
    sharedCalls: {},
    maxCallsPerGroup,
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
      []
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
    assert.deepEqual(computePlan(counts, w, DEFAULT_RATES, []).criticalPath, ['accounts', 'groups', 'group-messages']);
    const faster = computePlan(counts, w, { ...DEFAULT_RATES, ImportGroupMsg: 200 }, []);
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
      []
    );
    const groups = plan.stages.find((s) => s.stage === 'groups')!;
    assert.equal(
      groups.seconds,
      24,
      'invites then nicknames of the busiest group at 1/s, longer than CreateGroup 40/20'
    );
    assert.equal(plan.actions.find((a) => a.action === 'InviteUsersIntoGroup')!.seconds, 19);
  });

  it('lists what is not imported by rule, leaving out file warnings that lose no record', () => {
    const rule = (r: string, severity: 'error' | 'warning', count: number) =>
      ({ rule: r, severity, count, examples: [] }) as never;
    const plan = computePlan(counts, workload({}), DEFAULT_RATES, [
      rule('time.retention', 'warning', 12),
      rule('file.crlf', 'warning', 1),
    ]);
    assert.deepEqual(
      plan.notImported.map((n) => [n.rule, n.records]),
      [['time.retention', 12]]
    );
    assert.match(plan.notImported[0]!.why, /retention/);
  });

  it('renders a table with calls, rates and the ETA', () => {
    const text = renderPlan(
      computePlan(counts, workload({ UserRegister: 1, ImportPeerMsg: 72_000 }), DEFAULT_RATES, [])
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
