/**
 * The MigrationStore cases on both engines, on one small staged export: SQLite (the file plan built) and PostgreSQL
 * (the same staging moved in with `staging copy`, on a throwaway local server). Then what only copying has: the
 * two engines read back alike, and SQLite → PostgreSQL → SQLite gives back every table as it was.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import { DEFAULT_RATES } from '../../src/plan/actions';
import { buildPlan } from '../../src/plan/build-plan';
import { openStaging } from '../../src/staging';
import { copyStaging } from '../../src/staging/copy/copy-staging';
import { STAGED_TABLES, quotedColumns } from '../../src/staging/copy/staged-tables';
import { PgMigrationStore } from '../../src/staging/postgres/pg-migration-store';
import { STAGING_SCHEMA } from '../../src/staging/postgres/schema';
import { CALL_SCHEDULE_SCHEMA } from '../../src/rate-limit/pg-call-schedule-schema';
import { generateExport } from '../../src/synthetic/generate';
import { DAY, NO_MERGE, NOW, tempDir } from '../helpers/exports';
import { projectRoot } from '../../src/shared/project-root';
import { useLocalPostgres } from '../helpers/local-postgres';
import { migrationStoreCases, snapshotReads } from '../helpers/migration-store-cases';

const root = tempDir('store-engines');
const staged = path.join(root, 'staged.sqlite');
const dir = path.join(root, 'legacy');
const PLAN = {
  limits: ZIM_PLAN_LIMITS.pro,
  asOfMs: NOW,
  merge: NO_MERGE,
  rejectsFile: null,
  rates: DEFAULT_RATES,
  excludeErrors: false,
  force: false,
};

/** Both participants of every one-to-one conversation have read up to its last message (so the stage has pages). */
function addReadStates(exportDir: string): void {
  const last = new Map<string, { id: string; from: string; to: string }>();
  for (const file of readdirSync(exportDir)
    .filter((f) => f.startsWith('peer_messages'))
    .sort())
    for (const line of readFileSync(path.join(exportDir, file), 'utf8').split('\n').filter(Boolean)) {
      const m = JSON.parse(line) as { id: string; from: string; to: string };
      last.set([m.from, m.to].sort().join('\n'), m);
    }
  const states = [...last.values()].flatMap((m) => [
    { user: m.from, peer: m.to, lastReadMessage: m.id },
    { user: m.to, peer: m.from, lastReadMessage: m.id },
  ]);
  writeFileSync(path.join(exportDir, 'read_states.ndjson'), states.map((s) => JSON.stringify(s)).join('\n') + '\n');
}

before(async () => {
  await generateExport({
    out: dir,
    users: 140,
    seed: 5,
    peerMessages: 1500,
    groups: 6,
    groupMessages: 400,
    endMs: NOW - DAY,
  });
  addReadStates(dir);
  const built = await buildPlan({ ...PLAN, dirs: [dir], out: staged });
  assert.equal(built.validation.errors, 0);
  assert.ok((built.plan?.counts.readStates ?? 0) > 40, 'read states are staged');
});

describe('MigrationStore on SQLite', () => {
  const file = path.join(root, 'sqlite-cases.sqlite');
  before(() => copyFileSync(staged, file));
  migrationStoreCases(() => ({ open: (options) => openStaging(file, options) }));
});

describe('MigrationStore on PostgreSQL', () => {
  const pg = useLocalPostgres();
  const url = () => `${pg.server().url}?schema=cases`;
  before(async () => {
    if (existsSync(staged)) await copyStaging(staged, url(), { env: pg.env() }).catch(() => undefined);
  });
  migrationStoreCases(() => ({ open: (options) => PgMigrationStore.open(url(), options, pg.env()) }));

  it('reads back exactly what SQLite reads, page for page and seq for seq', async () => {
    const reference = path.join(root, 'reference.sqlite');
    copyFileSync(staged, reference);
    const [lite, post] = [await openStaging(reference), await PgMigrationStore.open(url(), {}, pg.env())];
    try {
      assert.deepEqual(await snapshotReads(post), await snapshotReads(lite));
    } finally {
      await Promise.all([lite.close(), post.close()]);
    }
  });

  it('copies SQLite → PostgreSQL → SQLite with every table, the ledger and the migration’s state intact', async () => {
    const source = path.join(root, 'roundtrip-source.sqlite');
    copyFileSync(staged, source);
    const store = await openStaging(source);
    await store.ledgerPut('accounts', [
      { key: 'u-1', status: 'done' },
      { key: 'u-2', status: 'failed', zimCode: 6000, zimMessage: 'nope' },
    ]);
    await store.ledgerPut('peer-messages', [{ key: 'o/m', status: 'done', msgId: 'zim-1', msgSeq: 3 }]);
    await store.recordMigration('zim-migrate/roundtrip');
    await store.setCallGate(false);
    await store.close();

    const there = `${pg.server().url}?schema=roundtrip`;
    const back = path.join(root, 'roundtrip-back.sqlite');
    const copied = await copyStaging(source, there, { env: pg.env(), batchRows: 97 });
    assert.ok(copied.rows.peer_messages! >= 1500 && copied.rows.ledger === 3, JSON.stringify(copied.rows));
    await copyStaging(there, back, { env: pg.env(), batchRows: 101 });

    const [a, b] = [new Database(source, { readonly: true }), new Database(back, { readonly: true })];
    try {
      for (const t of STAGED_TABLES) {
        const sql = `SELECT ${quotedColumns(t.columns)} FROM ${t.name} ORDER BY ${quotedColumns(t.key)}`;
        // A staging without catch-up rounds has no round tables yet: they come back empty (rounds are compared
        // engine to engine in catch-up-stage-round-postgres.test.ts).
        if (!a.prepare(`SELECT 1 FROM sqlite_master WHERE name = ?`).get(t.name)) {
          assert.ok(t.name.startsWith('zm_round'), `${t.name} is missing from the source`);
          assert.deepEqual(b.prepare(sql).all(), [], `${t.name} came back empty`);
          continue;
        }
        const [x, y] = [a.prepare(sql).all(), b.prepare(sql).all()];
        assert.ok(t.name === 'ledger' ? x.length === 3 : t.name === 'blocks' || x.length > 0, `${t.name} has rows`);
        assert.deepEqual(y, x, `${t.name} came back as it was`);
      }
    } finally {
      a.close();
      b.close();
    }
    const [pgStore, backStore] = [await PgMigrationStore.open(there, {}, pg.env()), await openStaging(back)];
    try {
      for (const s of [pgStore, backStore]) {
        assert.equal(await s.lastMigration(), 'zim-migrate/roundtrip');
        assert.equal(await s.callGateOpen(), false);
        assert.deepEqual((await s.ledgerCounts()).accounts, { pending: 0, done: 1, failed: 1, skipped: 0 });
      }
      assert.deepEqual(await snapshotReads(backStore), await snapshotReads(pgStore));
    } finally {
      await Promise.all([pgStore.close(), backStore.close()]);
    }
  });

  it('refuses to overwrite a staged target without --force, and replaces it with', async () => {
    const there = `${pg.server().url}?schema=force`;
    await copyStaging(staged, there, { env: pg.env() });
    await assert.rejects(
      copyStaging(staged, there, { env: pg.env() }),
      /already holds a staged migration: pass --force/
    );
    const file = path.join(root, 'force-target.sqlite');
    await copyStaging(there, file, { env: pg.env() });
    await assert.rejects(copyStaging(there, file, { env: pg.env() }), /already holds a staged migration/);
    const replaced = await copyStaging(there, file, { env: pg.env(), force: true });
    const again = await copyStaging(file, there, { env: pg.env(), force: true });
    assert.deepEqual(again.rows, replaced.rows);
  });

  it('opens from a URL through openStaging with the password from the environment, never in messages', async () => {
    const saved = process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
    process.env.ZIM_MIGRATE_DATABASE_PASSWORD = pg.server().password;
    try {
      const store = await openStaging(`${pg.server().url}?schema=cases`, { readonly: true });
      assert.ok((await store.readUsers(null, 1)).length === 1);
      await store.close();
      await assert.rejects(openStaging(`${pg.server().url}?schema=nothing_here`), (err: Error) => {
        assert.match(err.message, /holds no staged migration .*staging copy/);
        assert.ok(!err.message.includes(pg.server().password));
        return true;
      });
      process.env.ZIM_MIGRATE_DATABASE_PASSWORD = 'wrong-password-xyz';
      await assert.rejects(openStaging(`${pg.server().url}?schema=cases`), (err: Error) => {
        assert.match(err.message, /password authentication failed/);
        assert.ok(!err.message.includes('wrong-password-xyz'));
        return true;
      });
      await assert.rejects(openStaging(`${pg.server().url}?schema=Bad-Name`), /schema .* must be lower-case/);
    } finally {
      if (saved === undefined) delete process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
      else process.env.ZIM_MIGRATE_DATABASE_PASSWORD = saved;
    }
  });

  it('zim-migrate staging copy prints the counts, refuses a staged target (exit 2) and never prints the password', async () => {
    const run = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [path.join(projectRoot(), 'bin/zim-migrate.js'), 'staging', 'copy', ...args],
        {
          env: { ...process.env, ...pg.env() },
        }
      );
    const there = `${pg.server().url.replace('@', ':in-url-pw@')}?schema=cli`;
    const { stdout } = await run(staged, there, '--json');
    const out = JSON.parse(stdout) as { to: string; rows: Record<string, number> };
    assert.ok(out.to.includes(':***@') && !stdout.includes('in-url-pw') && !stdout.includes(pg.server().password));
    assert.ok(out.rows.users! >= 140, stdout);
    await assert.rejects(run(staged, there), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /already holds a staged migration: pass --force/);
      assert.ok(!err.stderr.includes('in-url-pw'));
      return true;
    });
    const text = (await run(there, path.join(root, 'cli-back.sqlite'))).stdout;
    assert.match(text, /users +\d+[\s\S]*every table's row count matches the source/);
  });

  it('plan --out postgres://… stages straight into PostgreSQL, and not over a staged migration', async () => {
    const url = `${pg.server().url}?schema=planned`;
    const saved = process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
    process.env.ZIM_MIGRATE_DATABASE_PASSWORD = pg.server().password;
    try {
      const built = await buildPlan({ ...PLAN, dirs: [dir], out: url });
      assert.equal(built.stagingFile, url);
      await assert.rejects(buildPlan({ ...PLAN, dirs: [dir], out: url }), /already holds a staged migration/);
      const reference = path.join(root, 'planned-reference.sqlite');
      copyFileSync(staged, reference);
      const [lite, post] = [await openStaging(reference), await openStaging(url)];
      try {
        const [a, b] = [await snapshotReads(lite), await snapshotReads(post)];
        assert.deepEqual({ ...b, meta: null }, { ...a, meta: null });
        assert.deepEqual(b.meta.plan, a.meta.plan);
      } finally {
        await Promise.all([lite.close(), post.close()]);
      }
    } finally {
      if (saved === undefined) delete process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
      else process.env.ZIM_MIGRATE_DATABASE_PASSWORD = saved;
    }
  });

  it('applies its schema once when several workers open a fresh schema at once', async () => {
    const url = `${pg.server().url}?schema=fresh_start`;
    const opened = await Promise.allSettled(Array.from({ length: 4 }, () => PgMigrationStore.open(url, {}, pg.env())));
    for (const o of opened) {
      assert.equal(o.status, 'rejected');
      assert.match(String(o.status === 'rejected' && o.reason), /holds no staged migration/);
    }
    const { rows } = await pg
      .open()
      .pool.query(`SELECT component, version FROM fresh_start.zm_schema_version ORDER BY component, version`);
    assert.deepEqual(rows, [
      ...CALL_SCHEDULE_SCHEMA.map((step) => ({ component: 'call-schedule', version: step.version })),
      ...STAGING_SCHEMA.map((step) => ({ component: 'staging', version: step.version })),
    ]);
  });

  it('three processes racing on the same 1,500 records claim each exactly once', async () => {
    const url = `${pg.server().url}?schema=cases`;
    const child = path.join(projectRoot(), 'test/helpers/ledger-claim-child.ts');
    const startAt = String(Date.now() + 6_000); // after the three have started (tsx takes a moment on a busy machine)
    const outputs = await Promise.all(
      ['p1', 'p2', 'p3'].map((token) =>
        promisify(execFile)(process.execPath, ['--import', 'tsx', child, url, '1500', token, startAt], {
          env: { ...process.env, ...pg.env() },
        })
      )
    );
    const claimed = outputs.map((o) => JSON.parse(o.stdout) as string[]);
    const all = claimed.flat();
    assert.equal(all.length, 1500, `claims per process: ${claimed.map((c) => c.length).join(', ')}`);
    assert.equal(new Set(all).size, 1500, 'no record claimed twice');
    assert.ok(claimed.filter((c) => c.length > 0).length >= 2, 'the processes raced (each claimed some)');
  });

  it('zim-migrate report reads a PostgreSQL staging by its URL', async () => {
    const url = `${pg.server().url}?schema=reported`;
    const source = path.join(root, 'reported.sqlite');
    copyFileSync(staged, source);
    const store = await openStaging(source);
    await store.ledgerPut('accounts', [{ key: 'u-x', status: 'failed', zimCode: 6000, zimMessage: 'bad' }]);
    await store.close();
    await copyStaging(source, url, { env: pg.env() });
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(projectRoot(), 'bin/zim-migrate.js'), 'report', url, '--json'],
      { env: { ...process.env, ...pg.env() } }
    );
    const report = JSON.parse(stdout) as {
      stages: { stage: string; failed: number }[];
      failures: { key: string; zimCode: number }[];
    };
    assert.equal(report.stages.find((s) => s.stage === 'accounts')?.failed, 1);
    assert.deepEqual(
      report.failures.map((f) => [f.key, f.zimCode]),
      [['u-x', 6000]]
    );
  });
});
