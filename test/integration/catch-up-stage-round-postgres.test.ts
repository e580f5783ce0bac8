/**
 * Staging catch-up rounds on a PostgreSQL staging (issue #13 on #12's store), against a real local PostgreSQL:
 * two rounds staged in PostgreSQL leave every staged table, the round's work and the page index row for row what
 * the SQLite engine leaves for the same exports; a second machine staging at the same moment is refused, never
 * doubled; a write-back that fails leaves the staging as it was; a dry run compares a PostgreSQL staging too.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { planRound } from '../../src/catch-up/plan-round';
import { stageRound } from '../../src/catch-up/stage-round';
import { openStaging } from '../../src/staging';
import { copyStaging } from '../../src/staging/copy/copy-staging';
import { quotedColumns, STAGED_TABLES } from '../../src/staging/copy/staged-tables';
import type { StageRoundInput } from '../../src/staging/migration-store';
import { evolveExport } from '../../src/synthetic/evolve';
import { generateExport } from '../../src/synthetic/generate';
import { stageExport, tempDir } from '../helpers/exports';
import { useLocalPostgres } from '../helpers/local-postgres';

const END = Date.parse('2026-05-20T00:00:00Z');
const UNTIL = Date.parse('2026-05-21T00:00:00Z');
const AS_OF = UNTIL + 3 * 86_400_000;
const rejectsFile = () => path.join(tempDir('rejects'), 'r.ndjson');

/**
 * Every staged table of a SQLite file in key order. A round's new messages get a file number after every earlier
 * one; the two engines pick different such numbers (SQLite's counts `plan`'s other files too), so the message
 * tables are compared without it: their order shows in peer_copies and group_seq, compared whole.
 */
function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of STAGED_TABLES) {
      if (t.name === 'ledger') continue;
      const columns = t.columns.filter(
        (c) => !(c === 'file' && t.name.endsWith('_messages')) && !(t.name === 'zm_rounds' && c === 'staged_at')
      );
      out[t.name] = db
        .prepare(`SELECT ${quotedColumns(columns)} FROM ${t.name} ORDER BY ${quotedColumns(t.key)}`)
        .all();
    }
    out.zm_call_batches = db.prepare(`SELECT * FROM zm_call_batches ORDER BY kind, batch`).all();
    return out;
  } finally {
    db.close();
  }
}

describe('catch-up rounds on a PostgreSQL staging', () => {
  const pg = useLocalPostgres();
  let root: string;
  let earlier: string;
  let sqliteStaging: string;
  let env: NodeJS.ProcessEnv;
  let n = 0;
  /** A fresh PostgreSQL staging (its own schema) holding the earlier export's staging. */
  const pgStaging = async () => {
    const url = `${pg.server().url}?schema=round_${++n}`;
    await copyStaging(sqliteStaging, url, { env });
    return url;
  };

  const saved = process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
  after(() => {
    if (saved === undefined) delete process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
    else process.env.ZIM_MIGRATE_DATABASE_PASSWORD = saved;
  });
  before(async () => {
    // The stores stageRound opens take the password from the environment, as a worker does.
    env = pg.env();
    process.env.ZIM_MIGRATE_DATABASE_PASSWORD = pg.server().password;
    root = tempDir('pg-round');
    earlier = path.join(root, 'app');
    await generateExport({ out: earlier, users: 200, seed: 5, endMs: END, groups: 30 });
    sqliteStaging = await stageExport(earlier, path.join(root, 'app.sqlite'), AS_OF);
  });

  it('stages two rounds exactly as the SQLite engine does, table for table', async () => {
    const url = await pgStaging();
    const file = path.join(root, 'twin.sqlite');
    copyFileSync(sqliteStaging, file);
    const r1 = await evolveExport({
      from: earlier,
      out: path.join(root, 'r1'),
      seed: 8,
      incremental: false,
      untilMs: UNTIL,
      late: 2,
      change: 0.25,
    });
    const r2 = await evolveExport({ from: r1.dir, out: path.join(root, 'r2'), seed: 9, incremental: true });
    for (const [i, later] of [r1, r2].entries()) {
      const opts = { exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() };
      const [onPg, onSqlite] = [
        await stageRound({ ...opts, staging: url }),
        await stageRound({ ...opts, staging: file }),
      ];
      assert.equal(onPg.kind, 'staged', `round ${i + 1} on PostgreSQL`);
      assert.equal(onSqlite.kind, 'staged');
      if (onPg.kind !== 'staged' || onSqlite.kind !== 'staged') return;
      assert.deepEqual(onPg.plan.difference, onSqlite.plan.difference, 'the dry run reads a PostgreSQL staging alike');
      assert.deepEqual({ ...onPg.round, stagedAt: 0 }, { ...onSqlite.round, stagedAt: 0 });
      const store = await openStaging(url);
      try {
        await store.setRoundState(i + 1, 'done');
      } finally {
        await store.close();
      }
      const twin = await openStaging(file);
      await twin.setRoundState(i + 1, 'done').finally(() => twin.close());
    }
    const back = path.join(root, 'back.sqlite');
    await copyStaging(url, back, { env });
    const [a, b] = [dump(back), dump(file)];
    assert.ok((a.zm_round_ops ?? []).length > 0 && (a.zm_rounds ?? []).length === 2, 'two rounds with work');
    for (const name of Object.keys(b))
      assert.deepEqual(
        name === 'zm_rounds' ? a[name]!.map((r) => ({ ...(r as object), finished_at: 0, started_at: 0 })) : a[name],
        name === 'zm_rounds' ? b[name]!.map((r) => ({ ...(r as object), finished_at: 0, started_at: 0 })) : b[name],
        `${name} differs between the engines`
      );

    // The store's reads of a round agree too (what the round workflow's activities call).
    const [p, s] = [await openStaging(url, { readonly: true }), await openStaging(file, { readonly: true })];
    try {
      assert.deepEqual(await p.roundWork(1), await s.roundWork(1));
      assert.deepEqual(await p.roundLate(1, 10), await s.roundLate(1, 10));
      assert.ok((await p.roundLate(1, 10)).length > 0, 'the late messages are listed');
      for (const stage of ['groups', 'peer-messages', 'group-messages'] as const)
        assert.deepEqual(
          await p.roundFanoutItems(2, stage, null, 1000),
          await s.roundFanoutItems(2, stage, null, 1000)
        );
      const [owner] = await p.roundFanoutItems(2, 'peer-messages', null, 1);
      assert.ok(owner, 'round 2 has new messages');
      assert.deepEqual(await p.roundConversationRanges(2, owner.id), await s.roundConversationRanges(2, owner.id));
      assert.deepEqual(await p.stageWork(), await s.stageWork());
    } finally {
      await Promise.all([p.close(), s.close()]);
    }
  });

  it('refuses a second machine staging a round at the same moment, and a round number already staged', async () => {
    const url = await pgStaging();
    const later = await evolveExport({ from: earlier, out: path.join(root, 'c1'), seed: 3, incremental: false });
    const plan = await planRound({ staging: url, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() });
    const input: StageRoundInput = {
      round: 1,
      laterFile: '',
      exportDir: later.dir,
      kind: 'full',
      sinceMs: null,
      untilMs: null,
      changes: plan.difference!.changes,
      etaSeconds: plan.etaSeconds,
    };
    // Another machine mid-way through staging holds the round lock: refused at once, naming what to do.
    const other = pg.open();
    const client = await other.pool.connect();
    const store = await openStaging(url);
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('zim-migrate round round_${n}'))`);
      await assert.rejects(
        store.stageRound(input),
        /another process is staging a catch-up round of this migration .*Wait for it/
      );
      await client.query('ROLLBACK');
      assert.deepEqual(await store.rounds(), [], 'nothing staged');
    } finally {
      client.release();
      await store.close();
    }

    // Two machines at once through the whole path: exactly one round 1, staged once.
    const opts = { staging: url, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() };
    const results = await Promise.allSettled([stageRound(opts), stageRound({ ...opts, rejectsFile: rejectsFile() })]);
    const staged = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'staged');
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(staged.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(refused.length, 1);
    assert.match(
      String((refused[0] as PromiseRejectedResult).reason),
      /another process is staging a catch-up round|round 1 of this migration is already staged/
    );
    const after = await openStaging(url);
    try {
      assert.deepEqual(
        (await after.rounds()).map((r) => r.round),
        [1]
      );
      await assert.rejects(after.stageRound(input), /round 1 of this migration is already staged/);
    } finally {
      await after.close();
    }
  });

  it('leaves the staging as it was when the write-back fails at its last step', async () => {
    const url = await pgStaging();
    const schema = `round_${n}`;
    const later = await evolveExport({ from: earlier, out: path.join(root, 'f1'), seed: 4, incremental: false });
    const before = path.join(root, 'before.sqlite');
    await copyStaging(url, before, { env });
    const db = pg.open();
    // The round's own row is written last: make it fail there, after every other table was rewritten.
    await db.pool.query(`CREATE FUNCTION ${schema}.no_round() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected failure'; END $$;
      CREATE TRIGGER no_round BEFORE INSERT ON ${schema}.zm_rounds FOR EACH ROW EXECUTE FUNCTION ${schema}.no_round();`);
    const opts = { staging: url, exportDir: later.dir, asOfMs: AS_OF, rejectsFile: rejectsFile() };
    await assert.rejects(stageRound(opts), /injected failure/);
    const afterFail = path.join(root, 'after-fail.sqlite');
    await copyStaging(url, afterFail, { env });
    assert.deepEqual(dump(afterFail), dump(before), 'the failed round left no trace');
    await db.pool.query(`DROP TRIGGER no_round ON ${schema}.zm_rounds`);
    const again = await stageRound(opts);
    assert.equal(again.kind, 'staged', 'staging again succeeds');
  });
});
