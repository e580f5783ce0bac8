/**
 * A park racing a body prune in the PostgreSQL coexistence store (two stores on one schema, as a worker and a
 * receiver on two machines): the prune forgets a body unused for the bound unless a parked event names it, so a park
 * committed while a prune runs must keep its body. The invariant checked: a body readable when its park returned is
 * never forgotten after. A park that waited for a prune may return with its body already gone, as one made after the
 * prune would (the prune holds a lock on the parked table that a park's insert waits for). SQLite needs no such case: its prune is one write transaction (BEGIN IMMEDIATE) that a park's insert,
 * from any connection, waits for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CoexistStore, ParkedRecord } from '../../src/coexist/coexist-store';
import { openCoexistStore } from '../../src/coexist/open-coexist-store';
import type { SyncEvent } from '../../src/coexist/sync-event';
import { openStagingDatabase } from '../../src/staging/postgres/staging-database';
import { useLocalPostgres } from '../helpers/local-postgres';

/** A parked group creation (no message: its park opens no use) or message, naming `bodyRef`. */
function parkOf(key: string, bodyRef: string, kind: 'group' | 'message'): Omit<ParkedRecord, 'parkedAt'> {
  const event: SyncEvent =
    kind === 'group'
      ? {
          eventKey: key,
          origin: 'legacy',
          conv: 'group:g',
          kind,
          occurredAt: 1,
          order: 0,
          groupId: 'g',
          groupEvent: 'created',
          bodyRef,
        }
      : {
          eventKey: key,
          origin: 'zim',
          conv: 'peer:a:b',
          kind,
          occurredAt: 1,
          order: 1,
          from: 'a',
          to: 'b',
          bodyRef,
          msgId: key,
        };
  return { conv: event.conv, eventKey: key, origin: event.origin, subject: key, reason: 'r', action: 'a', event };
}

const has = (s: CoexistStore, ref: string) =>
  s.body(ref).then(
    () => true,
    () => false
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a park racing a body prune on PostgreSQL', { timeout: 120_000 }, () => {
  const pg = useLocalPostgres();
  let n = 0;
  const fresh = () => `${pg.server().url}?schema=park_race_${n++}`;
  /** Runs `run` with two stores on a fresh schema and a connection of the test's own on it. */
  async function twoStores(
    run: (s: CoexistStore, other: CoexistStore, sql: ReturnType<typeof openStagingDatabase>['db']) => Promise<void>
  ) {
    const at = fresh();
    const s = await openCoexistStore(at, pg.env());
    const other = await openCoexistStore(at, pg.env());
    const { db } = openStagingDatabase(at, pg.env());
    try {
      await run(s, other, db);
    } finally {
      await Promise.all([s.close(), other.close(), db.close()]);
    }
  }

  it('never forgets the body of a park that returned while a prune ran (30 rounds, the bound passed)', () =>
    twoStores(async (s, other, db) => {
      // Bodies a parked event names, looked at (and kept) by every prune: they make its statement last a while.
      const FILLERS = 3_000;
      await db.pool.query(
        `INSERT INTO zm_coexist_bodies (ref, body, at, used_at) SELECT 'b:filler-' || i, 'x', 0, 0
           FROM generate_series(1, ${FILLERS}) i;
         INSERT INTO zm_coexist_parked (event_key, conv, origin, subject, reason, action, parked_at, body_ref)
           SELECT 'filler-' || i, 'group:f', 'legacy', 's', 'r', 'a', 0, 'b:filler-' || i
           FROM generate_series(1, ${FILLERS}) i`
      );
      const t0 = Date.now();
      assert.equal(await other.pruneBodies(Date.now() + 1, undefined, Date.now() + 1), 0);
      const pruneMs = Date.now() - t0;
      const lost: number[] = [];
      let kept = 0;
      for (let i = 0; i < 30; i++) {
        const kind = i % 2 === 0 ? 'group' : 'message';
        const ref = await s.putBody(`body ${i}`, kind === 'group' ? undefined : [{ origin: 'zim', originId: `m${i}` }]);
        // Past the bound (and the day) at once: the prune forgets it unless the park is seen.
        const now = Date.now() + 1;
        // The park from a third of a prune before the prune starts to most of one after it.
        const lag = (((i * 7) % 10) - 3) * (pruneMs / 10);
        const [, seen] = await Promise.all([
          sleep(Math.max(0, -lag)).then(() => other.pruneBodies(now, undefined, now)),
          sleep(Math.max(0, lag)).then(async () => {
            await s.park(parkOf(`race-${i}`, ref, kind));
            return has(s, ref);
          }),
        ]);
        if (seen && !(await has(other, ref))) lost.push(i);
        if (seen) kept++;
      }
      assert.deepEqual(lost, [], `rounds whose body was forgotten after its park returned (prune ~${pruneMs} ms)`);
      assert.ok(kept > 0, 'some parks came first');
    }));

  it("a park made between a prune's look and its forgetting waits for the prune: its body is gone when it returns", () =>
    twoStores(async (s, other, db) => {
      const ref = await s.putBody('{"name":"held back"}');
      const hold = await db.pool.connect();
      let done = false;
      /** Until `count` backends of this server wait for a lock (or the park returned). */
      const waiting = async (count: number) => {
        while (!done) {
          const { rows } = await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`
          );
          if (rows[0]!.n >= count) return;
          await sleep(5);
        }
      };
      try {
        // The test holds the body's use row: the prune, having looked, waits to forget it.
        await hold.query('BEGIN');
        await hold.query('SELECT 1 FROM zm_coexist_body_uses WHERE ref = $1 FOR UPDATE', [ref]);
        const now = Date.now() + 1;
        const prune = other.pruneBodies(now, undefined, now);
        await waiting(1);
        const park = s.park(parkOf('late', ref, 'group')).then(async () => {
          const seen = await has(s, ref);
          done = true;
          return seen;
        });
        // The park returned, or waits for the prune.
        await Promise.race([park, waiting(2)]);
        done = true;
        await hold.query('COMMIT');
        const [gone, seen] = await Promise.all([prune, park]);
        assert.deepEqual(
          (await other.parked()).map((p) => p.eventKey),
          ['late']
        );
        // Never readable when the park returned and forgotten after: it returned once the prune had committed.
        assert.equal(seen, false, 'the park returned while the prune that had looked was still to forget');
        assert.equal(gone, 1);
        assert.equal(await has(other, ref), false);
      } finally {
        hold.release();
      }
    }));
});
