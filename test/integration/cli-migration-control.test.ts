/** The operator's commands, run as the real CLI process against a real dev server and a worker. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { fakeMigrationActivities } from '../../src/testing/fake-migration-activities';
import type { MigrationProgress } from '../../src/shared/workflow-api';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

describe('zim-migrate start / status / pause / resume / budget / cancel', () => {
  let t: TemporalTestEnv;
  let env: NodeJS.ProcessEnv;
  let staging: string;
  const fake = fakeMigrationActivities({ owners: 3, stepsPerOwner: 400, groups: 0, delayMs: 5 });
  const cli = async (...args: string[]) => (await exec(process.execPath, [BIN, ...args], { env })).stdout;

  before(async () => {
    t = await startTemporalTestEnv();
    const { taskQueue } = await t.createWorker({ activities: fake.activities });
    env = {
      ...process.env,
      TEMPORAL_ADDRESS: t.server.address,
      ZIM_MIGRATE_TASK_QUEUE: taskQueue,
      TEMPORAL_UI_URL: 'http://ui.test',
    };
    staging = path.join(mkdtempSync(path.join(tmpdir(), 'cli-')), 'acme.sqlite');
    writeFileSync(staging, '');
  });
  after(async () => {
    await t?.teardown();
  });

  it('drives a migration end to end through the CLI', async () => {
    const started = JSON.parse(await cli('start', staging, '--stages', 'peer-messages', '--json')) as Record<
      string,
      string
    >;
    assert.deepEqual(started, {
      migrationId: 'acme',
      workflowId: 'zim-migrate/acme',
      ui: 'http://ui.test/namespaces/default/workflows/zim-migrate%2Facme',
    });
    await assert.rejects(cli('start', staging), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /already running/);
      return true;
    });

    await cli('pause', 'acme', '--reason', 'peak hours');
    const paused = JSON.parse(await cli('status', 'acme', '--json')) as MigrationProgress;
    assert.deepEqual([paused.status, paused.pausedReason], ['paused', 'peak hours']);
    assert.match(await cli('status', 'acme'), /^migration acme: PAUSED[\s\S]*paused: peak hours[\s\S]*peer-messages/);

    assert.match(await cli('budget', 'acme', 'ImportPeerMsg=12'), /ImportPeerMsg=12\/s/);
    assert.deepEqual(fake.appliedBudgets, [{ action: 'ImportPeerMsg', rate: 12 }]);

    await cli('resume', 'acme');
    assert.equal((JSON.parse(await cli('status', 'acme', '--json')) as MigrationProgress).status, 'running');
    await cli('cancel', 'acme');
    const result = (await t.client.workflow.getHandle('zim-migrate/acme').result()) as { status: string };
    assert.equal(result.status, 'cancelled');
    assert.match(await cli('status', 'acme'), /completed/);
  });

  it('rejects bad input with exit code 2 and a message that names the fix', async () => {
    const fails = async (args: string[], pattern: RegExp) =>
      assert.rejects(
        cli(...args),
        (err: { code: number; stderr: string }) => err.code === 2 && pattern.test(err.stderr)
      );
    await fails(['start', '/nonexistent.sqlite'], /run "zim-migrate plan/);
    await fails(['start', staging, '--name', 'bad name!'], /migration name/);
    await fails(['start', staging, '--stages', 'accounts,nope'], /unknown stage\(s\) nope/);
    await fails(['budget', 'acme', 'Import=5'], /expected Action=callsPerSecond/);
    await fails(['nosuchcommand'], /unknown command/);
  });
});
