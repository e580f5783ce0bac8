/**
 * `npm run bench:body-prune [-- --bodies 200000,50000] [--repeat 5] [--engine both|sqlite|postgres]`: the cost of
 * the coexistence store's body prune (issue #14), which runs inside a receiver's answer every 1,000th put and looks
 * at the oldest BODY_PRUNE_MOST bodies. For each size a fresh store (SQLite file; PostgreSQL: a local throwaway
 * server, loopback, a schema per size) is opened through its own API (its schema), then filled by bulk SQL with
 * that many bodies, each put for one message and last put (and used) two days ago, in turn: ledger SENT; INTENT (in flight);
 * refused (INTENT, its use settled, as settleBodies leaves it); no ledger row (queued). So every 10,000 looked at
 * are half settled, half in use. Bulk SQL rather than putBody and markSent: 400,000 statements through the
 * PostgreSQL pool take minutes on a shared 2-core machine; the rows are the columns those calls write, and the
 * benchmark fails if a prune does not forget exactly the settled half. PostgreSQL's tables are analyzed after the
 * fill (as autovacuum would have done over the weeks such a table takes to grow); SQLite's are not (the store never
 * does). Then `--repeat` prunes as the store runs them (before = now - BODIES_KEPT_MS), each timed: each looks at
 * 10,000 bodies not looked at yet (the ones it keeps are dated now). PostgreSQL also runs the prune's statement
 * of before 262ba5d on a store of its own, filled alike. Data goes to a temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { BODIES_KEPT_MS, BODY_PRUNE_MOST } from '../coexist/coexist-store';
import { openCoexistStore } from '../coexist/open-coexist-store';
import { openStagingDatabase } from '../staging/postgres/staging-database';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { withLocalPostgres } from './bench-postgres';
import { loadAverageText } from './process-stats';

const Flags = z.object({
  // A list: one store per size.
  bodies: z.preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()) : v),
    z.array(wholeNumber('--bodies', 1)).min(1, '--bodies: at least one size')
  ),
  repeat: wholeNumber('--repeat', 1),
  engine: z.enum(['both', 'sqlite', 'postgres'], { message: '--engine: both, sqlite or postgres' }),
});
type Options = z.infer<typeof Flags>;

const n = (v: number) => v.toLocaleString('en-US');
const DAY = 24 * 60 * 60 * 1000;

/** Body i's message: what its ledger and use say (every 4 in a row: one of each). */
const kindOf = (i: number) => (['sent', 'intent', 'refused', 'queued'] as const)[i % 4]!;

/** Bulk reads and writes on the store's own tables, beside the store (its schema already made). */
interface Tables {
  fill(count: number, firstAt: number): Promise<void>;
  /** Bodies last put before the time. */
  olderThan(before: number): Promise<number>;
  total(): Promise<number>;
  /** The server's version (PostgreSQL). */
  server?(): Promise<string>;
  /** PostgreSQL: the prune's statement before 262ba5d, for the same run's before and after. */
  earlierPrune?(before: number, most: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The body prune's statement until 262ba5d: an EXISTS per body and deletes joined to the judged rows, which the
 * planner may turn into hash joins reading the whole uses and ledger tables.
 */
const EARLIER_PRUNE = `WITH judged AS (
     SELECT b.ref, EXISTS (SELECT 1 FROM zm_coexist_body_uses u
         LEFT JOIN zm_coexist_mirrored m ON m.origin = u.origin AND m.origin_id = u.origin_id
       WHERE u.ref = b.ref AND (u.settled_at IS NULL OR u.settled_at >= $1)
         AND (m.state IS DISTINCT FROM 'SENT' OR m.updated_at >= $1)) AS open
     FROM zm_coexist_bodies b WHERE b.at < $1 ORDER BY b.at LIMIT $2 FOR UPDATE OF b SKIP LOCKED),
   gone AS (DELETE FROM zm_coexist_bodies b USING judged j WHERE b.ref = j.ref AND NOT j.open RETURNING b.ref),
   uses AS (DELETE FROM zm_coexist_body_uses u USING gone WHERE u.ref = gone.ref),
   deferred AS (UPDATE zm_coexist_bodies b SET at = $3 FROM judged j WHERE b.ref = j.ref AND j.open)
   SELECT count(*)::int AS n FROM gone`;

function sqliteTables(file: string): Tables {
  const db = new Database(file);
  db.pragma('busy_timeout = 10000');
  const body = db.prepare('INSERT INTO bodies (ref, body, at, used_at) VALUES (?, ?, ?, ?)');
  const use = db.prepare('INSERT INTO body_uses (ref, origin, origin_id, settled_at) VALUES (?, ?, ?, ?)');
  const ledger = db.prepare(`INSERT INTO mirrored (origin, origin_id, conv, state, target_id, attempts, intent_at,
      updated_at, sent_by) VALUES ('legacy', ?, ?, ?, ?, 1, ?, ?, ?)`);
  const fill = db.transaction((count: number, firstAt: number) => {
    for (let i = 0; i < count; i++) {
      const at = firstAt + i;
      const id = `m${i}`;
      const kind = kindOf(i);
      body.run(`b:bench-${i}`, `message ${i}`, at, at);
      use.run(`b:bench-${i}`, 'legacy', id, kind === 'refused' ? at : null);
      if (kind === 'sent') ledger.run(id, `peer:u${i % 1000}:v`, 'SENT', `z${i}`, at, at, 'bench');
      else if (kind !== 'queued') ledger.run(id, `peer:u${i % 1000}:v`, 'INTENT', null, at, at, null);
    }
  });
  const older = db.prepare<[number], number>('SELECT count(*) FROM bodies WHERE at < ?').pluck();
  const total = db.prepare<[], number>('SELECT count(*) FROM bodies').pluck();
  return {
    fill: async (count, firstAt) => void fill(count, firstAt),
    olderThan: async (before) => older.get(before)!,
    total: async () => total.get()!,
    close: async () => void db.close(),
  };
}

function postgresTables(url: string): Tables {
  const { db } = openStagingDatabase(url);
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await db.pool.query<{ n: string }>(sql, params)).rows[0]!.n);
  return {
    async fill(count, firstAt) {
      // i % 4: 0 SENT, 1 INTENT, 2 refused (INTENT, use settled), 3 queued (no ledger row); as sqliteTables.
      await db.pool.query(
        `WITH s AS (SELECT i, $2::bigint + i AS at FROM generate_series(0, $1::int - 1) i),
         b AS (INSERT INTO zm_coexist_bodies (ref, body, at, used_at)
           SELECT 'b:bench-' || i, convert_to('message ' || i, 'UTF8'), at, at FROM s),
         u AS (INSERT INTO zm_coexist_body_uses (ref, origin, origin_id, settled_at)
           SELECT 'b:bench-' || i, 'legacy', 'm' || i, CASE WHEN i % 4 = 2 THEN at END FROM s)
         INSERT INTO zm_coexist_mirrored (origin, origin_id, conv, state, target_id, attempts, intent_at, updated_at,
             sent_by)
           SELECT 'legacy', 'm' || i, 'peer:u' || (i % 1000) || ':v', CASE WHEN i % 4 = 0 THEN 'SENT' ELSE 'INTENT' END,
             CASE WHEN i % 4 = 0 THEN 'z' || i END, 1, at, at, CASE WHEN i % 4 = 0 THEN 'bench' END
           FROM s WHERE i % 4 <> 3`,
        [count, firstAt]
      );
      await db.pool.query('ANALYZE zm_coexist_bodies, zm_coexist_body_uses, zm_coexist_mirrored');
    },
    olderThan: (before) => count('SELECT count(*) AS n FROM zm_coexist_bodies WHERE at < $1', [before]),
    total: () => count('SELECT count(*) AS n FROM zm_coexist_bodies'),
    server: async () => (await db.pool.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v,
    earlierPrune: (before, most) => count(EARLIER_PRUNE, [before, most, Date.now()]),
    close: () => db.close(),
  };
}

interface Result {
  engine: string;
  bodies: number;
  left: number;
  looked: number[];
  pruned: number[];
  ms: number[];
}

async function measure(
  engine: string,
  location: string,
  size: number,
  o: Options,
  tables: (l: string) => Tables,
  earlier = false
) {
  const store = await openCoexistStore(location);
  const t = tables(location);
  const prune = earlier
    ? (before: number) => t.earlierPrune!(before, BODY_PRUNE_MOST)
    : (before: number) => store.pruneBodies(before);
  try {
    let started = performance.now();
    // Last put two days ago and on: all of them older than the prune's day.
    await t.fill(size, Date.now() - 2 * DAY - size);
    const fillMs = performance.now() - started;
    const bodies = await t.total();
    const result: Result = { engine, bodies, left: 0, looked: [], pruned: [], ms: [] };
    for (let r = 0; r < o.repeat; r++) {
      const before = Date.now() - BODIES_KEPT_MS;
      const due = await t.olderThan(before);
      started = performance.now();
      const pruned = await prune(before);
      result.ms.push(performance.now() - started);
      // The ones kept were dated now: no longer older than `before`.
      const looked = due - (await t.olderThan(before));
      if (looked !== BODY_PRUNE_MOST || pruned !== looked / 2)
        throw new Error(`${engine}, ${n(size)} bodies, prune ${r + 1}: looked at ${looked}, pruned ${pruned}`);
      result.looked.push(looked);
      result.pruned.push(pruned);
    }
    result.left = await t.total();
    const server = t.server ? ` (${(await t.server()).split(' on ')[0]})` : '';
    console.log(`  ${engine}, ${n(size)} bodies: filled in ${(fillMs / 1000).toFixed(1)} s${server}`);
    return result;
  } finally {
    await t.close();
    await store.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const span = (xs: number[]) =>
  Math.min(...xs) === Math.max(...xs) ? n(xs[0]!) : `${n(Math.min(...xs))}–${n(Math.max(...xs))}`;

function printTable(results: Result[], o: Options): void {
  console.log(
    `\n${o.repeat} prunes each, ms per prune\n\n` +
      '| engine | bodies in the table | looked at | pruned | median ms | max ms |\n' +
      '|---|---|---|---|---|---|'
  );
  for (const r of results)
    console.log(
      `| ${r.engine} | ${n(r.bodies)} → ${n(r.left)} | ${span(r.looked)} | ${span(r.pruned)} | ` +
        `${median(r.ms).toFixed(1)} | ${Math.max(...r.ms).toFixed(1)} |`
    );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bodies: { type: 'string', default: '200000,50000' },
      repeat: { type: 'string', default: '5' },
      engine: { type: 'string', default: 'both' },
    },
  });
  const parsed = Flags.safeParse(camelCaseKeys(values));
  const fail = (why: string) => {
    console.error(`bench:body-prune: ${why}`);
    process.exit(2);
  };
  if (!parsed.success) return fail(parsed.error.issues.map((i) => i.message).join('; '));
  const o = parsed.data;
  const short = o.bodies.find((b) => b < o.repeat * BODY_PRUNE_MOST);
  if (short !== undefined)
    return fail(`--bodies: ${short} is fewer than --repeat × ${n(BODY_PRUNE_MOST)} (each prune looks at new bodies)`);
  console.log(
    `zim-migrate coexistence body prune, ${new Date().toISOString()}, load average ${loadAverageText()}\n` +
      `half of each ${n(BODY_PRUNE_MOST)} looked at settled (SENT or refused), half in use (INTENT or queued)`
  );
  const results: Result[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-bench-body-prune-'));
  try {
    if (o.engine !== 'postgres')
      for (const size of o.bodies)
        results.push(await measure('SQLite', path.join(dir, `coexist-${size}.sqlite`), size, o, sqliteTables));
    if (o.engine !== 'sqlite')
      await withLocalPostgres(async (url) => {
        for (const size of o.bodies) {
          results.push(await measure('PostgreSQL', `${url}?schema=bench_${size}`, size, o, postgresTables));
          const schema = `${url}?schema=earlier_${size}`;
          results.push(await measure('PostgreSQL, before 262ba5d', schema, size, o, postgresTables, true));
        }
      });
    printTable(results, o);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
