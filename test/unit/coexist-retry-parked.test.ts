import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteCoexistStore } from '../../src/coexist/coexist-store';
import { retryKey, retryParked } from '../../src/coexist/retry-parked';
import type { SyncEvent } from '../../src/coexist/sync-event';

const dir = mkdtempSync(path.join(tmpdir(), 'coexist-retry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const event = (msgId: string): SyncEvent => ({
  eventKey: `lg:msg:${msgId}`,
  origin: 'legacy',
  conv: 'peer:a:b',
  kind: 'message',
  occurredAt: 1_000,
  order: 1,
  from: 'a',
  to: 'b',
  bodyRef: 'b:ref',
  msgId,
});
const parkedFor = (e: SyncEvent) => ({
  conv: e.conv,
  eventKey: e.eventKey,
  origin: e.origin,
  subject: e.msgId!,
  reason: 'unreachable',
  action: 'resend',
  event: e,
});

describe('retrying parked mirrors', () => {
  it('hands each back under a new key and unparks it; names keys not parked and entries without their event', async () => {
    const file = path.join(dir, 'a.sqlite');
    const store = openSqliteCoexistStore(file);
    await store.park(parkedFor(event('1')));
    await store.park(parkedFor(event('2')));
    // Parked by a version that did not keep the event.
    const { event: _dropped, ...old } = parkedFor(event('3'));
    await store.park(old);

    const handed: SyncEvent[] = [];
    const r = await retryParked(store, async (e) => void handed.push(e), { keys: ['lg:msg:1', 'lg:msg:9'] }, 77);
    assert.deepEqual(
      handed.map((e) => [e.eventKey, e.msgId, e.bodyRef]),
      [['lg:msg:1#retry-77', '1', 'b:ref']]
    );
    assert.deepEqual(r.unknown, ['lg:msg:9']);
    assert.deepEqual(
      (await store.parked()).map((p) => p.eventKey),
      ['lg:msg:2', 'lg:msg:3']
    );

    const all = await retryParked(store, async (e) => void handed.push(e), { all: true }, 78);
    assert.deepEqual(
      all.retried.map((p) => p.eventKey),
      ['lg:msg:2']
    );
    assert.deepEqual(
      all.withoutEvent.map((p) => p.eventKey),
      ['lg:msg:3']
    );
    assert.deepEqual(
      (await store.parked()).map((p) => p.eventKey),
      ['lg:msg:3']
    );
    await store.close();
  });

  it('keeps a mirror parked when its hand-off fails', async () => {
    const store = openSqliteCoexistStore(path.join(dir, 'b.sqlite'));
    await store.park(parkedFor(event('1')));
    await assert.rejects(
      retryParked(store, () => Promise.reject(new Error('Temporal unreachable')), { all: true }),
      /Temporal unreachable/
    );
    assert.equal((await store.parked()).length, 1);
    await store.close();
  });

  it('a retry parked again gets one suffix, not a growing one', () => {
    assert.equal(retryKey('k', 5), 'k#retry-5');
    assert.equal(retryKey('k#retry-5', 9), 'k#retry-9');
  });

  it('opens a store made before parked events were kept', async () => {
    const file = path.join(dir, 'old.sqlite');
    const db = new Database(file);
    db.exec(`CREATE TABLE parked (event_key TEXT PRIMARY KEY, conv TEXT NOT NULL, origin TEXT NOT NULL,
      subject TEXT NOT NULL, reason TEXT NOT NULL, action TEXT NOT NULL, parked_at INTEGER NOT NULL);
      INSERT INTO parked VALUES ('k', 'peer:a:b', 'zim', 'm', 'r', 'do it', 1)`);
    db.close();
    const store = openSqliteCoexistStore(file);
    const [p] = await store.parked();
    assert.equal(p?.eventKey, 'k');
    assert.equal(p?.event, undefined);
    await store.close();
  });
});
