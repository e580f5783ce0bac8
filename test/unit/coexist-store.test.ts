import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteCoexistStore } from '../../src/coexist/coexist-store';
import { coexistStoreLocation, isPostgresStore, storeName } from '../../src/coexist/open-coexist-store';

describe('coexistence store: group state and parked mirrors', () => {
  it('keeps group and member state, the profile until a new one is given, and parks an event once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'coexist-store-'));
    const store = openSqliteCoexistStore(path.join(dir, 's.sqlite'));
    try {
      assert.equal(await store.group('g'), null);
      await store.setGroup('g', { live: true, origin: 'legacy', changedAt: 5, profile: '{"name":"a"}' });
      await store.setGroup('g', { live: false, origin: 'zim', changedAt: 9 });
      assert.deepEqual(await store.group('g'), {
        groupId: 'g',
        live: false,
        origin: 'zim',
        changedAt: 9,
        profile: '{"name":"a"}',
      });
      await store.setMembers('g', ['u1', 'u2'], { member: true, origin: 'zim', changedAt: 3 });
      await store.setMembers('g', ['u2'], { member: false, origin: 'legacy', changedAt: 4 });
      assert.deepEqual(await store.member('g', 'u1'), { userId: 'u1', member: true, origin: 'zim', changedAt: 3 });
      assert.equal((await store.member('g', 'u2'))?.member, false);
      assert.equal(await store.member('g', 'u3'), null);

      const p = {
        conv: 'peer:a:b',
        eventKey: 'lg:msg:1',
        origin: 'legacy' as const,
        subject: '1',
        reason: 'r',
        action: 'x',
      };
      await store.park(p);
      await store.park({ ...p, reason: 'again' });
      const parked = await store.parked();
      assert.equal(parked.length, 1);
      assert.equal(parked[0]?.reason, 'r');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coexistence store location', () => {
  it('is --store, else ZIM_MIGRATE_COEXIST_STORE (empty counts as unset), else coexist.sqlite; a URL is PostgreSQL', () => {
    const env = { ZIM_MIGRATE_COEXIST_STORE: 'postgres://zim@db/zim' };
    assert.equal(coexistStoreLocation('a.sqlite', env), 'a.sqlite');
    assert.equal(coexistStoreLocation(undefined, env), 'postgres://zim@db/zim');
    assert.equal(coexistStoreLocation(undefined, { ZIM_MIGRATE_COEXIST_STORE: '' }), 'coexist.sqlite');
    assert.equal(isPostgresStore('postgresql://zim@db/zim'), true);
    assert.equal(isPostgresStore('postgres.sqlite'), false);
    assert.equal(storeName('postgres://zim:pw-secret@db/zim?schema=c'), 'postgres://zim:***@db/zim?schema=c');
    assert.equal(storeName('/var/lib/coexist.sqlite'), '/var/lib/coexist.sqlite');
  });
});
