/**
 * Behaviour every MigrationStore engine must have (SQLite, PostgreSQL), run by each engine's test against the same
 * small staged export: reads by cursor, page and seq agree with each other and with the plan's counts; the ledger's
 * claim is exactly-once between two connections racing on the same records; leases end, renew and release; counts
 * follow the ledger; the call gate is shared. `snapshotReads` reads everything a migration can read, so a test can
 * check that two engines are indistinguishable.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { STAGES, type Stage } from '../../src/shared/stages';
import type { BlockKey, FriendKey, MigrationStore } from '../../src/staging/migration-store';
import { PAGE_SIZE } from '../../src/staging/page-sizes';

export interface StoreUnderTest {
  /** A new connection to the one staged migration, as another worker would open it. */
  open(options?: { readonly?: boolean }): Promise<MigrationStore>;
}

/** Reads `read` page by page after each page's last cursor until a page comes back empty. */
async function all<T, C>(read: (after: C | null) => Promise<T[]>, cursor: (last: T) => C): Promise<T[]> {
  const out: T[] = [];
  for (let page = await read(null); page.length; page = await read(cursor(page.at(-1)!))) out.push(...page);
  return out;
}

async function pages<T>(read: (page: number) => Promise<T[]>, count: number): Promise<T[][]> {
  const out: T[][] = [];
  for (let p = 0; p < count; p++) out.push(await read(p));
  assert.deepEqual(await read(count), [], `page ${count} (past the last) is empty`);
  return out;
}

const sorted = (xs: string[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
let nextKey = 0;
/** Keys no other case writes (the ledger is shared by every case of a file). */
const freshKeys = (n: number, prefix = 'case') => Array.from({ length: n }, () => `${prefix}-${nextKey++}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything a migration reads, in the orders and pages it reads it. */
export async function snapshotReads(store: MigrationStore) {
  const work = await store.stageWork();
  const users = await all(
    (a: string | null) => store.readUsers(a, 7),
    (u) => u.id
  );
  const friends = await all(
    (a: FriendKey | null) => store.readFriends(a, 5),
    (f): FriendKey => f
  );
  const blocks = await all(
    (a: BlockKey | null) => store.readBlocks(a, 5),
    (b): BlockKey => b
  );
  const groups = await all(
    (a: string | null) => store.readGroups(a, 3),
    (g) => g.id
  );
  const owners = await all(
    (a: string | null) => store.readOwners(a, 4),
    (o) => o.user
  );
  const ownerCopies = [];
  for (const o of owners)
    ownerCopies.push({
      owner: o.user,
      byCursor: await all(
        (a: number | null) => store.readOwnerMessages(o.user, a, 5),
        (m) => m.seq
      ),
      ranges: await store.ownerConversationRanges(o.user),
      conversations: [...(await store.ownerConversations(o.user)).entries()],
      count: await store.countOwnerMessages(o.user),
      bySeq: [await store.ownerMessage(o.user, 0), await store.ownerMessage(o.user, o.messageCount - 1)],
    });
  const groupDetails = [];
  for (const g of groups)
    groupDetails.push({
      group: await store.group(g.id),
      members: await all(
        (a: string | null) => store.readGroupMembers(g.id, a, 4),
        (m) => m.user
      ),
      others: await store.groupMembers(g.id, 1, 1000),
      admins: await store.groupAdmins(g.id, 0, 1000),
      nicknames: await store.groupNicknames(g.id, 0, 1000),
      byCursor: await all(
        (a: number | null) => store.readGroupMessages(g.id, a, 6),
        (m) => m.seq
      ),
      whole: await store.groupMessages(g.id),
      count: await store.countGroupMessages(g.id),
      last: await store.groupMessage(g.id, g.messageCount - 1),
    });
  return {
    meta: await store.meta(),
    work,
    users,
    friends,
    blocks,
    groups,
    owners,
    ownerCopies,
    groupDetails,
    accounts: await pages((p) => store.accountsPage(p), work.accounts.pages),
    profiles: await pages((p) => store.profilesPage(p), work.profiles.pages),
    friendPages: await pages((p) => store.friendsPage(p), work.friends.pages),
    blockPages: await pages((p) => store.blocksPage(p), work.blocks.pages),
    readStatePages: await pages((p) => store.readStatePage(p), work['read-state'].pages),
    verify: await Promise.all(Array.from({ length: work.verify.pages }, (_, p) => store.verifyPage(p))),
    relations: [...(await store.userRelations(users.slice(0, 40).map((u) => u.id))).entries()],
    fanout: {
      peer: await all(
        (a: string | null) => store.fanoutItems('peer-messages', a, 9),
        (i) => i.id
      ),
      groups: await all(
        (a: string | null) => store.fanoutItems('groups', a, 9),
        (i) => i.id
      ),
      groupMessages: await all(
        (a: string | null) => store.fanoutItems('group-messages', a, 9),
        (i) => i.id
      ),
    },
  };
}

export function migrationStoreCases(engine: () => StoreUnderTest): void {
  const withStores = async <T>(n: number, body: (...stores: MigrationStore[]) => Promise<T>): Promise<T> => {
    const stores = await Promise.all(Array.from({ length: n }, () => engine().open()));
    try {
      return await body(...stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  };

  it('reads users, relations and groups by cursor in key order, and by page as the plan counts them', () =>
    withStores(1, async (store) => {
      const s = await snapshotReads(store);
      assert.ok(s.users.length > 50 && s.friends.length > 10 && s.groups.length > 1 && s.owners.length > 10);
      assert.deepEqual(
        s.users.map((u) => u.id),
        sorted(s.users.map((u) => u.id))
      );
      assert.deepEqual(s.users, await store.readUsers(null, 100_000), 'by cursor = at once');
      assert.deepEqual(s.accounts.flat(), s.users, 'the account pages hold every user once, in order');
      assert.ok(s.accounts.every((p) => p.length > 0 && p.length <= PAGE_SIZE.accounts));
      assert.deepEqual(
        s.profiles.flat(),
        s.users.filter((u) => u.extendedData !== null)
      );
      assert.deepEqual(s.friendPages.flat(), s.friends, 'friend pages: every friendship once, in (user, friend) order');
      for (const p of s.friendPages) {
        assert.ok(p.length > 0 && p.length <= PAGE_SIZE.friends);
        assert.equal(new Set(p.map((f) => f.user)).size, 1, 'a friends page is one user’s (one AddFriends)');
      }
      assert.deepEqual(s.blockPages.flat(), s.blocks);
      // Read states: every staged one once, in (user, kind, conversation) order, full pages but the last.
      const reads = s.readStatePages.flat();
      assert.equal(reads.length, s.work['read-state'].planned);
      const readKeys = reads.map((r) => `${r.user}\u0000${r.kind}\u0000${r.conv}`);
      assert.deepEqual(readKeys, sorted(readKeys));
      assert.ok(s.readStatePages.slice(0, -1).every((p) => p.length === PAGE_SIZE.readStates));
      const keys = s.friends.map((f) => `${f.user}\u0000${f.friend}`);
      assert.deepEqual(keys, sorted(keys));
      for (const [user, r] of s.relations) {
        assert.deepEqual(
          r.friends,
          s.friends.filter((f) => f.user === user).map((f) => f.friend)
        );
        assert.deepEqual(r.friendOf, sorted(s.friends.filter((f) => f.friend === user).map((f) => f.user)));
        assert.deepEqual(
          r.blocked,
          s.blocks.filter((b) => b.user === user).map((b) => b.blocked)
        );
      }
      const verified = s.verify.reduce((n, p) => n + p.owners.length + p.groups.length + p.users.length, 0);
      assert.equal(verified, s.owners.length + s.groups.length + s.users.length, 'verify pages cover everything once');
      assert.deepEqual(
        s.fanout.peer.map((i) => i.id),
        s.owners.map((o) => o.user)
      );
      assert.deepEqual(
        s.fanout.peer.map((i) => i.planned),
        s.owners.map((o) => o.messageCount)
      );
      assert.equal(
        s.fanout.peer.reduce((n, i) => n + i.planned, 0),
        s.work['peer-messages'].planned,
        'the owners’ copies add up to the plan'
      );
    }));

  it('numbers each copy and group history with a dense seq that every read agrees on', () =>
    withStores(1, async (store) => {
      const s = await snapshotReads(store);
      for (const o of s.ownerCopies) {
        assert.deepEqual(
          o.byCursor.map((m) => m.seq),
          Array.from({ length: o.count }, (_, i) => i)
        );
        assert.deepEqual(
          o.conversations.flatMap(([, ms]) => ms),
          o.byCursor,
          'by conversation = by cursor'
        );
        assert.deepEqual(o.bySeq, [o.byCursor[0], o.byCursor.at(-1)]);
        assert.equal(await store.ownerMessage(o.owner, o.count), null);
        let start = 0;
        for (const r of o.ranges) {
          assert.equal(r.start, start, 'conversations are contiguous seq ranges');
          assert.ok(o.byCursor.slice(r.start, r.start + r.count).every((m) => m.peer === r.peer));
          start += r.count;
        }
        for (let i = 1; i < o.byCursor.length; i++) {
          const [a, b] = [o.byCursor[i - 1]!, o.byCursor[i]!];
          assert.ok(a.peer < b.peer || (a.peer === b.peer && a.sentTime <= b.sentTime), 'by peer, then time');
        }
      }
      for (const g of s.groupDetails) {
        assert.deepEqual(g.byCursor, g.whole);
        assert.deepEqual(
          g.whole.map((m) => m.seq),
          Array.from({ length: g.count }, (_, i) => i)
        );
        assert.equal(g.count, g.group!.messageCount);
        assert.deepEqual(g.last, g.whole.at(-1) ?? null);
        assert.equal(g.members.length, g.group!.memberCount);
        assert.deepEqual(g.others, g.members.filter((m) => m.user !== g.group!.owner).slice(1));
        assert.equal(g.admins.length, g.group!.adminCount);
        assert.equal(g.nicknames.length, g.group!.nicknameCount);
        for (let i = 1; i < g.whole.length; i++) assert.ok(g.whole[i - 1]!.sentTime <= g.whole[i]!.sentTime);
      }
      assert.equal(await store.group('no-such-group'), null);
      assert.deepEqual(await store.readOwnerMessages('no-such-user', null, 5), []);
    }));

  it('claims a record exactly once when two workers race on it, by the store’s clock', () =>
    withStores(2, async (a, b) => {
      const stage: Stage = 'peer-messages';
      const keys = freshKeys(40, 'race');
      const results = await Promise.all(
        keys.flatMap((key) => [
          a.ledgerClaim(stage, key, `A-${key}`, 60_000),
          b.ledgerClaim(stage, key, `B-${key}`, 60_000),
        ])
      );
      for (let i = 0; i < keys.length; i++) {
        const [x, y] = [results[2 * i]!, results[2 * i + 1]!];
        assert.equal(Number(x.claimed) + Number(y.claimed), 1, `exactly one attempt claims ${keys[i]}`);
        const lost = x.claimed ? y : x;
        assert.deepEqual(lost, { claimed: false, current: { status: 'pending' } });
        const won = x.claimed ? x : y;
        assert.deepEqual(won, { claimed: true, previous: null });
      }
      // The lease holder renews; the other cannot.
      const [key] = keys as [string];
      const holder = (results[0]!.claimed ? 'A' : 'B') + `-${key}`;
      const other = (results[0]!.claimed ? 'B' : 'A') + `-${key}`;
      assert.equal(await b.ledgerRenew(stage, key, holder, 60_000), true);
      assert.equal(await a.ledgerRenew(stage, key, other, 60_000), false);
      // Its own claim again (a retried attempt with the same token) takes it back.
      assert.deepEqual(await a.ledgerClaim(stage, key, holder, 60_000), {
        claimed: true,
        previous: { status: 'pending' },
      });
      // Released, the entry stays pending and the next attempt claims it at once.
      await a.ledgerRelease(stage, key, holder);
      assert.deepEqual(await b.ledgerClaim(stage, key, other, 60_000), {
        claimed: true,
        previous: { status: 'pending' },
      });
      assert.equal(await a.ledgerRenew(stage, key, holder, 60_000), false, 'a lease taken over cannot be renewed');
    }));

  it('lets a lease expire, and never reclaims a settled entry', () =>
    withStores(2, async (a, b) => {
      const stage: Stage = 'group-messages';
      const [short, settled] = freshKeys(2, 'lease') as [string, string];
      assert.equal((await a.ledgerClaim(stage, short, 't1', 300)).claimed, true);
      assert.equal((await b.ledgerClaim(stage, short, 't2', 300)).claimed, false, 'a live lease holds');
      await sleep(450);
      assert.deepEqual(await b.ledgerClaim(stage, short, 't2', 60_000), {
        claimed: true,
        previous: { status: 'pending' },
      });
      assert.equal(await a.ledgerRenew(stage, short, 't1', 60_000), false);

      assert.equal((await a.ledgerClaim(stage, settled, 't1', 60_000)).claimed, true);
      await a.ledgerPut(stage, [{ key: settled, status: 'done', msgId: 'm-1', msgSeq: 7 }]);
      assert.deepEqual(await b.ledgerClaim(stage, settled, 't2', 60_000), {
        claimed: false,
        current: { status: 'done', msgSeq: 7 },
      });
      assert.equal(await a.ledgerRenew(stage, settled, 't1', 60_000), false, 'a settled entry has no lease');
      // A failure written after a pending write-ahead: its code is what a claim reports.
      const [failed] = freshKeys(1, 'failed') as [string];
      await a.ledgerPut(stage, [{ key: failed, status: 'pending' }]);
      assert.deepEqual(await b.ledgerClaim(stage, failed, 't3', 60_000), {
        claimed: true,
        previous: { status: 'pending' },
      });
      await b.ledgerPut(stage, [{ key: failed, status: 'failed', zimCode: 660000, zimMessage: 'no' }]);
      assert.deepEqual(await a.ledgerClaim(stage, failed, 't4', 60_000), {
        claimed: false,
        current: { status: 'failed', zimCode: 660000 },
      });
    }));

  it('writes outcomes, reads them back by key in byte order, and keeps the counts', () =>
    withStores(2, async (a, b) => {
      const stage: Stage = 'profiles';
      const before = (await b.ledgerCounts())[stage] ?? { pending: 0, done: 0, failed: 0, skipped: 0 };
      // Byte order, as SQLite compares text: upper case before lower, then accented letters.
      const keys = ['p/Zed', 'p/abc', 'p/Abc', 'p/éclair', 'p/zed', 'p/Éclair', 'p/_'];
      await a.ledgerPut(
        stage,
        keys.map((key) => ({ key, status: 'pending' as const }))
      );
      await a.ledgerPut(stage, [
        { key: 'p/Zed', status: 'done' },
        { key: 'p/abc', status: 'failed', zimCode: 6000, zimMessage: 'bad' },
        { key: 'p/Abc', status: 'skipped' },
        { key: 'p/Abc', status: 'done', msgId: 'x' }, // the last write of a key wins
      ]);
      const read = await b.readLedger(stage, null, 100);
      assert.deepEqual(
        read.map((r) => r.key),
        sorted(keys)
      );
      assert.deepEqual(
        read.filter((r) => r.key === 'p/abc' || r.key === 'p/Abc').map(({ at: _at, ...r }) => r),
        [
          { stage, key: 'p/Abc', status: 'done', msgId: 'x' },
          { stage, key: 'p/abc', status: 'failed', zimCode: 6000, zimMessage: 'bad' },
        ]
      );
      assert.ok(
        read.every((r) => Math.abs(r.at - Date.now()) < 60_000),
        'written now (epoch ms)'
      );
      assert.deepEqual(
        (await b.readLedger(stage, 'p/abc', 2)).map((r) => r.key),
        ['p/zed', 'p/Éclair'].sort()
      );
      const got = await b.ledgerGet(stage, ['p/Zed', 'p/none']);
      assert.deepEqual([...got.entries()], [['p/Zed', { status: 'done' }]]);
      assert.deepEqual((await b.ledgerCounts())[stage], {
        pending: before.pending + 4,
        done: before.done + 2,
        failed: before.failed + 1,
        skipped: before.skipped,
      });
      const counts = await a.ledgerCounts();
      for (const s of Object.keys(counts)) assert.ok(STAGES.includes(s as Stage));
    }));

  it('shares the call gate between connections, and refuses writes when read-only', async () => {
    await withStores(2, async (a, b) => {
      assert.equal(await b.callGateOpen(), true, 'open until closed');
      await a.setCallGate(false);
      assert.equal(await b.callGateOpen(), false);
      await b.setCallGate(true);
      assert.equal(await a.callGateOpen(), true);
      await a.recordMigration('zim-migrate/cases');
      assert.equal(await b.lastMigration(), 'zim-migrate/cases');
    });
    const ro = await engine().open({ readonly: true });
    try {
      await assert.rejects(ro.ledgerPut('accounts', [{ key: 'k', status: 'done' }]), /read-only/);
      await assert.rejects(ro.ledgerClaim('accounts', 'k', 't', 1000), /read-only/);
      await assert.rejects(ro.setCallGate(false), /read-only/);
      assert.equal(await ro.callGateOpen(), true);
      assert.ok((await ro.readUsers(null, 3)).length === 3);
    } finally {
      await ro.close();
    }
  });
}
