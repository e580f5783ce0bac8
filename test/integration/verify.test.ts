/**
 * The verify stage against drift: a clean migration verifies without a finding; then friend lists, blocklists, a
 * role, a nickname and a profile are changed in the emulator (through ZIM's API, and behind it through the
 * introspection API), and a verify-only run must name each difference by its source id, and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { openStaging } from '../../src/staging';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import {
  buildStaging,
  FAST_BUDGETS,
  startFastEmulator,
  TEST_APP_ID,
  TEST_SECRET,
} from '../../src/testing/migration-rig';
import { ZimClient } from '../../src/zim-client';
import type { ZimEmulator } from '../../src/zim-emulator';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

/** A message an App 2.0 user sends now, through the emulator's SDK actor. */
async function sendLive(emulator: ZimEmulator, from: string, target: { to: string } | { groupId: string }) {
  const res = await request(`${emulator.url}/_emulator/sdk/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, ...target, body: 'sent live after the export' }),
  });
  assert.equal(res.statusCode, 200, await res.body.text());
}

/** Drops one entry of a user's friend list or blocklist behind ZIM's API, over the introspection API. */
async function dropRelation(emulator: ZimEmulator, kind: 'friends' | 'blocked', owner: string, target: string) {
  const path = ['users', owner, kind, target].map(encodeURIComponent).join('/');
  const res = await request(`${emulator.url}/_emulator/${path}`, { method: 'DELETE' });
  assert.equal(res.statusCode, 200, await res.body.text());
}

function failedVerifyRows(stagingPath: string): Map<string, string> {
  const db = new Database(stagingPath, { readonly: true });
  try {
    const rows = db
      .prepare(`SELECT key, zim_message FROM ledger WHERE stage = 'verify' AND status = 'failed'`)
      .all() as { key: string; zim_message: string }[];
    return new Map(rows.map((r) => [r.key, r.zim_message]));
  } finally {
    db.close();
  }
}

describe('verify names every difference between staging and ZIM', () => {
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  before(async () => {
    [t, staging] = await Promise.all([startTemporalTestEnv(), buildStaging(30, 12, { gen: ['--groups', '3'] })]);
  });
  after(async () => {
    await t?.teardown();
  });

  it('names every owner, group and user in exactly one verify page', async () => {
    const store = await openStaging(staging.fresh());
    try {
      const { pages } = (await store.stageWork()).verify;
      const seen = { owners: [] as string[], groups: [] as string[], users: [] as string[] };
      for (let page = 0; page < pages; page++) {
        const p = await store.verifyPage(page);
        const kinds = [p.owners, p.groups, p.users].filter((ids) => ids.length > 0);
        assert.equal(kinds.length, 1, `page ${page} holds one kind`);
        seen.owners.push(...p.owners);
        seen.groups.push(...p.groups);
        seen.users.push(...p.users.map((u) => u.id));
      }
      assert.deepEqual(await store.verifyPage(pages), { owners: [], groups: [], users: [] });
      const owners = (await store.readOwners(null, 1_000_000)).map((o) => o.user);
      const groups = (await store.fanoutItems('groups', null, 1_000_000)).map((g) => g.id);
      const users = (await store.readUsers(null, 1_000_000)).map((u) => u.id);
      assert.ok(owners.length > 0 && groups.length > 0 && users.length > 0);
      assert.deepEqual([...seen.owners].sort(), [...owners].sort());
      assert.deepEqual([...seen.groups].sort(), [...groups].sort());
      assert.deepEqual([...seen.users].sort(), [...users].sort());
    } finally {
      await store.close();
    }
  });

  it('finds nothing after a clean migration, then a dropped or added friend, block, role, nickname and profile', async () => {
    const emulator = await startFastEmulator();
    const zim = new ZimClient({ baseUrl: emulator.url, appId: TEST_APP_ID, serverSecret: TEST_SECRET });
    const stagingPath = staging.fresh();
    const store = await openStaging(stagingPath);
    const run = (migrationId: string, verifyOnly: boolean) =>
      migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator,
        stagingPath,
        migrationId,
        budgets: FAST_BUDGETS,
        ...(verifyOnly && { input: { stages: ['verify'], errorBudget: 1 } }),
      });
    try {
      const clean = await run('verify-clean', false);
      const verify = clean.stages.find((s) => s.stage === 'verify')!;
      assert.equal(verify.failed, 0, JSON.stringify(verify));
      assert.equal(verify.done, verify.planned);
      assert.deepEqual([...failedVerifyRows(stagingPath)], []);

      // A friendship and a block that landed, each dropped from its owner's list.
      const [friendship] = await store.friendsPage(0);
      const [block] = await store.blocksPage(0);
      assert.ok(friendship && block, 'the sample export has friendships and blocks');
      const a = friendship.user;
      await dropRelation(emulator, 'friends', a, friendship.friend);
      await dropRelation(emulator, 'blocked', block.user, block.blocked);

      // A friendship nothing staged explains, between two users who each have staged friends.
      const relations = await store.userRelations((await store.accountsPage(0)).map((u) => u.id));
      const related = (u: string) => [...relations.get(u)!.friends, ...relations.get(u)!.friendOf];
      const z = [...relations.keys()].find(
        (u) => u !== a && related(u).length > 0 && !related(a).includes(u) && !related(u).includes(a)
      )!;
      assert.ok(z, 'a user unrelated to the first friend-list owner');
      await zim.addFriends({ FromUserId: a, FriendInfos: [{ UserId: z }] });
      // A block nothing staged explains.
      const stranger = [...relations.keys()].find(
        (u) => u !== block.user && !relations.get(block.user)!.blocked.includes(u)
      )!;
      await zim.addUsersToBlacklist({ FromUserId: block.user, UserIds: [stranger] });

      // A restored admin demoted, a restored nickname changed, a profile renamed.
      let admin: { groupId: string; owner: string; userId: string } | undefined;
      let nicknamed: { groupId: string; owner: string; userId: string } | undefined;
      for (const { id } of await store.fanoutItems('groups', null, 1000)) {
        const g = (await store.group(id))!;
        const [adminMember] = await store.groupAdmins(id, 0, 1);
        const [nick] = await store.groupNicknames(id, 0, 1);
        if (!admin && adminMember) admin = { groupId: id, owner: g.owner, userId: adminMember.user };
        if (!nicknamed && nick && nick.user !== g.owner) nicknamed = { groupId: id, owner: g.owner, userId: nick.user };
      }
      assert.ok(admin && nicknamed, 'the sample export has admins and nicknames');
      await zim.setGroupMemberRole({
        FromUserId: admin.owner,
        GroupId: admin.groupId,
        ToUserId: admin.userId,
        Role: 3,
      });
      await zim.setGroupMembersNickname({
        FromUserId: nicknamed.owner,
        GroupId: nicknamed.groupId,
        UserIds: [{ UserId: nicknamed.userId, Nickname: 'renamed in ZIM' }],
      });
      const renamed = (await store.accountsPage(0))[0]!.id;
      await zim.modifyUserInfo({ UserInfo: [{ UserId: renamed, UserName: 'someone else' }] });

      // Live traffic after the export, newer than anything staged (App 2.0 users, coexistence's mirror): not the
      // import's, so no finding, in a one-to-one conversation (both copies) and in a group.
      let live: { owner: string; peer: string } | undefined;
      for (const owner of relations.keys()) {
        const [peer] = (await store.ownerConversations(owner)).keys();
        if (peer !== undefined) live = { owner, peer };
      }
      assert.ok(live, 'the sample export has one-to-one conversations');
      await sendLive(emulator, live.owner, { to: live.peer });
      await sendLive(emulator, admin.owner, { groupId: admin.groupId });

      const drift = await run('verify-drift', true);
      const findings = failedVerifyRows(stagingPath);
      const expected = new Map<string, RegExp>([
        [`friends/${a}`, new RegExp(`missing 1: ${a}/${friendship.friend}\\b.*not expected 1: ${a}/${z}$`)],
        [`friends/${z}`, new RegExp(`^friends not expected 1: ${z}/${a}$`)],
        [
          `blocks/${block.user}`,
          new RegExp(`missing 1: ${block.user}/${block.blocked}; blocked not expected 1: ${block.user}/${stranger}$`),
        ],
        [`profile/${renamed}`, /^profile differs: UserName$/],
      ]);
      const groupFindings = new Map<string, string[]>();
      groupFindings.set(`members/${admin.groupId}`, [`roles differ 1: ${admin.userId}`]);
      groupFindings.set(`members/${nicknamed.groupId}`, [
        ...(groupFindings.get(`members/${nicknamed.groupId}`) ?? []),
        `nicknames differ 1: ${nicknamed.userId}`,
      ]);
      for (const [key, parts] of groupFindings) expected.set(key, new RegExp(`^${parts.join('; ')}$`));

      assert.deepEqual([...findings.keys()].sort(), [...expected.keys()].sort(), JSON.stringify([...findings]));
      for (const [key, pattern] of expected) assert.match(findings.get(key)!, pattern, key);
      const verifyAgain = drift.stages.find((s) => s.stage === 'verify')!;
      assert.equal(verifyAgain.failed, expected.size);
      assert.equal(verifyAgain.done + verifyAgain.failed, verifyAgain.planned);
    } finally {
      await store.close();
      await zim.close();
      await emulator.stop();
    }
  });
});
