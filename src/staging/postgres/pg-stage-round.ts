/**
 * Stages a catch-up round in a PostgreSQL staging (issue #13) with the SQLite engine's own round (stage-round.ts),
 * so the two engines cannot differ in what a round does:
 *   1. one PostgreSQL transaction takes this staging's round lock (pg_try_advisory_xact_lock: a second machine
 *      staging a round at the same moment is refused at once, never queued behind it) and checks the round number
 *      is free (zm_rounds' primary key backs this up should anything else write it);
 *   2. the staged records (not the ledger, not the rounds) are copied, streamed in batches, into a temporary SQLite
 *      file (src/staging/copy/), and the SQLite round runs there against the later export;
 *   3. the same transaction writes back what the round changed: the staged records replaced, the new messages
 *      appended, the page index rebuilt, and the round's rows (op pages, fan-out items, late messages, the round);
 *      what the round adds to each stage's plan is counted there, against this staging's ledger (round-planned.ts).
 * Only round staging writes the staged records, and it holds the lock, so the snapshot is the state it replaces.
 * A crash anywhere before the commit leaves the staging as it was; memory stays flat (batches both ways).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as PgDatabase } from '../../postgres/database';
import { UsageError } from '../../shared/usage-error';
import { copyStaging } from '../copy/copy-staging';
import { quotedColumns, SNAPSHOT_TABLES, STAGED_TABLES, type StagedTable } from '../copy/staged-tables';
import type { RoundRecord, StageRoundInput, StagingMeta } from '../migration-store';
import { roundPlannedOf, roundPlannedSql } from '../round-planned';
import type { Row } from '../staged-rows';
import { RowStatus } from '../sqlite/schema';
import { roundChanges, stageRoundSqlite } from '../sqlite/stage-round';
import { BUILD_PAGE_INDEX } from './schema';

const BATCH_ROWS = 2_000;

/** The staged tables a round rewrites whole; the message tables only grow (ids from the round's first on). */
const REPLACED = SNAPSHOT_TABLES.filter((t) => t.name !== 'peer_messages' && t.name !== 'group_messages');
const table = (name: string) => STAGED_TABLES.find((t) => t.name === name)!;

export interface PgRoundTarget {
  db: PgDatabase;
  /** The staging's URL and environment: the snapshot opens its own read-only connection. */
  url: string;
  env: NodeJS.ProcessEnv;
  schema: string;
}

export async function stageRoundPg(target: PgRoundTarget, input: StageRoundInput): Promise<RoundRecord> {
  const { db } = target;
  const client = await db.pool.connect();
  const q = async (text: string, values: unknown[] = []): Promise<Row[]> => {
    try {
      return (await client.query<Row>(text, values)).rows;
    } catch (err) {
      // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
      throw new Error(`staging a round: ${db.describe(err)}`);
    }
  };
  const work = mkdtempSync(path.join(os.tmpdir(), 'zim-migrate-round-'));
  try {
    await q('BEGIN');
    // Copying whole tables takes longer than a worker's per-statement guard allows.
    await q('SET LOCAL statement_timeout = 0');
    const [lock] = await q(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS got`, [
      `zim-migrate round ${target.schema}`,
    ]);
    if (lock?.got !== true)
      throw new UsageError(
        `another process is staging a catch-up round of this migration (${db.safeUrl}, schema ${target.schema}) ` +
          'right now: only one round is staged at a time. Wait for it, then follow it with "zim-migrate status" ' +
          '(run catch-up again with the same export to resume it if it stopped)'
      );
    if ((await q(`SELECT 1 FROM zm_rounds WHERE round = $1`, [input.round])).length > 0)
      throw new UsageError(
        `round ${input.round} of this migration is already staged (by another process): run catch-up again ` +
          'to resume it, or follow it with "zim-migrate status"'
      );

    const file = path.join(work, 'staging.sqlite');
    await copyStaging(target.url, file, { tables: SNAPSHOT_TABLES, env: target.env, batchRows: BATCH_ROWS });
    const { record, firsts } = runSqliteRound(file, input);

    // Write back, in the transaction that holds the lock.
    for (const t of REPLACED) await q(`DELETE FROM ${t.name}`);
    const snapshot = new Database(file, { readonly: true });
    try {
      const put = async (t: StagedTable, where = '', values: unknown[] = []) => {
        for (const rows of batches(snapshot, t, where, values))
          await q(
            `INSERT INTO ${t.name} (${quotedColumns(t.columns)}) SELECT ${quotedColumns(t.columns)}
             FROM json_populate_recordset(NULL::${t.name}, $1)`,
            [JSON.stringify(rows)]
          );
      };
      for (const t of REPLACED) await put(t);
      await put(table('peer_messages'), 'WHERE id >= ?', [firsts.peer]);
      await put(table('group_messages'), 'WHERE id >= ?', [firsts.group]);
      for (const name of ['zm_round_ops', 'zm_round_items', 'zm_round_late', 'zm_rounds'])
        await put(table(name), 'WHERE round = ?', [input.round]);
    } finally {
      snapshot.close();
    }
    await q(BUILD_PAGE_INDEX);
    const planned = roundPlannedOf(await q(roundPlannedSql('postgres', input.round)));
    await q(`UPDATE zm_rounds SET changes = $1 WHERE round = $2`, [roundChanges(record.changes, planned), input.round]);
    await q('COMMIT');
    return { ...record, planned };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A table's rows from the snapshot in key order, `BATCH_ROWS` at a time. */
function* batches(db: Database.Database, t: StagedTable, where: string, values: unknown[]): Generator<Row[]> {
  const sql = `SELECT ${quotedColumns(t.columns)} FROM ${t.name} ${where} ORDER BY ${quotedColumns(t.key)}`;
  let batch: Row[] = [];
  for (const row of db.prepare(sql).iterate(...values) as IterableIterator<Row>) {
    batch.push(row);
    if (batch.length >= BATCH_ROWS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/**
 * The SQLite round on the snapshot. A snapshot holds the staged records only; the round also reads what `plan`
 * left beside them in a staging file, so that is restored first: the app (the new messages' app), a file entry
 * at the highest file number (a round's messages sort after every earlier one sent at the same time), and the
 * read positions (the read tables are rebuilt from them).
 */
function runSqliteRound(
  file: string,
  input: StageRoundInput
): { record: RoundRecord; firsts: { peer: number; group: number } } {
  const db = new Database(file);
  try {
    const meta = JSON.parse(
      (db.prepare(`SELECT value FROM meta WHERE key = 'meta'`).get() as { value: string }).value
    ) as StagingMeta;
    const app = meta.apps[0]!;
    const n = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? null;
    const idx = n(`SELECT min(app) FROM (SELECT app FROM peer_messages UNION ALL SELECT app FROM group_messages)`) ?? 0;
    const lastFile = n(
      `SELECT max(file) FROM (SELECT file FROM peer_messages UNION ALL SELECT file FROM group_messages)`
    );
    db.transaction(() => {
      db.prepare(`INSERT INTO apps(idx, name, dir, rank) VALUES (?, ?, ?, ?)`).run(idx, app.name, app.dir, app.rank);
      if (lastFile !== null)
        db.prepare(`INSERT INTO files(id, app, entity, path) VALUES (?, ?, 'staged', 'earlier rounds')`).run(
          lastFile,
          idx
        );
      db.prepare(
        `INSERT INTO raw_read_states(app, user, kind, conv, msg, file, line, status)
         SELECT ?, user, kind, conv, msg, 0, id, ${RowStatus.ok} FROM read_states ORDER BY id`
      ).run(idx);
    })();
    // The snapshot has no ledger: the round's plan is counted against the staging's own (stageRoundPg).
    const record = stageRoundSqlite(db, input, { countPlanned: false });
    const firsts = db
      .prepare(`SELECT first_peer_msg AS peer, first_group_msg AS "group" FROM zm_rounds WHERE round = ?`)
      .get(input.round) as { peer: number; group: number };
    return { record, firsts };
  } finally {
    db.close();
  }
}
