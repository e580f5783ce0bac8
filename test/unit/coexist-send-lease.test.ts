/**
 * The mirror ledger's send lease (docs/coexistence.md §3): an attempt takes it right before its request leaves, and
 * only if nobody took it since the value it waited out and checked the tail after (compare-and-set), so at most one
 * send follows any one tail check; it releases it once its request was answered. Stores made before the lease get
 * its column when opened.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteCoexistStore } from '../../src/coexist/coexist-store';

const inTempDir = async (run: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'coexist-lease-'));
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('coexistence store: the send lease', () => {
  it('is taken only from the value the attempt saw, only while the row is INTENT', () =>
    inTempDir(async (dir) => {
      const store = openSqliteCoexistStore(path.join(dir, 's.sqlite'));
      try {
        // No row yet: nothing to lease.
        assert.equal(await store.markSending('legacy', 'L1', 1_000, null), false);
        await store.recordIntent('legacy', 'L1', 'peer:a:b');
        assert.equal((await store.record('legacy', 'L1'))?.sendingAt, null);
        // Two attempts that both saw no lease: the first takes it, the second must not send.
        assert.equal(await store.markSending('legacy', 'L1', 1_000, null), true);
        assert.equal(await store.markSending('legacy', 'L1', 1_001, null), false);
        assert.equal((await store.record('legacy', 'L1'))?.sendingAt, 1_000);
        // A later attempt that waited out the lease at 1000 (and checked the tail) takes it over.
        assert.equal(await store.markSending('legacy', 'L1', 30_000, 1_000), true);
        assert.equal(await store.markSending('legacy', 'L1', 30_001, 1_000), false);
        // Released by its holder once answered (negated); a release of an older lease changes nothing.
        await store.releaseSending('legacy', 'L1', 1_000);
        assert.equal((await store.record('legacy', 'L1'))?.sendingAt, 30_000);
        await store.releaseSending('legacy', 'L1', 30_000);
        assert.equal((await store.record('legacy', 'L1'))?.sendingAt, -30_000);
        assert.equal(await store.markSending('legacy', 'L1', 30_500, 30_000), false, 'not from the value before');
        assert.equal(await store.markSending('legacy', 'L1', 30_500, -30_000), true);
        // A recorded intent of a new attempt keeps the lease; SENT cannot be leased.
        await store.recordIntent('legacy', 'L1', 'peer:a:b');
        assert.equal((await store.record('legacy', 'L1'))?.sendingAt, 30_500);
        await store.markSent('legacy', 'L1', 'peer:a:b', 'z1');
        assert.equal(await store.markSending('legacy', 'L1', 60_000, 30_500), false);
        assert.equal((await store.record('legacy', 'L1'))?.state, 'SENT');
        // Per origin: the other side's row with the same id is its own.
        await store.recordIntent('zim', 'L1', 'peer:a:b');
        assert.equal(await store.markSending('zim', 'L1', 5, null), true);
      } finally {
        await store.close();
      }
    }));

  it('adds its column to a store made before it; the old intents read as never leased', () =>
    inTempDir(async (dir) => {
      const file = path.join(dir, 'old.sqlite');
      const db = new Database(file);
      db.exec(`CREATE TABLE mirrored (
        origin TEXT NOT NULL, origin_id TEXT NOT NULL, conv TEXT NOT NULL, state TEXT NOT NULL,
        target_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, intent_at INTEGER, updated_at INTEGER NOT NULL,
        PRIMARY KEY (origin, origin_id));
        INSERT INTO mirrored (origin, origin_id, conv, state, attempts, intent_at, updated_at)
          VALUES ('zim', '77', 'peer:a:b', 'INTENT', 1, 5, 5);`);
      db.close();
      for (let open = 0; open < 2; open++) {
        const store = openSqliteCoexistStore(file);
        try {
          const record = await store.record('zim', '77');
          assert.equal(record?.state, 'INTENT');
          assert.equal(record?.intentAt, 5);
          if (open === 0) {
            assert.equal(record?.sendingAt, null);
            assert.equal(await store.markSending('zim', '77', 9, null), true);
            assert.equal(record?.sentBy, null, 'an old row has no writer of SENT');
            await store.markSent('zim', '78', 'peer:a:b', 'L9', 'run/3');
          } else assert.equal(record?.sendingAt, 9, 'the lease survives reopening');
          assert.equal((await store.record('zim', '78'))?.sentBy, 'run/3', 'the new column is kept');
        } finally {
          await store.close();
        }
      }
    }));
});
