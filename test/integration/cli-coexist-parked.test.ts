/**
 * `zim-migrate coexist parked`: the mirrors a conversation gave up on, read from the coexistence store as an
 * operator runs it (no Temporal needed), each with why and what to do; a wrong --store is a usage error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { openSqliteCoexistStore, type ParkedRecord } from '../../src/coexist/coexist-store';
import { projectRoot } from '../../src/shared/project-root';

const exec = promisify(execFile);
const BIN = path.join(projectRoot(), 'bin', 'zim-migrate.js');
const dir = mkdtempSync(path.join(tmpdir(), 'coexist-parked-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) =>
  exec(process.execPath, [BIN, 'coexist', 'parked', ...args], { env: { ...process.env, NO_COLOR: '1' } });

describe('zim-migrate coexist parked', () => {
  it('lists each parked mirror with why and what to do, as text and JSON', async () => {
    const file = path.join(dir, 'coexist.sqlite');
    const store = openSqliteCoexistStore(file);
    await store.park({
      conv: 'peer:ann:bob',
      eventKey: 'legacy:m-17',
      origin: 'legacy',
      subject: 'm-17',
      reason: 'ZIM answered 503 to every attempt',
      action: 'look for legacy message m-17 in peer:ann:bob in ZIM: if absent, resend it',
    });
    await store.close();

    const text = (await cli('--store', file)).stdout;
    assert.match(text, /^1 parked mirror in .*coexist\.sqlite, oldest first:\n/);
    assert.match(text, /peer:ann:bob {2}from legacy: m-17\n {4}why: {2}ZIM answered 503 to every attempt\n/);
    assert.match(text, / {4}do: {3}look for legacy message m-17 in peer:ann:bob in ZIM/);

    const json = JSON.parse((await cli('--store', file, '--json')).stdout) as ParkedRecord[];
    assert.deepEqual(
      json.map((p) => [p.conv, p.eventKey, p.origin]),
      [['peer:ann:bob', 'legacy:m-17', 'legacy']]
    );
  });

  it('says so when nothing is parked, and refuses a store that is not there (exit 2)', async () => {
    const empty = path.join(dir, 'empty.sqlite');
    await openSqliteCoexistStore(empty).close();
    assert.match((await cli('--store', empty)).stdout, /^No parked mirrors in .*empty\.sqlite\.\n$/);

    const missing = path.join(dir, 'nowhere.sqlite');
    await assert.rejects(cli('--store', missing), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /No coexistence store at .*nowhere\.sqlite: pass --store/);
      return true;
    });
  });
});
