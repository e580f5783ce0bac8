import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Two processes open the same 60 new files at the same instants; returns each process's failed switches. */
async function openTogether(mode: 'plain' | 'retry'): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wal-'));
  const startAt = String(Date.now() + 2_000); // after both have loaded
  const runChild = () =>
    new Promise<string[]>((resolve, reject) => {
      const child = fork(path.join(__dirname, '../helpers/wal-switch-child.ts'), [dir, startAt, '60', mode], {
        execArgv: ['--import', 'tsx'],
      });
      child.once('message', (m) => resolve(m as string[]));
      child.once('error', reject);
      child.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
    });
  return (await Promise.all([runChild(), runChild()])).flat();
}

describe('switchToWal', () => {
  it('lets processes that open one new file at the same moment all switch it to WAL', async () => {
    // The race is real: a bare switch fails at once with "database is locked", whatever the busy timeout.
    const bare = await openTogether('plain');
    assert.ok(bare.length > 0, 'the bare switch never met the race: this test no longer shows anything');
    assert.match(bare[0]!, /database is locked/);
    assert.deepEqual(await openTogether('retry'), []);
  });
});
