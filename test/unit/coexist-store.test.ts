import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coexistStoreLocation, isPostgresStore, storeName } from '../../src/coexist/open-coexist-store';

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
