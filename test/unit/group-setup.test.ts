import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BatchAnswer, LedgerStatus } from '../../activities/batch-import';
import {
  groupSetupSteps,
  runGroupSetupStep,
  type GroupSetupPorts,
  type StagedMemberRef,
} from '../../activities/group-setup';

/** A fake ZIM group plus ledger; `inviteFailures` lets a test make ZIM refuse some invites transiently. */
function fakeGroup(memberCount: number, opts: { existingMembers?: string[]; transientlyRefused?: Set<string> } = {}) {
  const members: StagedMemberRef[] = Array.from({ length: memberCount }, (_, i) => ({
    userId: `m${i}`,
    sourceId: `s${i}`,
  }));
  const zimMembers = new Set<string>(opts.existingMembers ?? []);
  const ledger = new Map<string, LedgerStatus>();
  const calls: string[] = [];
  const add = (batch: StagedMemberRef[]): BatchAnswer => {
    const failures = [];
    for (const m of batch) {
      if (opts.transientlyRefused?.delete(m.userId))
        failures.push({ id: m.userId, code: 660000001, outcome: 'retryable' as const });
      else zimMembers.add(m.userId);
    }
    return { kind: 'answered', failures };
  };
  const ports: GroupSetupPorts = {
    group: async () => ({ groupId: 'g1', owner: 'boss', memberCount }),
    members: async (offset, limit) => members.slice(offset, offset + limit),
    ledgerGet: async (keys) => new Map(keys.flatMap((k) => (ledger.has(k) ? [[k, ledger.get(k)!] as const] : []))),
    ledgerPut: async (rows) => rows.forEach((r) => ledger.set(r.key, r.status)),
    create: async (first) => {
      calls.push(`create:${first.length}`);
      zimMembers.add('boss');
      return add(first);
    },
    invite: async (batch) => {
      calls.push(`invite:${batch.length}`);
      return add(batch);
    },
    listMembers: async () => ({ userIds: [...zimMembers], calls: 1 }),
    kick: async (ids) => {
      calls.push(`kick:${ids.length}`);
      ids.forEach((id) => zimMembers.delete(id));
      return { kind: 'answered', failures: [] };
    },
  };
  const runAll = async () => {
    const totals = { done: 0, failed: 0 };
    for (let step = 0; ; step++) {
      const r = await runGroupSetupStep(ports, step);
      totals.done += r.done;
      totals.failed += r.failed;
      if (!r.hasMore) break;
    }
    return totals;
  };
  return { runAll, zimMembers, calls, ledger };
}

describe('group setup steps', () => {
  it('creates with 100 members, invites the rest 100 a call, and counts every membership once', async () => {
    assert.equal(groupSetupSteps(250), 1 + 2 + 1);
    const g = fakeGroup(250);
    assert.deepEqual(await g.runAll(), { done: 251, failed: 0 });
    assert.equal(g.zimMembers.size, 251);
    assert.deepEqual(g.calls, ['create:100', 'invite:100', 'invite:50']);
  });

  it('invites members a transient refusal left out, counting them once, in the member check', async () => {
    const g = fakeGroup(3, { transientlyRefused: new Set(['m1']) });
    assert.deepEqual(await g.runAll(), { done: 4, failed: 0 });
    assert.ok(g.zimMembers.has('m1'));
    assert.deepEqual(g.calls, ['create:3', 'invite:1']);
  });

  it('removes members that should not be there when the group already existed', async () => {
    const g = fakeGroup(2, { existingMembers: ['stranger', 'm0'] });
    await g.runAll();
    assert.deepEqual([...g.zimMembers].sort(), ['boss', 'm0', 'm1']);
    assert.ok(g.calls.includes('kick:1'));
  });
});
