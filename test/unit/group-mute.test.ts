/** The MuteGroup step of a muted group's history: once, recorded in the ledger, never repeated once settled. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  groupMuteMode,
  muteGroupStep,
  muteMatches,
  muteRequest,
  type GroupMutePorts,
  type MuteAttempt,
} from '../../activities/group-mute';
import type { LedgerEntry } from '../../src/staging/migration-store';

function fake(answers: MuteAttempt[]) {
  const ledger = new Map<string, LedgerEntry>();
  let calls = 0;
  const ports: GroupMutePorts = {
    ledgerGet: async (key) => ledger.get(key),
    ledgerPut: async (key, entry) => void ledger.set(key, entry),
    mute: async () => {
      calls++;
      const next = answers.shift();
      if (!next) throw new Error('network: no answer');
      return next;
    },
  };
  return { ports, ledger, calls: () => calls };
}

describe('MuteGroup after a group history', () => {
  it('mutes once and records it; a rerun of the step reports it again without calling', async () => {
    const f = fake([{ kind: 'muted' }]);
    assert.deepEqual(await muteGroupStep(f.ports, 'g1'), { done: 1, failed: 0, skipped: 0, calls: 1, hasMore: false });
    assert.equal(f.ledger.get('mute/g1')?.status, 'done');
    assert.deepEqual(await muteGroupStep(f.ports, 'g1'), { done: 1, failed: 0, skipped: 0, calls: 0, hasMore: false });
    assert.equal(f.calls(), 1);
  });

  it('a transient failure throws (Temporal retries the step, which calls again: a mute is idempotent)', async () => {
    const f = fake([]);
    await assert.rejects(muteGroupStep(f.ports, 'g1'), /network/);
    assert.equal(f.ledger.size, 0);
  });

  it("records ZIM's refusal as a failed record with its code", async () => {
    const f = fake([{ kind: 'refused', code: 660600032, message: 'no permission' }]);
    assert.deepEqual(await muteGroupStep(f.ports, 'g1'), { done: 0, failed: 1, skipped: 0, calls: 1, hasMore: false });
    assert.deepEqual(f.ledger.get('mute/g1'), {
      status: 'failed',
      sourceId: 'g1',
      zimCode: 660600032,
      zimMessage: 'no permission',
    });
  });

  it('mutes plain members by default, everyone with ZIM_MIGRATE_MUTE_GROUP=all; verify compares alike', () => {
    assert.equal(groupMuteMode({}), 'members');
    assert.equal(groupMuteMode({ ZIM_MIGRATE_MUTE_GROUP: 'all' }), 'all');
    assert.throws(() => groupMuteMode({ ZIM_MIGRATE_MUTE_GROUP: 'some' }), /"members" or "all"/);
    assert.deepEqual(muteRequest('members'), { IsAllMuted: false, MuteRoleList: [3], Duration: -1 });
    assert.deepEqual(muteRequest('all'), { IsAllMuted: true, Duration: -1 });
    assert.ok(muteMatches('members', { all: false, roles: [3] }));
    assert.ok(!muteMatches('members', { all: true, roles: [] }));
    assert.ok(!muteMatches('members', { all: false, roles: [] }));
    assert.ok(muteMatches('all', { all: true, roles: [] }));
  });
});
