import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { runnableBy, type PostgresBinaries } from '../../src/postgres/postgres-binaries';
import { postgresUser } from '../../src/postgres/local-postgres';

/** An installation with stand-in binaries, under a directory only its owner may enter (as `mktemp -d` makes). */
function privateInstall(): { root: string; binaries: PostgresBinaries } {
  const root = mkdtempSync(path.join(tmpdir(), 'zim-pg-bin-test-'));
  chmodSync(root, 0o700);
  const bin = path.join(root, 'native', 'bin');
  mkdirSync(bin, { recursive: true });
  mkdirSync(path.join(root, 'native', 'share'));
  for (const name of ['initdb', 'postgres'])
    writeFileSync(path.join(bin, name), '#!/bin/sh\necho "stand-in 18.4"\n', { mode: 0o755 });
  return { root, binaries: { dir: bin, source: 'env' } };
}

describe('PostgreSQL binaries the server user can run', () => {
  const made: string[] = [];
  after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('without a separate server user (not root), the binaries are used where they are', () => {
    const { root, binaries } = privateInstall();
    made.push(root);
    assert.deepEqual(runnableBy(binaries, undefined), binaries);
  });

  test('as root, binaries the postgres user cannot reach are copied once to a directory it can, and run there', (t) => {
    const user = postgresUser();
    if (!user) return t.diagnostic('not root here: the copy is for root only, and the case above covers this machine');
    const { root, binaries } = privateInstall();
    const cache = mkdtempSync(path.join(tmpdir(), 'zim-pg-cache-test-'));
    chmodSync(cache, 0o755);
    made.push(root, cache);
    assert.throws(() => execFileSync(path.join(binaries.dir, 'initdb'), { stdio: 'ignore', ...user }));

    const first = runnableBy(binaries, user, cache);
    assert.notEqual(first.dir, binaries.dir);
    assert.ok(first.dir.startsWith(cache));
    assert.equal(first.source, 'env');
    const out = execFileSync(path.join(first.dir, 'initdb'), { encoding: 'utf8', ...user });
    assert.equal(out.trim(), 'stand-in 18.4');

    // A second start reuses the copy; a broken copy is replaced.
    assert.equal(runnableBy(binaries, user, cache).dir, first.dir);
    chmodSync(path.join(first.dir, 'initdb'), 0o600);
    assert.equal(runnableBy(binaries, user, cache).dir, first.dir);
    assert.equal(execFileSync(path.join(first.dir, 'initdb'), { encoding: 'utf8', ...user }).trim(), 'stand-in 18.4');
  });
});
