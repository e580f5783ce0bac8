/**
 * Catch-up rounds through the CLI on a migration staged in PostgreSQL (issue #13 on #12's store): gen, plan into a
 * postgres:// URL, start and watch the migration, then a later export carried by `zim-migrate catch-up <url>`
 * (after a --dry-run of it), with a real local PostgreSQL, a real Temporal dev server and the ZIM emulator over HTTP.
 * The worker knows only the URL and the password in its environment. After the round ZIM holds exactly the later
 * export (the migration's exactness check and the final-state check), and status and report show the round.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { openStaging } from '../../src/staging';
import { compareFinalState, compareWithEmulator, isExact } from '../../src/testing/exact-state';
import { FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import type { ZimEmulator } from '../../src/zim-emulator';
import { useLocalPostgres } from '../helpers/local-postgres';
import { runInProcessWorker } from '../helpers/in-process-worker';
import { unbalancedStages } from '../helpers/report-balance';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

describe('zim-migrate catch-up on a PostgreSQL staging', () => {
  const pg = useLocalPostgres();
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let dir: string;
  let url: string;
  let env: NodeJS.ProcessEnv;
  let stopWorker: (() => Promise<void>) | undefined;
  const saved = process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [BIN, ...args], { env, cwd: dir, maxBuffer: 16 << 20 })).stdout;

  const assertExact = async (when: string) => {
    const store = await openStaging(url, { readonly: true });
    try {
      const exactness = await compareWithEmulator(store, emulator);
      assert.ok(isExact(exactness), `${when}: ${JSON.stringify(exactness)}`);
      assert.deepEqual(await compareFinalState(store, emulator), [], when);
      assert.equal((await store.ledgerCounts()).verify?.failed ?? 0, 0, `${when}: verify found no difference`);
    } finally {
      await store.close();
    }
  };

  before(async () => {
    // The in-process worker takes the password from its environment, as a worker on another machine would.
    process.env.ZIM_MIGRATE_DATABASE_PASSWORD = pg.server().password;
    url = `${pg.server().url}?schema=acme`;
    dir = mkdtempSync(path.join(tmpdir(), 'pg-rounds-'));
    [t, emulator] = await Promise.all([startTemporalTestEnv(), startFastEmulator()]);
    const taskQueue = 'catch-up-rounds-pg';
    env = {
      ...process.env,
      ZIM_MIGRATE_DATABASE_PASSWORD: pg.server().password,
      TEMPORAL_ADDRESS: t.server.address,
      ZIM_MIGRATE_TASK_QUEUE: taskQueue,
    };
    stopWorker = await runInProcessWorker(t, emulator, taskQueue);
  });
  after(async () => {
    await stopWorker?.();
    await emulator?.stop();
    await t?.teardown();
    if (saved === undefined) delete process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
    else process.env.ZIM_MIGRATE_DATABASE_PASSWORD = saved;
  });

  it('migrates from the URL, then carries a later export exactly', async () => {
    await cli('gen', '--out', 'export', '--users', '60', '--seed', '7', '--groups', '12', '--messages', '400');
    await cli('plan', 'export', '--out', url);
    const budgets = Object.entries(FAST_BUDGETS).flatMap(([a, r]) => ['--budget', `${a}=${r}`]);
    await cli('start', url, '--name', 'acme', ...budgets);
    await cli('status', 'acme', '--watch');
    await assertExact('after the migration');

    await cli('gen', '--evolve', 'export', '--out', 'export-2', '--seed', '2', '--change', '0.25', '--late', '1');
    const dry = await cli('catch-up', url, 'export-2', '--dry-run');
    assert.match(dry, /Catch-up round from postgres:\/\/.* to export-2/);
    assert.match(dry, /ETA of the round at its budgets/);
    const round1 = await cli('catch-up', url, 'export-2');
    assert.match(round1, /Staged as round 1 of migration acme\./);
    assert.match(round1, /1 new message\(s\) are older than the newest one their conversation already holds/);
    assert.match(round1, / acme-round-1 COMPLETED/);
    await assertExact('after round 1');

    const store = await openStaging(url, { readonly: true });
    try {
      const rounds = await store.rounds();
      assert.deepEqual(
        rounds.map((r) => [r.round, r.kind, r.state]),
        [[1, 'full', 'done']]
      );
      const ledger = (await store.ledgerCounts()).round!;
      assert.equal(ledger.failed ?? 0, 0);
      assert.equal(ledger.pending ?? 0, 0);
      assert.ok(ledger.done > 0, 'the round wrote its ops to the PostgreSQL ledger');
    } finally {
      await store.close();
    }
    assert.match(await cli('status', 'acme-round-1'), /acme-round-1: COMPLETED\n[\s\S]*\nverify /);
    const report = await cli('report', url);
    assert.match(report, /\nCatch-up rounds:\n/);
    assert.match(report, /\n {2}round 1 +full .* done /);
    // Each stage's plan is the migration's plus the round's, counted against this staging's ledger.
    const unbalanced = unbalancedStages(await cli('report', url, '--json'));
    assert.deepEqual(unbalanced, [], 'report: stages whose plan does not match their ledger');

    // The same export again: the round is done, so its watermark refuses it, naming the fix.
    await assert.rejects(cli('catch-up', url, 'export-2'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /is not after round 1's watermark .*Export the app again/);
      return true;
    });
  });

  it('refuses a URL with a password, which the round workflow would store, without printing it', async () => {
    const withPassword = new URL(url);
    withPassword.password = 's3cret-pw';
    await assert.rejects(cli('catch-up', withPassword.href, 'export-2'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /holds a password, which would be stored in the round workflow's input/);
      assert.doesNotMatch(err.stderr, /s3cret-pw/);
      return true;
    });
  });
});
