import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHANGE_KINDS } from '../../src/catch-up/change-kinds';
import { planRound } from '../../src/catch-up/plan-round';
import { evolveExport } from '../../src/synthetic/evolve';
import { generateExport } from '../../src/synthetic/generate';
import { stageExport, tempDir, text, users, writeExport } from '../helpers/exports';

const END = Date.parse('2026-05-20T00:00:00Z');
const UNTIL = Date.parse('2026-05-21T00:00:00Z');
const AS_OF = UNTIL + 60_000;

const stage = (dir: string, out: string) => stageExport(dir, out, AS_OF);

const round = (staging: string, exportDir: string) =>
  planRound({ staging, exportDir, asOfMs: AS_OF, rejectsFile: path.join(tempDir('rejects'), 'r.ndjson') });

describe('a catch-up round’s difference', () => {
  it('finds every kind of change gen --evolve made, and nothing for an unchanged export', async () => {
    const root = tempDir('catch-up');
    const earlier = path.join(root, 'app');
    await generateExport({ out: earlier, users: 300, seed: 5, endMs: END, groups: 12 });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));

    const same = await round(staging, earlier);
    assert.deepEqual(
      Object.entries(same.difference!.changes).filter(([, n]) => n > 0),
      [],
      'an unchanged export changes nothing'
    );
    assert.deepEqual(
      Object.entries(same.difference!.calls).filter(([, n]) => n > 0),
      [],
      'and costs no call'
    );

    const later = await evolveExport({
      from: earlier,
      out: path.join(root, 'later'),
      seed: 8,
      incremental: false,
      untilMs: UNTIL,
      late: 2,
    });
    const d = (await round(staging, later.dir)).difference!;
    for (const kind of CHANGE_KINDS) {
      // A closed account's relations and memberships drop out with it: more removals than gen made by hand.
      if (kind === 'friends.removed' || kind === 'blocks.removed' || kind === 'members.left')
        assert.ok(
          d.changes[kind] >= later.changes[kind] && d.changes[kind] > 0,
          `${kind}: ${d.changes[kind]} < ${later.changes[kind]}`
        );
      else assert.equal(d.changes[kind], later.changes[kind], kind);
    }
    assert.equal(d.late.length, 2);
    assert.equal(d.messagesGone, 0);

    // The same changes as a delta (changed records and tombstones only), applied to what was staged: the same round.
    const delta = await evolveExport({
      from: earlier,
      out: path.join(root, 'delta'),
      seed: 8,
      incremental: true,
      untilMs: UNTIL,
      late: 2,
    });
    const fromDelta = (await round(staging, delta.dir)).difference!;
    assert.deepEqual(fromDelta, d);
    assert.equal(d.calls.ImportGroupMsg, later.changes['group_messages.added']);
    assert.equal(d.calls.CreateGroup, later.changes['groups.created']);
    assert.equal(d.calls.DismissGroup, later.changes['groups.dismissed']);
  });

  it('counts the calls the changes need: batches per user, each owner’s copy, no copy for a side that deleted', async () => {
    const root = tempDir('catch-up-calls');
    const base = { 'users.ndjson': users(30) };
    const earlier = writeExport(path.join(root, 'v1', 'app'), {
      ...base,
      'peer_messages.ndjson': [text('m1', 'u0', 'u1', END - 5000)],
    });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const later = writeExport(path.join(root, 'v2', 'app'), {
      ...base,
      // u0 befriends 25 users: two AddFriends calls (20 per call); u1 befriends one: one call.
      'friends.ndjson': [
        ...Array.from({ length: 25 }, (_, i) => ({ user: 'u0', friend: `u${i + 2}` })),
        { user: 'u1', friend: 'u2' },
      ],
      'peer_messages.ndjson': [
        text('m1', 'u0', 'u1', END - 5000),
        text('m2', 'u0', 'u1', END - 4000),
        text('m3', 'u1', 'u0', END - 3000, { deletedBy: ['u0'] }),
        text('m0', 'u0', 'u1', END - 6000),
      ],
    });
    const d = (await round(staging, later)).difference!;
    assert.equal(d.changes['friends.added'], 26);
    assert.equal(d.calls.AddFriends, 3);
    assert.equal(d.changes['peer_messages.added'], 2);
    assert.equal(d.calls.ImportPeerMsg, 3, 'm2 twice (both copies), m3 once (u0 deleted it)');
    assert.deepEqual(
      d.late.map((l) => [l.sourceId, l.conversation]),
      [['m0', 'peer:u0|u1']]
    );
  });

  it('invites only the members a new group’s CreateGroup cannot take (100 besides the owner)', async () => {
    const root = tempDir('catch-up-invites');
    const base = { 'users.ndjson': users(110) };
    const staging = await stage(writeExport(path.join(root, 'v1', 'app'), base), path.join(root, 'app.sqlite'));
    const members = (group: string, n: number) => Array.from({ length: n }, (_, i) => ({ group, user: `u${i + 1}` }));
    const later = writeExport(path.join(root, 'v2', 'app'), {
      ...base,
      'groups.ndjson': [
        { id: 'g100', owner: 'u0', createdAt: END - 9000 },
        { id: 'g101', owner: 'u0', createdAt: END - 9000 },
      ],
      'group_members.ndjson': [...members('g100', 100), ...members('g101', 101)],
    });
    const d = (await round(staging, later)).difference!;
    assert.equal(d.changes['groups.created'], 2);
    assert.equal(d.calls.CreateGroup, 2);
    assert.equal(d.calls.InviteUsersIntoGroup, 1, 'owner + 100 fit in CreateGroup; owner + 101 need one invite');
  });

  it('refuses a tombstone for a record the migration never staged, naming it', async () => {
    const root = tempDir('catch-up-tombstone');
    const earlier = writeExport(path.join(root, 'v1', 'app'), { 'users.ndjson': users(3) });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const delta = writeExport(path.join(root, 'delta'), {
      'export.json': [{ kind: 'incremental', since: END - 10_000, until: END }],
      'users.ndjson': [],
      'deletions.ndjson': [{ entity: 'friends', user: 'u0', friend: 'u2' }],
    });
    await assert.rejects(
      round(staging, delta),
      /deletions\.ndjson:1: a tombstone for friends u0 \/ u2, which this migration never staged/
    );
  });

  it('refuses read states in an incremental export instead of dropping them', async () => {
    const root = tempDir('catch-up-read-states');
    const earlier = writeExport(path.join(root, 'v1', 'app'), { 'users.ndjson': users(3) });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const delta = writeExport(path.join(root, 'delta'), {
      'export.json': [{ kind: 'incremental', since: END - 10_000, until: END }],
      'users.ndjson': [],
      'read_states.ndjson': [{ user: 'u0', peer: 'u1', lastReadMessage: 'm0' }],
    });
    await assert.rejects(
      round(staging, delta),
      /read_states\.ndjson: read states are not taken from incremental exports/
    );
  });
});
