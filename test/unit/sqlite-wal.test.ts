import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface SwitchResult {
  error?: string;
  journal?: string;
  ms: number;
}

/**
 * Another process switches a new file to WAL while this one holds a write lock on it (creating its schema), which
 * this one releases `holdMs` after the other started trying (without it: once the other is done).
 */
async function switchWhileLocked(mode: 'plain' | 'retry', holdMs?: number): Promise<SwitchResult> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'wal-')), 'shared.sqlite');
  const holder = new Database(file);
  holder.exec('BEGIN IMMEDIATE');
  holder.exec('CREATE TABLE t (a)');
  try {
    return await new Promise<SwitchResult>((resolve, reject) => {
      const child = fork(path.join(__dirname, '../helpers/wal-switch-child.ts'), [file, mode], {
        execArgv: ['--import', 'tsx'],
      });
      child.on('message', (m) => {
        if (m === 'trying') {
          if (holdMs !== undefined) setTimeout(() => holder.exec('COMMIT'), holdMs);
        } else resolve(m as SwitchResult);
      });
      child.once('error', reject);
      child.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
    });
  } finally {
    if (holder.inTransaction) holder.exec('COMMIT');
    holder.close();
  }
}

describe('switchToWal', () => {
  it('switches a file another process is writing its schema into, where a bare switch fails at once', async () => {
    // The race two workers opening one new file meet: SQLite answers at once, whatever the busy timeout (5 s).
    const bare = await switchWhileLocked('plain');
    assert.match(bare.error ?? '', /database is locked/);
    assert.ok(bare.ms < 4_000, `the bare switch waited ${bare.ms} ms: the busy timeout covers it now`);
    // switchToWal retries until the other process commits.
    const retried = await switchWhileLocked('retry', 300);
    assert.deepEqual([retried.error, retried.journal], [undefined, 'wal']);
    assert.ok(retried.ms >= 250, `switched after ${retried.ms} ms, before the lock was released`);
  });
});
