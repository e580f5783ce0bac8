/**
 * The two ends of `staging copy`, one per engine: a source streams each staged table in key order in batches, a
 * target takes them inside one transaction (PostgreSQL) or into a file renamed into place at the end (SQLite), so a
 * copy that fails leaves the target as it was.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type pg from 'pg';
import type { Database as PgDatabase } from '../../postgres/database';
import { applySchema } from '../../postgres/schema-migrations';
import { CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA } from '../../rate-limit/pg-call-schedule-schema';
import { STAGING_COMPONENT, STAGING_SCHEMA, BUILD_PAGE_INDEX, RECOUNT_LEDGER } from '../postgres/schema';
import { ensureSchema, openStagingDatabase } from '../postgres/staging-database';
import type { Row } from '../staged-rows';
import { sealBuildDatabase } from '../sqlite/database';
import { LOAD_SCHEMA, MIGRATION_META_KEY, READ_SCHEMA, STAGING_FORMAT_VERSION } from '../sqlite/schema';
import { SqliteMigrationStore } from '../sqlite/sqlite-migration-store';
import { ROUND_SCHEMA } from '../sqlite/stage-round';
import { quotedColumns, STAGED_TABLES, type StagedTable } from './staged-tables';

/** The migration's own state beside the tables: which migration runs from it, and its call gate. */
export interface MigrationState {
  migration: string | null;
  gateOpen: boolean;
}

export interface CopySource {
  rows(table: StagedTable, batchRows: number): AsyncGenerator<Row[]>;
  count(table: StagedTable): Promise<number>;
  state(): Promise<MigrationState>;
  close(): Promise<void>;
}

export interface CopyTarget {
  /** True when the target holds no staged migration (nothing to overwrite). */
  isEmpty(): Promise<boolean>;
  /** Starts the copy; `replace` empties a target that holds one (--force). */
  begin(replace: boolean): Promise<void>;
  insert(table: StagedTable, rows: Row[]): Promise<void>;
  /** Derives the page index and ledger counts and writes the migration's state. */
  finish(state: MigrationState): Promise<void>;
  count(table: StagedTable): Promise<number>;
  /** Makes the copy visible; until then a failed copy leaves the target as it was. */
  commit(): Promise<void>;
  close(): Promise<void>;
}

const notStaged = (where: string) =>
  new Error(`${where} holds no staging of format ${STAGING_FORMAT_VERSION}: build one with zim-migrate plan`);

// SQLite.

export function sqliteSource(file: string): CopySource {
  if (!existsSync(file)) throw notStaged(file);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const version = (() => {
    try {
      return (db.prepare(`SELECT value FROM meta WHERE key = 'formatVersion'`).get() as Row | undefined)?.value;
    } catch {
      return undefined;
    }
  })();
  if (version !== String(STAGING_FORMAT_VERSION)) {
    db.close();
    throw notStaged(file);
  }
  // One read transaction for the whole copy: every table from the same moment.
  db.exec('BEGIN');
  const hasZmMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'zm_meta'`).get();
  const zmMeta = (key: string) =>
    hasZmMeta
      ? ((db.prepare(`SELECT value FROM zm_meta WHERE key = ?`).get(key) as Row | undefined)?.value as
          string | undefined)
      : undefined;
  // A file staged before a table existed (read_states) has none: it copies as empty.
  const present = (name: string) =>
    db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  return {
    async *rows(table, batchRows) {
      if (!present(table.name)) return;
      const sql = `SELECT ${quotedColumns(table.columns)} FROM ${table.name} ORDER BY ${quotedColumns(table.key)}`;
      let batch: Row[] = [];
      for (const row of db.prepare(sql).iterate() as IterableIterator<Row>) {
        batch.push(row);
        if (batch.length >= batchRows) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
    async count(table) {
      if (!present(table.name)) return 0;
      return (db.prepare(`SELECT count(*) AS n FROM ${table.name}`).get() as { n: number }).n;
    },
    async state() {
      return { migration: zmMeta(MIGRATION_META_KEY) ?? null, gateOpen: zmMeta('call_gate') !== 'closed' };
    },
    async close() {
      db.close();
    },
  };
}

export function sqliteTarget(file: string): CopyTarget {
  const building = `${file}.copying`;
  let db: Database.Database | undefined;
  const open = () => {
    if (!db) throw new Error('the copy has not begun');
    return db;
  };
  const removeBuild = () => {
    for (const f of [building, `${building}-wal`, `${building}-shm`]) rmSync(f, { force: true });
  };
  return {
    async isEmpty() {
      return !existsSync(file) || statSync(file).size === 0;
    },
    async begin() {
      removeBuild();
      db = new Database(building);
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.exec(LOAD_SCHEMA);
      db.exec(READ_SCHEMA);
      db.exec(ROUND_SCHEMA);
    },
    async insert(table, rows) {
      const d = open();
      const insert = d.prepare(
        `INSERT INTO ${table.name} (${quotedColumns(table.columns)}) VALUES (${table.columns.map(() => '?').join(', ')})`
      );
      d.transaction(() => {
        for (const r of rows) insert.run(table.columns.map((c) => r[c] ?? null));
      })();
    },
    async finish(state) {
      const d = open();
      sealBuildDatabase(d);
      d.close();
      db = undefined;
      // A writable open readies the file for the migration: page index, lease columns, ledger counts.
      const store = SqliteMigrationStore.open(building);
      try {
        if (state.migration !== null) await store.recordMigration(state.migration);
        if (!state.gateOpen) await store.setCallGate(false);
      } finally {
        await store.close();
      }
      db = new Database(building, { readonly: true });
    },
    async count(table) {
      return (open().prepare(`SELECT count(*) AS n FROM ${table.name}`).get() as { n: number }).n;
    },
    async commit() {
      open().close();
      db = undefined;
      for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      renameSync(building, file);
    },
    async close() {
      db?.close();
      db = undefined;
      removeBuild();
    },
  };
}

// PostgreSQL.

async function query(db: PgDatabase, client: pg.PoolClient, text: string, values: unknown[] = []): Promise<Row[]> {
  try {
    return (await client.query<Row>(text, values)).rows;
  } catch (err) {
    // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
    throw new Error(`staging copy: ${db.describe(err)}`);
  }
}

const gateKey = (schema: string) => `staging:${schema}`;

export async function pgSource(url: string, env: NodeJS.ProcessEnv): Promise<CopySource> {
  const { db, schema } = openStagingDatabase(url, env);
  const client = await db.pool.connect().catch(async (err: unknown) => {
    await db.close();
    throw new Error(`staging copy: ${db.describe(err)}`, { cause: undefined });
  });
  const q = (text: string, values: unknown[] = []) => query(db, client, text, values);
  const close = async () => {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    await db.close();
  };
  try {
    // One snapshot for the whole copy.
    await q('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // A copy's statements read whole tables: the pool's per-statement timeout (a worker's guard) does not fit them.
    await q('SET LOCAL statement_timeout = 0');
    const [present] = await q(`SELECT to_regclass('meta') IS NOT NULL AS present`);
    const version = present?.present ? (await q(`SELECT value FROM meta WHERE key = 'formatVersion'`))[0]?.value : null;
    if (version !== String(STAGING_FORMAT_VERSION)) throw notStaged(`${db.safeUrl} (schema ${schema})`);
  } catch (err) {
    await close();
    throw err;
  }
  let cursors = 0;
  // A staging copied in before rounds existed has no round tables until a worker opens it: they copy as empty.
  const present = async (name: string) => (await q(`SELECT to_regclass($1) IS NOT NULL AS p`, [name]))[0]?.p === true;
  return {
    async *rows(table, batchRows) {
      if (!(await present(table.name))) return;
      const cursor = `zm_copy_${cursors++}`;
      await q(
        `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${quotedColumns(table.columns)} FROM ${table.name}
         ORDER BY ${quotedColumns(table.key)}`
      );
      for (;;) {
        const rows = await q(`FETCH ${batchRows} FROM ${cursor}`);
        if (rows.length === 0) break;
        yield rows;
      }
      await q(`CLOSE ${cursor}`);
    },
    async count(table) {
      if (!(await present(table.name))) return 0;
      return (await q(`SELECT count(*) AS n FROM ${table.name}`))[0]!.n as number;
    },
    async state() {
      const [m] = await q(`SELECT value FROM zm_meta WHERE key = $1`, [MIGRATION_META_KEY]);
      const [gatePresent] = await q(`SELECT to_regclass('zm_call_gate') IS NOT NULL AS present`);
      const gate = gatePresent?.present
        ? (await q(`SELECT open FROM zm_call_gate WHERE migration = $1`, [gateKey(schema)]))[0]
        : undefined;
      return { migration: (m?.value as string | undefined) ?? null, gateOpen: gate?.open !== false };
    },
    close,
  };
}

export async function pgTarget(url: string, env: NodeJS.ProcessEnv): Promise<CopyTarget> {
  const { db, schema } = openStagingDatabase(url, env);
  let client: pg.PoolClient | undefined;
  try {
    await ensureSchema(db, schema);
    await applySchema(db.pool, STAGING_COMPONENT, STAGING_SCHEMA);
    await applySchema(db.pool, CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA); // the call gate's table
    client = await db.pool.connect();
  } catch (err) {
    await db.close();
    // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
    throw new Error(`staging copy: ${db.describe(err)}`);
  }
  const c = client;
  const q = (text: string, values: unknown[] = []) => query(db, c, text, values);
  let open = false;
  return {
    async isEmpty() {
      const [r] = await q(`SELECT NOT EXISTS (SELECT 1 FROM meta) AND NOT EXISTS (SELECT 1 FROM ledger) AS empty`);
      return r?.empty === true;
    },
    async begin(replace) {
      await q('BEGIN');
      open = true;
      // Building the page index and ledger counts reads whole tables: no per-statement timeout for the copy.
      await q('SET LOCAL statement_timeout = 0');
      if (replace) {
        const all = [...STAGED_TABLES.map((t) => t.name), 'zm_call_batches', 'zm_meta', 'zm_ledger_counts'];
        await q(`TRUNCATE ${all.join(', ')}`);
        await q(`DELETE FROM zm_call_gate WHERE migration = $1`, [gateKey(schema)]);
      }
    },
    async insert(table, rows) {
      // One parameter whatever the batch: the rows as JSON, typed by the table's own row type.
      const columns = quotedColumns(table.columns);
      await q(
        `INSERT INTO ${table.name} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${table.name}, $1)`,
        [JSON.stringify(rows)]
      );
    },
    async finish(state) {
      await q(BUILD_PAGE_INDEX);
      await q(RECOUNT_LEDGER);
      if (state.migration !== null)
        await q(`INSERT INTO zm_meta (key, value) VALUES ($1, $2)`, [MIGRATION_META_KEY, state.migration]);
      if (!state.gateOpen)
        await q(
          `INSERT INTO zm_call_gate (migration, open) VALUES ($1, false)
           ON CONFLICT (migration) DO UPDATE SET open = false, changed_at = clock_timestamp()`,
          [gateKey(schema)]
        );
    },
    async count(table) {
      return (await q(`SELECT count(*) AS n FROM ${table.name}`))[0]!.n as number;
    },
    async commit() {
      await q('COMMIT');
      open = false;
    },
    async close() {
      if (open) await c.query('ROLLBACK').catch(() => undefined);
      c.release();
      await db.close();
    },
  };
}
