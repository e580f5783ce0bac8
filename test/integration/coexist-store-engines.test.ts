/**
 * The coexistence store's cases on both engines: SQLite (a file per location) and PostgreSQL (a schema per location
 * on a throwaway local server, each store its own pool, as receivers and workers on separate machines). Then what
 * only PostgreSQL has: its tables beside a staging ledger's in one schema, and errors that never carry the password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openCoexistStore } from '../../src/coexist/open-coexist-store';
import { applySchema } from '../../src/postgres/schema-migrations';
import { STAGING_COMPONENT, STAGING_SCHEMA } from '../../src/staging/postgres/schema';
import { ensureSchema, openStagingDatabase } from '../../src/staging/postgres/staging-database';
import { coexistStoreCases } from '../helpers/coexist-store-cases';
import { useLocalPostgres } from '../helpers/local-postgres';

const dir = mkdtempSync(path.join(tmpdir(), 'coexist-store-engines-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describe('coexistence store on SQLite', () => {
  coexistStoreCases({
    fresh: () => path.join(dir, `store-${n++}.sqlite`),
    open: (location) => openCoexistStore(location),
    async dropKeyTables(location) {
      const db = new Database(location);
      db.exec('DROP TABLE known_conversations; DROP TABLE known_users');
      db.close();
    },
    async dropEchoes(location) {
      const db = new Database(location);
      db.exec('DROP TABLE echoes');
      db.close();
    },
    async dropBodyTimes(location) {
      const db = new Database(location);
      db.exec(`DROP INDEX bodies_by_time; DROP INDEX parked_by_body; ALTER TABLE parked DROP COLUMN body_ref;
        ALTER TABLE bodies DROP COLUMN used_at; ALTER TABLE bodies DROP COLUMN at; DROP TABLE body_uses`);
      db.close();
    },
    async countBodyUses(location) {
      const db = new Database(location, { readonly: true });
      try {
        return db.prepare<[], number>('SELECT count(*) FROM body_uses').pluck().get()!;
      } finally {
        db.close();
      }
    },
  });
});

describe('coexistence store on PostgreSQL', { timeout: 120_000 }, () => {
  const pg = useLocalPostgres();
  /** The URL as an operator gives it: no password (that comes from the environment). */
  const url = (schema: string) => `${pg.server().url}?schema=${schema}`;
  /** Runs SQL on a store's schema behind its back (an older store's tables, a count). */
  const query = async <R extends object>(location: string, sql: string): Promise<R[]> => {
    const { db } = openStagingDatabase(location, pg.env());
    try {
      return (await db.pool.query<R>(sql)).rows;
    } finally {
      await db.close();
    }
  };
  coexistStoreCases({
    fresh: () => url(`coexist_${n++}`),
    open: (location) => openCoexistStore(location, pg.env()),
    dropKeyTables: async (location) => {
      await query(
        location,
        `DROP TABLE zm_coexist_known_conversations, zm_coexist_known_users;
          DELETE FROM zm_schema_version WHERE component = 'coexist' AND version = 3`
      );
    },
    dropEchoes: async (location) => {
      await query(
        location,
        `DROP TABLE zm_coexist_echoes;
          DELETE FROM zm_schema_version WHERE component = 'coexist' AND version = 4`
      );
    },
    dropBodyTimes: async (location) => {
      await query(
        location,
        `DROP TABLE zm_coexist_body_uses; ALTER TABLE zm_coexist_bodies DROP COLUMN at, DROP COLUMN used_at;
          ALTER TABLE zm_coexist_parked DROP COLUMN body_ref;
          DELETE FROM zm_schema_version WHERE component = 'coexist' AND version IN (6, 7)`
      );
    },
    countBodyUses: async (location) =>
      (await query<{ n: number }>(location, 'SELECT count(*)::int AS n FROM zm_coexist_body_uses'))[0]!.n,
  });

  it('sits beside a staging ledger in the same schema, each under its own schema component', async () => {
    const { db: staging, schema } = openStagingDatabase(url('shared'), pg.env());
    try {
      await ensureSchema(staging, schema);
      await applySchema(staging.pool, STAGING_COMPONENT, STAGING_SCHEMA);
      const store = await openCoexistStore(url('shared'), pg.env());
      try {
        await store.setGroup('g', { live: true, origin: 'zim', changedAt: 1 });
        await store.setMembers('g', ['u'], { member: true, origin: 'zim', changedAt: 1 });
        assert.equal((await store.member('g', 'u'))?.member, true);
      } finally {
        await store.close();
      }
      const { rows } = await staging.pool.query<{ component: string }>(
        'SELECT DISTINCT component FROM zm_schema_version ORDER BY 1'
      );
      assert.deepEqual(
        rows.map((r) => r.component),
        ['coexist', 'staging']
      );
      const members = await staging.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM group_members');
      assert.equal(members.rows[0]?.n, 0, "staging's group_members untouched");
    } finally {
      await staging.close();
    }
  });

  it('opens in a schema its role owns without the right to create schemas', async () => {
    const admin = pg.open();
    await admin.pool.query(`CREATE ROLE coexist_only LOGIN PASSWORD 'coexist-only-pw'`);
    await admin.pool.query('CREATE SCHEMA coexist_own AUTHORIZATION coexist_only');
    const as = new URL(url('coexist_own'));
    as.username = 'coexist_only';
    const store = await openCoexistStore(as.toString(), {
      ...pg.env(),
      ZIM_MIGRATE_DATABASE_PASSWORD: 'coexist-only-pw',
    });
    try {
      assert.equal(await store.body(await store.putBody('x')), 'x');
    } finally {
      await store.close();
    }
  });

  it('names the database without its password when it cannot connect', async () => {
    const env = { ...pg.env(), ZIM_MIGRATE_DATABASE_PASSWORD: 'not-the-password-xyz' };
    const err = await openCoexistStore(url('public'), env).then(
      () => assert.fail('opened with a wrong password'),
      (e: unknown) => e as Error
    );
    assert.match(err.message, /^coexistence store postgres:\/\//);
    assert.doesNotMatch(err.message, /not-the-password-xyz/);
    const withPassword = new URL(pg.server().url);
    withPassword.password = 'in-url-secret';
    const err2 = await openCoexistStore(withPassword.toString(), { ZIM_MIGRATE_DATABASE_PASSWORD: '' }).then(
      () => assert.fail('opened as an unknown user'),
      (e: unknown) => e as Error
    );
    assert.doesNotMatch(err2.message, /in-url-secret/);
  });
});
