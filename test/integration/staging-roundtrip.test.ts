/**
 * gen → plan → read everything back by cursor: every owner's copy of their conversations equals what an
 * independent reading of the generated files says it must be, and the ledger takes writes while another
 * process reads.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toZimContent } from '../../src/import-format/message-body';
import { peerMessageRecord } from '../../src/import-format/schemas';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import { DEFAULT_RATES } from '../../src/plan/actions';
import { buildPlan, type BuildPlanResult } from '../../src/plan/build-plan';
import { openStaging } from '../../src/staging';
import type { MigrationStore } from '../../src/staging/migration-store';
import { generateExport } from '../../src/synthetic/generate';
import { DAY, NO_MERGE, NOW, tempDir } from '../helpers/exports';

type Json = Record<string, unknown>;
const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
const ms = (t: unknown) => (typeof t === 'number' ? t : Date.parse(t as string));
const byKey =
  <T>(key: (x: T) => (string | number)[]) =>
  (a: T, b: T) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    return 0;
  };

/** What each owner's copy must hold, straight from the files: not deleted by the owner, owner not deactivated. */
function expectedCopies(dir: string): Map<string, { peer: string; sent: number; id: string }[]> {
  const deactivated = new Set(
    readLines(path.join(dir, 'users.ndjson'))
      .filter((u) => u.deactivated)
      .map((u) => u.id)
  );
  const copies = new Map<string, { peer: string; sent: number; id: string }[]>();
  for (const m of readLines(path.join(dir, 'peer_messages.ndjson'))) {
    const deletedBy = (m.deletedBy as string[] | undefined) ?? [];
    for (const [owner, peer] of [
      [m.from, m.to],
      [m.to, m.from],
    ] as [string, string][]) {
      if (deletedBy.includes(owner) || deactivated.has(owner)) continue;
      if (!copies.has(owner)) copies.set(owner, []);
      copies.get(owner)!.push({ peer, sent: ms(m.sentAt), id: m.id as string });
    }
  }
  // A stable sort: messages sent at the same time keep the order of the file.
  for (const list of copies.values()) list.sort(byKey((c) => [c.peer, c.sent]));
  return copies;
}

const PLAN_OPTIONS = {
  limits: ZIM_PLAN_LIMITS.pro,
  asOfMs: NOW,
  merge: NO_MERGE,
  rejectsFile: null,
  rates: DEFAULT_RATES,
  excludeErrors: false,
  force: false,
  // Parse the message file (~800 KB) on worker threads, in two parts, as large exports are.
  workerThresholdBytes: 400_000,
};

describe('staging round trip', () => {
  let dir: string;
  let staging: string;
  let built: BuildPlanResult;
  let store: MigrationStore;

  before(async () => {
    const root = tempDir('roundtrip');
    dir = path.join(root, 'legacy');
    await generateExport({ out: dir, users: 300, seed: 11, peerMessages: 6000, groupMessages: 1500, endMs: NOW - DAY });
    staging = path.join(root, 'staging.db');
    built = await buildPlan({ ...PLAN_OPTIONS, dirs: [dir], out: staging });
    store = await openStaging(staging);
  });
  after(async () => {
    await store?.close();
  });

  it('stages a clean synthetic export without errors', () => {
    assert.equal(built.validation.errors, 0, JSON.stringify(built.validation.rules));
    assert.equal(built.validation.entities.peer_messages.ok, 6000);
  });

  it("reads back every owner's copy by cursor, in (peer, time) order (ties in file order) with a dense seq", async () => {
    const expected = expectedCopies(dir);
    const owners = [];
    for (let page = await store.readOwners(null, 17); page.length; page = await store.readOwners(page.at(-1)!.user, 17))
      owners.push(...page);
    assert.deepEqual(owners.map((o) => o.user).sort(), [...expected.keys()].sort());
    for (const owner of owners) {
      const want = expected.get(owner.user)!;
      const got = [];
      for (
        let page = await store.readOwnerMessages(owner.user, null, 7);
        page.length;
        page = await store.readOwnerMessages(owner.user, page.at(-1)!.seq, 7)
      )
        got.push(...page);
      assert.deepEqual(
        got.map((m) => [m.seq, m.peer, m.sentTime, m.sourceId]),
        want.map((c, i) => [i, c.peer, c.sent, c.id]),
        owner.user
      );
      assert.equal(owner.messageCount, want.length);
      assert.equal(await store.countOwnerMessages(owner.user), want.length);
      assert.equal(owner.peerCount, new Set(want.map((c) => c.peer)).size);
    }
    assert.deepEqual(await store.readOwnerMessages('nobody', null, 10), []);
  });

  it('carries the ZIM message body, type and participants of each message', async () => {
    const source = new Map(readLines(path.join(dir, 'peer_messages.ndjson')).map((m) => [m.id as string, m]));
    const owner = (await store.readOwners(null, 1))[0]!.user;
    for (const m of await store.readOwnerMessages(owner, null, 200)) {
      const record = peerMessageRecord.parse(source.get(m.sourceId));
      const zim = toZimContent(record);
      assert.deepEqual(
        [m.from, m.to, m.type, m.subType, m.body, m.searchedContent],
        [record.from, record.to, zim.messageType, zim.subType, zim.body, zim.searchedContent]
      );
    }
  });

  it('pages users, relations, groups, members and group histories completely, each once, in key order', async () => {
    const users = [];
    for (let p = await store.readUsers(null, 33); p.length; p = await store.readUsers(p.at(-1)!.id, 33))
      users.push(...p);
    assert.equal(users.length, 300);
    assert.deepEqual(
      users.map((u) => u.id),
      [...users.map((u) => u.id)].sort()
    );

    const friends = [];
    for (let p = await store.readFriends(null, 20); p.length; p = await store.readFriends(p.at(-1)!, 20))
      friends.push(...p);
    assert.equal(friends.length, built.plan!.counts.friends);
    assert.equal(new Set(friends.map((f) => `${f.user}|${f.friend}`)).size, friends.length);
    assert.deepEqual(friends, [...friends].sort(byKey((f) => [f.user, f.friend])));

    const blocks = [];
    for (let p = await store.readBlocks(null, 3); p.length; p = await store.readBlocks(p.at(-1)!, 3)) blocks.push(...p);
    assert.equal(blocks.length, built.plan!.counts.blocks);

    const groupMessages = readLines(path.join(dir, 'group_messages.ndjson'));
    let seen = 0;
    for (let gp = await store.readGroups(null, 5); gp.length; gp = await store.readGroups(gp.at(-1)!.id, 5)) {
      for (const g of gp) {
        const members = [];
        for (
          let p = await store.readGroupMembers(g.id, null, 4);
          p.length;
          p = await store.readGroupMembers(g.id, p.at(-1)!.user, 4)
        )
          members.push(...p);
        assert.equal(members.length, g.memberCount);
        assert.deepEqual(
          members.filter((m) => m.role === 'owner').map((m) => m.user),
          [g.owner]
        );

        const history = [];
        for (
          let p = await store.readGroupMessages(g.id, null, 9);
          p.length;
          p = await store.readGroupMessages(g.id, p.at(-1)!.seq, 9)
        )
          history.push(...p);
        const want = groupMessages
          .filter((m) => m.group === g.id)
          .map((m) => ({ sent: ms(m.sentAt), id: m.id as string }))
          .sort(byKey((m) => [m.sent]));
        assert.deepEqual(
          history.map((m) => [m.seq, m.sentTime, m.sourceId]),
          want.map((m, i) => [i, m.sent, m.id])
        );
        seen += history.length;
      }
    }
    assert.equal(seen, groupMessages.length);
  });

  it('records outcomes as upserts and reads them back by stage and key', async () => {
    const before = Date.now();
    await store.ledgerPut('peer-messages', [
      { key: 'u1/m1', status: 'failed', zimCode: 660300005, zimMessage: 'too frequent' },
      { key: 'u1/m2', status: 'done', msgId: '9007199254740993', msgSeq: 2 },
    ]);
    await store.ledgerPut('peer-messages', [{ key: 'u1/m1', status: 'done', msgId: '1', msgSeq: 1 }]);
    await store.ledgerPut('accounts', [{ key: 'u1', status: 'skipped' }]);
    const rows = await store.readLedger('peer-messages', null, 10);
    assert.ok(
      rows.every((r) => r.at >= before && r.at <= Date.now()),
      JSON.stringify(rows)
    );
    assert.deepEqual(
      rows.map(({ at: _at, ...r }) => r),
      [
        { stage: 'peer-messages', key: 'u1/m1', status: 'done', msgId: '1', msgSeq: 1 },
        { stage: 'peer-messages', key: 'u1/m2', status: 'done', msgId: '9007199254740993', msgSeq: 2 },
      ]
    );
    assert.deepEqual(await store.readLedger('peer-messages', 'u1/m1', 10).then((r) => r.map((o) => o.key)), ['u1/m2']);
    assert.deepEqual(await store.ledgerCounts(), {
      accounts: { pending: 0, done: 0, failed: 0, skipped: 1 },
      'peer-messages': { pending: 0, done: 2, failed: 0, skipped: 0 },
    });
  });

  it('lets another process read while this one writes the ledger, and refuses writes when read-only', async () => {
    const reader = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { openStaging } = require('./src/staging');
         (async () => {
           const s = await openStaging(process.argv[1], { readonly: true });
           let reads = 0; const until = Date.now() + 1500;
           while (Date.now() < until) { await s.ledgerCounts(); await s.readOwners(null, 10); reads++; }
           console.log(JSON.stringify({ reads, meta: (await s.meta()).counts.peerMessages }));
         })().catch((e) => { console.error(e.message); process.exit(3); });`,
        staging,
      ],
      { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let out = '';
    let err = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    reader.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => reader.on('exit', resolve));
    let writes = 0;
    const until = Date.now() + 2500;
    while (Date.now() < until && reader.exitCode === null) {
      await store.ledgerPut('verify', [{ key: `k${writes}`, status: 'done' }]);
      writes++;
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(await exited, 0, err);
    const { reads, meta } = JSON.parse(out) as { reads: number; meta: number };
    assert.ok(reads > 10 && writes > 10, `reads ${reads}, writes ${writes}`);
    assert.equal(meta, 6000);
    const ro = await openStaging(staging, { readonly: true });
    await assert.rejects(ro.ledgerPut('accounts', [{ key: 'k', status: 'done' }]), /read-only/);
    await ro.close();
    await assert.rejects(openStaging(path.join(dir, 'users.ndjson')), /is not a staging file/);
    await assert.rejects(openStaging(path.join(dir, 'missing.db')), /not exist|unable to open/);
    // A URL opens the PostgreSQL engine: nothing listens on port 1, and the error names the URL without its password.
    await assert.rejects(openStaging('postgres://zim:s3cret-pw@127.0.0.1:1/acme'), (err: Error) => {
      assert.match(err.message, /postgres:\/\/zim:\*\*\*@127\.0\.0\.1:1\/acme/);
      assert.doesNotMatch(err.message, /s3cret-pw/);
      return true;
    });
    await assert.rejects(
      buildPlan({ ...PLAN_OPTIONS, dirs: [dir], out: 'postgresql://zim:s3cret-pw@127.0.0.1:1/acme' }),
      (err: Error) => /127\.0\.0\.1:1/.test(err.message) && !err.message.includes('s3cret-pw')
    );
  });
});
