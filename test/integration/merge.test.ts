/** Several legacy apps into one ZIM app: precedence, de-duplication, merged conversations, group ids. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import type { MergeOptions } from '../../src/merge/merge-apps';
import { DEFAULT_RATES } from '../../src/plan/actions';
import { buildPlan } from '../../src/plan/build-plan';
import { openStaging } from '../../src/staging';
import { DAY, NO_MERGE, NOW, tempDir, text, writeExport } from '../helpers/exports';

const T = NOW - DAY;

function twoApps(): [string, string] {
  const root = tempDir('merge');
  const a = writeExport(path.join(root, 'appA'), {
    'users.ndjson': [{ id: 'u1', nickname: 'A-one', avatarUrl: '' }, { id: 'u2', nickname: 'Two' }, { id: 'u3' }],
    'friends.ndjson': [{ user: 'u1', friend: 'u2', alias: 'a-alias', since: T - 100 }],
    'blocks.ndjson': [{ user: 'u1', blocked: 'u3', since: T - 5 }],
    'groups.ndjson': [{ id: 'g1', owner: 'u1', name: 'A group' }],
    'group_members.ndjson': [{ group: 'g1', user: 'u2' }],
    'group_messages.ndjson': [{ id: 'x1', group: 'g1', from: 'u2', sentAt: T, type: 'text', body: { text: 'A' } }],
    'peer_messages.ndjson': [
      text('m1', 'u1', 'u2', T + 1),
      text('m2', 'u2', 'u1', T + 3),
      text('m3', 'u1', 'u3', T + 2),
    ],
  });
  const b = writeExport(path.join(root, 'appB'), {
    'users.ndjson': [
      { id: 'u1', nickname: 'B-one', avatarUrl: 'https://b/1.jpg', extendedData: 'from B' },
      { id: 'u4' },
    ],
    'friends.ndjson': [
      { user: 'u1', friend: 'u2', alias: 'b-alias', wording: 'hi', since: T - 200 },
      { user: 'u1', friend: 'u4' },
    ],
    'blocks.ndjson': [{ user: 'u1', blocked: 'u3', since: T - 9 }],
    'groups.ndjson': [{ id: 'g1', owner: 'u4', name: 'B group' }],
    'group_members.ndjson': [{ group: 'g1', user: 'u1' }],
    'group_messages.ndjson': [{ id: 'x1', group: 'g1', from: 'u1', sentAt: T, type: 'text', body: { text: 'B' } }],
    'peer_messages.ndjson': [
      // The same message as appA's m1 under another id; u2 deleted it here.
      { ...text('b1', 'u1', 'u2', T + 1), body: { text: 'message m1' }, deletedBy: ['u2'] },
      text('b2', 'u2', 'u1', T + 2),
      // Same id as appA's m2, different message.
      text('m2', 'u1', 'u2', T + 4),
    ],
  });
  return [a, b];
}

async function plan(dirs: string[], merge: Partial<MergeOptions>) {
  const out = path.join(tempDir('merge-out'), 'staging.db');
  const result = await buildPlan({
    dirs,
    limits: ZIM_PLAN_LIMITS.pro,
    asOfMs: NOW,
    merge: { ...NO_MERGE, ...merge },
    rejectsFile: null,
    out,
    rates: DEFAULT_RATES,
    excludeErrors: false,
    force: false,
  });
  return { result, store: result.stagingFile ? await openStaging(out, { readonly: true }) : null };
}

async function all<T>(read: (after: T | null) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let page = await read(null); page.length; page = await read(page[page.length - 1]!)) out.push(...page);
  return out;
}

describe('multi-app merge', () => {
  it('refuses a group id in two apps and two different messages with one id, naming both apps', async () => {
    const { result, store } = await plan(twoApps(), {});
    assert.equal(store, null, 'nothing is staged when there are errors');
    const rules = Object.fromEntries(result.validation.rules.map((r) => [r.rule, r]));
    assert.equal(rules['merge.group-collision']?.count, 1);
    assert.match(rules['merge.group-collision'].examples[0]!.message, /g1 is also a group of app appA/);
    assert.equal(rules['merge.message-id-collision']?.count, 1);
    assert.equal(rules['merge.message-id-collision'].examples[0]!.recordId, 'm2');
    assert.match(rules['merge.message-id-collision'].examples[0]!.file, /appB/);
    // appB's members and messages of its g1 refer to a rejected group.
    assert.equal(rules['ref.unknown-group']?.count, 2);
  });

  it('merges profiles by precedence, imports each relation once, and separates prefixed groups', async () => {
    const { result, store } = await plan(twoApps(), { groupIdPrefix: { appB: 'b_' }, messageIdPrefix: { appB: 'b-' } });
    assert.equal(result.validation.errors, 0);
    const s = store!;
    try {
      const users = await s.readUsers(null, 100);
      assert.deepEqual(
        users.map((u) => [u.id, u.nickname, u.avatarUrl, u.extendedData, u.apps]),
        [
          ['u1', 'A-one', 'https://b/1.jpg', 'from B', ['appA', 'appB']],
          ['u2', 'Two', null, null, ['appA']],
          ['u3', null, null, null, ['appA']],
          ['u4', null, null, null, ['appB']],
        ]
      );
      const friends = await all<{ user: string; friend: string }>((after) => s.readFriends(after, 1));
      assert.deepEqual(friends, [
        { user: 'u1', friend: 'u2', alias: 'a-alias', wording: 'hi', attributes: null, since: T - 200 },
        { user: 'u1', friend: 'u4', alias: null, wording: null, attributes: null, since: null },
      ]);
      assert.deepEqual(await s.readBlocks(null, 10), [{ user: 'u1', blocked: 'u3', since: T - 9 }]);
      assert.deepEqual(
        (await s.readGroups(null, 10)).map((g) => [g.id, g.sourceId, g.app, g.owner, g.memberCount, g.messageCount]),
        [
          ['b_g1', 'g1', 'appB', 'u4', 2, 1],
          ['g1', 'g1', 'appA', 'u1', 2, 1],
        ]
      );
      assert.equal(result.validation.merge.peerMessagesDeduplicated, 1);
      assert.equal(result.validation.merge.blocksDeduplicated, 1);
      assert.equal(result.validation.merge.friendsDeduplicated, 1);
    } finally {
      await s.close();
    }
  });

  it('merges the histories of a pair into one chronological conversation per side, deletions kept', async () => {
    const { store } = await plan(twoApps(), {
      groupIdPrefix: { appB: 'b_' },
      messageIdPrefix: { appB: 'b-' },
      prefer: ['appB'],
    });
    const s = store!;
    try {
      const ids = async (owner: string) =>
        (await s.readOwnerMessages(owner, null, 100)).map((m) => `${m.peer}:${m.sourceId}`);
      // m1 and b1 are one message: kept once, from the preferred app (appB) with its id.
      assert.deepEqual(await ids('u1'), ['u2:b-b1', 'u2:b-b2', 'u2:m2', 'u2:b-m2', 'u3:m3']);
      // u2 deleted that message in appB, so u2's copy leaves it out.
      assert.deepEqual(await ids('u2'), ['u1:b-b2', 'u1:m2', 'u1:b-m2']);
      assert.equal((await s.readUsers(null, 1))[0]!.nickname, 'B-one', '--prefer appB wins the nickname');
    } finally {
      await s.close();
    }
  });
});
