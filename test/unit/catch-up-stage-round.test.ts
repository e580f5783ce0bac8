import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CHANGE_KINDS } from '../../src/catch-up/change-kinds';
import { planRound } from '../../src/catch-up/plan-round';
import { stageRound } from '../../src/catch-up/stage-round';
import { plannedRecords, type StagingCounts } from '../../src/shared/migration-plan';
import { ROUND_OPS } from '../../src/shared/rounds';
import { openStaging } from '../../src/staging';
import { evolveExport } from '../../src/synthetic/evolve';
import { generateExport } from '../../src/synthetic/generate';
import { stageExport, tempDir } from '../helpers/exports';

const END = Date.parse('2026-05-20T00:00:00Z');
const UNTIL = Date.parse('2026-05-21T00:00:00Z');
const AS_OF = UNTIL + 2 * 86_400_000;

const stage = (dir: string, out: string) => stageExport(dir, out, AS_OF);

const rejectsFile = () => path.join(tempDir('rejects'), 'r.ndjson');

describe('staging a catch-up round', () => {
  it('writes every kind of change as work, brings staging to the later export, and never stages it twice', async () => {
    const root = tempDir('stage-round');
    const earlier = path.join(root, 'app');
    await generateExport({ out: earlier, users: 300, seed: 5, endMs: END, groups: 40 });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const later = await evolveExport({
      from: earlier,
      out: path.join(root, 'later'),
      seed: 8,
      incremental: false,
      untilMs: UNTIL,
      late: 2,
      change: 0.25,
    });

    const staged = await stageRound({ staging, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    assert.equal(staged.kind, 'staged');
    if (staged.kind !== 'staged') return;
    assert.equal(staged.round.round, 1);
    assert.equal(staged.round.state, 'staged');
    const d = staged.plan.difference!;

    const store = await openStaging(staging);
    try {
      const work = await store.roundWork(1);
      const items = Object.fromEntries(work.ops.map((o) => [o.op, o.items]));
      for (const op of ROUND_OPS) assert.ok(items[op]! > 0, `op ${op} has work`);
      assert.equal(items.transfer, d.changes['groups.owner']);
      assert.equal(items.dismiss, d.changes['groups.dismissed']);
      assert.equal(items.kick, d.changes['members.left']);
      assert.equal(items.invite, d.changes['members.joined']);
      // A friendship ended on both sides is one item (one two-way call); DeleteFriends pages are the plan's calls.
      assert.ok(items.unfriend! < d.changes['friends.removed'], 'some friendships ended on both sides');
      const unfriendPages = work.ops.find((o) => o.op === 'unfriend')!.pages;
      assert.equal(unfriendPages, d.calls.DeleteFriends);
      for (let p = 0; p < unfriendPages; p++) {
        const items = await store.roundOpPage(1, 'unfriend', p);
        assert.equal(
          new Set(items.map((i) => `${i.target} ${Boolean(i.data.oneWay)}`)).size,
          1,
          'one DeleteType a page'
        );
      }
      assert.equal(items.friend, d.changes['friends.added']);
      assert.equal(work.fanout.groups.items, d.changes['groups.created']);
      assert.equal(work.fanout['peer-messages'].planned, d.calls.ImportPeerMsg);
      assert.equal(work.fanout['group-messages'].planned, d.calls.ImportGroupMsg);
      assert.equal((await store.roundLate(1, 10)).length, 2);
      // A page is one call: never more items than the Action takes, and one target each.
      const page = await store.roundOpPage(1, 'unfriend', 0);
      assert.ok(page.length >= 1 && page.length <= 20 && new Set(page.map((i) => i.target)).size === 1);
      // Only changed fields go to ModifyUserInfo.
      for (let p = 0; p < work.ops.find((o) => o.op === 'profile')!.pages; p++)
        for (const item of await store.roundOpPage(1, 'profile', p))
          assert.ok(Object.values(item.data).some((v) => v !== null));
    } finally {
      await store.close();
    }

    // Staging now holds the later export: compared with it again, nothing is left but the late messages.
    const again = await planRound({ staging, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    for (const kind of CHANGE_KINDS)
      assert.equal(again.difference!.changes[kind], kind === 'messages.late' ? 2 : 0, kind);

    // The same export again while round 1 is unfinished: round 1 itself, not a second copy of it.
    const rerun = await stageRound({ staging, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    assert.equal(rerun.kind, 'unfinished');
    // Another export while round 1 is unfinished: refused, naming the round and how to resume it.
    const other = await evolveExport({ from: later.dir, out: path.join(root, 'later2'), seed: 9, incremental: false });
    await assert.rejects(
      stageRound({ staging, exportDir: other.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() }),
      /round 1 of this migration .* has not finished: a second round cannot start before it/
    );
  });

  it("plans the round's new ledger keys per stage, and keeps the migration's own counts", async () => {
    const root = tempDir('stage-round-planned');
    const earlier = path.join(root, 'app');
    await generateExport({ out: earlier, users: 120, seed: 6, endMs: END, groups: 12 });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const later = await evolveExport({ from: earlier, out: path.join(root, 'later'), seed: 4, incremental: false });
    // What the migration marked, in part: every account's profile check (accounts are never removed).
    const db = new Database(staging);
    const before = (
      JSON.parse(db.prepare(`SELECT value FROM meta WHERE key = 'meta'`).pluck().get() as string) as {
        counts: StagingCounts;
      }
    ).counts;
    const users = db.prepare(`SELECT count(*) FROM users`).pluck().get() as number;
    db.prepare(
      `INSERT INTO ledger(stage, key, status, at) SELECT 'verify', 'profile/' || id, 'done', 0 FROM users`
    ).run();
    db.close();

    const staged = await stageRound({ staging, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    assert.equal(staged.kind, 'staged');
    if (staged.kind !== 'staged') return;
    const store = await openStaging(staging, { readonly: true });
    try {
      const meta = await store.meta();
      assert.deepEqual(meta.migrationCounts, before, "the migration's counts are kept");
      assert.notDeepEqual(meta.counts, before, 'counts are the staged state now');
      const [round] = await store.rounds();
      assert.deepEqual(round!.planned, staged.round.planned);
      const planned = round!.planned!;
      const work = await store.roundWork(1);
      const items = Object.fromEntries(work.ops.map((o) => [o.op, o.items]));
      // Ops that add records under new keys count one each; new messages count their copies.
      assert.equal(planned.accounts, items.register);
      assert.equal(planned.friends, items.friend);
      assert.equal(planned.blocks, items.block);
      assert.equal(planned['peer-messages'], work.fanout['peer-messages'].planned);
      assert.ok(planned.groups > (items.invite ?? 0), 'new groups add their memberships');
      // Verify checks the whole final state, but a check the ledger holds already adds no row.
      assert.equal(planned.verify, plannedRecords(meta.counts).verify - users);
      assert.equal(planned['read-state'], 0);
    } finally {
      await store.close();
    }
  });

  it('leaves nothing behind when staging fails halfway, and stages the round whole when run again', async () => {
    const root = tempDir('stage-round-crash');
    const earlier = path.join(root, 'app');
    await generateExport({ out: earlier, users: 60, seed: 4, endMs: END, groups: 3 });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const later = await evolveExport({ from: earlier, out: path.join(root, 'r1'), seed: 6, incremental: false });
    const work = tempDir('stage-round-work');
    const plan = await planRound({
      staging,
      exportDir: later.dir,
      asOfMs: AS_OF,
      rejectsFile: rejectsFile(),
      workDir: work,
    });
    // The later staging loses a table the transaction reads only after it has written its first ops.
    const broken = new Database(path.join(work, 'later.sqlite'));
    broken.exec('DROP TABLE group_members');
    broken.close();
    const store = await openStaging(staging);
    try {
      await assert.rejects(
        store.stageRound({
          round: 1,
          laterFile: path.join(work, 'later.sqlite'),
          exportDir: later.dir,
          kind: 'full',
          sinceMs: null,
          untilMs: later.untilMs,
          changes: plan.difference!.changes,
          etaSeconds: plan.etaSeconds,
        }),
        /no such table: new\.group_members/
      );
      assert.deepEqual(await store.rounds(), []);
      assert.deepEqual(
        (await store.roundWork(1)).ops.filter((o) => o.items > 0),
        [],
        'no op of the failed staging is left'
      );
    } finally {
      await store.close();
    }
    const again = await planRound({ staging, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    assert.deepEqual(again.difference, plan.difference, 'staging is as it was before the failed attempt');
    const staged = await stageRound({ staging, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    assert.equal(staged.kind, 'staged');
  });

  it('refuses an export whose watermark is older than the last round’s, naming both and the fix', async () => {
    const root = tempDir('stage-round-watermark');
    const earlier = path.join(root, 'app');
    await generateExport({ out: earlier, users: 60, seed: 3, endMs: END, groups: 3 });
    const staging = await stage(earlier, path.join(root, 'app.sqlite'));
    const r1 = await evolveExport({
      from: earlier,
      out: path.join(root, 'r1'),
      seed: 1,
      incremental: false,
      untilMs: UNTIL,
    });
    const staged = await stageRound({ staging, exportDir: r1.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    assert.equal(staged.kind, 'staged');
    const store = await openStaging(staging);
    await store.setRoundState(1, 'done');
    await store.close();
    const stale = await evolveExport({
      from: earlier,
      out: path.join(root, 'stale'),
      seed: 2,
      incremental: true,
      untilMs: UNTIL - 3_600_000,
    });
    await assert.rejects(
      stageRound({ staging, exportDir: stale.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() }),
      /since .* is older than round 1's watermark 2026-05-21T00:00:00.000Z.*Export the delta again with since = 2026-05-21/
    );
  });
});
