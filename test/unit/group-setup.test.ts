import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BatchAnswer } from '../../activities/batch-import';
import type { LedgerStatus } from '../../src/staging/migration-store';
import {
  groupSetupSteps,
  runGroupSetupStep,
  type GroupSetupPorts,
  type StagedMemberRef,
  type StagedNickname,
} from '../../activities/group-setup';
import { ZIM_ROLE } from '../../src/zim-client';

interface FakeOptions {
  existingMembers?: string[];
  /** Members whose first invite ZIM refuses transiently. */
  transientlyRefused?: Set<string>;
  /** Members ZIM refuses for good (e.g. not registered). */
  refused?: Set<string>;
  admins?: string[];
  nicknames?: StagedNickname[];
  /** Calls ('role', 'nickname') whose first attempt lands at ZIM and then loses its answer. */
  dropAfterCommit?: Set<string>;
  /** Members whose first nickname ZIM refuses transiently (per item). */
  nicknameRetry?: Set<string>;
}

/** A fake ZIM group plus ledger, with the failure patterns a test asks for. */
function fakeGroup(memberCount: number, opts: FakeOptions = {}) {
  const members: StagedMemberRef[] = Array.from({ length: memberCount }, (_, i) => ({
    userId: `m${i}`,
    sourceId: `s${i}`,
  }));
  const admins = opts.admins ?? [];
  const nicknames = opts.nicknames ?? [];
  const zim = new Map<string, { role: number; nickname: string }>(
    (opts.existingMembers ?? []).map((id) => [id, { role: ZIM_ROLE.member, nickname: '' }])
  );
  const ledger = new Map<string, LedgerStatus>();
  const calls: string[] = [];
  const drop = (kind: string) => {
    if (opts.dropAfterCommit?.delete(kind)) throw new Error(`${kind}: connection reset after commit`);
  };
  const add = (batch: StagedMemberRef[]): BatchAnswer => {
    const failures = [];
    for (const m of batch) {
      if (opts.refused?.has(m.userId)) failures.push({ id: m.userId, code: 660700015, outcome: 'permanent' as const });
      else if (opts.transientlyRefused?.delete(m.userId))
        failures.push({ id: m.userId, code: 660000001, outcome: 'retryable' as const });
      else if (!zim.has(m.userId)) zim.set(m.userId, { role: ZIM_ROLE.member, nickname: '' });
    }
    return { kind: 'answered', failures };
  };
  const ports: GroupSetupPorts = {
    group: async () => ({
      groupId: 'g1',
      owner: 'boss',
      memberCount,
      admins: admins.length,
      nicknames: nicknames.length,
    }),
    members: async (offset, limit) => members.slice(offset, offset + limit),
    ledgerGet: async (keys) => new Map(keys.flatMap((k) => (ledger.has(k) ? [[k, ledger.get(k)!] as const] : []))),
    ledgerPut: async (rows) => rows.forEach((r) => ledger.set(r.key, r.status)),
    create: async (first) => {
      calls.push(`create:${first.length}`);
      zim.set('boss', { role: ZIM_ROLE.owner, nickname: '' });
      return add(first);
    },
    invite: async (batch) => {
      calls.push(`invite:${batch.length}`);
      return add(batch);
    },
    listMembers: async () => {
      calls.push('list');
      return { members: [...zim].map(([userId, m]) => ({ userId, ...m })), calls: 1 };
    },
    kick: async (ids) => {
      calls.push(`kick:${ids.length}`);
      ids.forEach((id) => zim.delete(id));
      return { kind: 'answered', failures: [] };
    },
    admins: async (offset, limit) => admins.slice(offset, offset + limit),
    nicknames: async (offset, limit) => nicknames.slice(offset, offset + limit),
    makeAdmin: async (userId) => {
      calls.push(`role:${userId}`);
      const m = zim.get(userId);
      if (!m) return { kind: 'refused', code: 660600024, message: 'not in the group' };
      m.role = ZIM_ROLE.admin;
      drop('role');
      return { kind: 'answered', failures: [] };
    },
    setNicknames: async (batch) => {
      calls.push(`nickname:${batch.length}`);
      const failures = [];
      for (const n of batch) {
        const m = zim.get(n.userId);
        if (!m) failures.push({ id: n.userId, code: 660600024, outcome: 'permanent' as const });
        else if (opts.nicknameRetry?.delete(n.userId))
          failures.push({ id: n.userId, code: 660000001, outcome: 'retryable' as const });
        else m.nickname = n.nickname;
      }
      drop('nickname');
      return { kind: 'answered', failures };
    },
  };
  /** Every step in order, each retried after a throw as Temporal would; totals of the completed attempts. */
  const runAll = async () => {
    const totals = { done: 0, failed: 0, skipped: 0 };
    for (let step = 0; ; step++) {
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await runGroupSetupStep(ports, step);
          totals.done += r.done;
          totals.failed += r.failed;
          totals.skipped += r.skipped;
          if (!r.hasMore) return totals;
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    }
  };
  return { runAll, zim, calls, ledger };
}

const nick = (userId: string, nickname = `nick-${userId}`) => ({ userId, nickname });

describe('group setup steps', () => {
  it('creates with 100 members, invites the rest 100 a call, and counts every membership once', async () => {
    assert.equal(groupSetupSteps({ memberCount: 250, admins: 0, nicknames: 0 }), 1 + 2 + 1);
    const g = fakeGroup(250);
    assert.deepEqual(await g.runAll(), { done: 251, failed: 0, skipped: 0 });
    assert.equal(g.zim.size, 251);
    assert.deepEqual(
      g.calls.filter((c) => c !== 'list'),
      ['create:100', 'invite:100', 'invite:50']
    );
  });

  it('invites members a transient refusal left out, counting them once, in the member check', async () => {
    const g = fakeGroup(3, { transientlyRefused: new Set(['m1']) });
    assert.deepEqual(await g.runAll(), { done: 4, failed: 0, skipped: 0 });
    assert.ok(g.zim.has('m1'));
    assert.deepEqual(g.calls, ['create:3', 'list', 'invite:1']);
  });

  it('removes members that should not be there when the group already existed', async () => {
    const g = fakeGroup(2, { existingMembers: ['stranger', 'm0'] });
    await g.runAll();
    assert.deepEqual([...g.zim.keys()].sort(), ['boss', 'm0', 'm1']);
    assert.ok(g.calls.includes('kick:1'));
  });

  it('restores admins one call each and nicknames 20 a call, after the member check', async () => {
    const nicknames = [nick('boss'), ...Array.from({ length: 24 }, (_, i) => nick(`m${i}`))];
    assert.equal(groupSetupSteps({ memberCount: 30, admins: 2, nicknames: 25 }), 1 + 1 + 2 + 2);
    const g = fakeGroup(30, { admins: ['m3', 'm7'], nicknames });
    assert.deepEqual(await g.runAll(), { done: 31 + 2 + 25, failed: 0, skipped: 0 });
    assert.deepEqual(g.calls, ['create:30', 'list', 'role:m3', 'role:m7', 'nickname:20', 'nickname:5']);
    assert.equal(g.zim.get('m3')!.role, ZIM_ROLE.admin);
    assert.equal(g.zim.get('boss')!.role, ZIM_ROLE.owner);
    for (const n of nicknames) assert.equal(g.zim.get(n.userId)!.nickname, n.nickname);
  });

  it('reconciles a role or nickname call whose answer was lost against the member list, calling nothing twice', async () => {
    const g = fakeGroup(3, {
      admins: ['m1'],
      nicknames: [nick('m0'), nick('m2')],
      dropAfterCommit: new Set(['role', 'nickname']),
    });
    assert.deepEqual(await g.runAll(), { done: 4 + 1 + 2, failed: 0, skipped: 0 });
    assert.deepEqual(g.calls, ['create:3', 'list', 'role:m1', 'list', 'nickname:2', 'list']);
  });

  it('retries only the nicknames ZIM asked to retry, counting each once', async () => {
    const g = fakeGroup(3, { nicknames: [nick('m0'), nick('m1'), nick('m2')], nicknameRetry: new Set(['m1']) });
    assert.deepEqual(await g.runAll(), { done: 4 + 3, failed: 0, skipped: 0 });
    assert.deepEqual(g.calls, ['create:3', 'list', 'nickname:3', 'list', 'nickname:1']);
    assert.equal(g.zim.get('m1')!.nickname, 'nick-m1');
  });

  it('fails the role and nickname of a member who could not join, without calling ZIM for them', async () => {
    const g = fakeGroup(2, { refused: new Set(['m1']), admins: ['m1'], nicknames: [nick('m0'), nick('m1')] });
    // Membership m1, its role and its nickname fail; the rest land.
    assert.deepEqual(await g.runAll(), { done: 2 + 1, failed: 3, skipped: 0 });
    assert.ok(!g.calls.includes('role:m1'));
    assert.deepEqual(g.calls.slice(-1), ['nickname:1']);
    assert.equal(g.ledger.get('role/g1/m1'), 'failed');
  });
});
