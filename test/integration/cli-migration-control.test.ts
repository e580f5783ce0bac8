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
  // Long enough that the migration is still running when `cancel` comes after resume, even when each CLI
  // invocation takes seconds on a loaded machine (400 steps finished first once, at load 16).
  const fake = fakeMigrationActivities({ owners: 3, stepsPerOwner: 4_000, groups: 0, delayMs: 5 });
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
    assert.match(await cli('status', 'acme'), /^migration acme: CANCELLED\npeer-messages /);
    // Watching a migration that ended without completing fails, so a CI step stops there.
    await assert.rejects(cli('status', 'acme', '--watch'), (err: { code: number; stdout: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stdout, / acme CANCELLED /);
      return true;
    });
  });

  it('watches in a log without cursor escapes or repeated lines, and as NDJSON with --json', async () => {
    const stages = 'accounts,profiles,friends,blocks';
    await cli('start', staging, '--name', 'beta', '--stages', stages);
    const log = await cli('status', 'beta', '--watch', '--every', '1');
    assert.ok(!log.includes('\x1b'), 'no escape sequences when stdout is not a terminal');
    const lines = log.trimEnd().split('\n');
    const withoutTime = lines.map((l) => l.replace(/^\S+ /, ''));
    for (let i = 1; i < withoutTime.length; i++) assert.notEqual(withoutTime[i], withoutTime[i - 1], 'a repeated line');
    for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ beta [A-Z]+ \d+% /);
    assert.match(lines[lines.length - 1]!, / beta COMPLETED \d+% .*done accounts,profiles,friends,blocks$/);

    await cli('start', staging, '--name', 'gamma', '--stages', stages);
    const ndjson = await cli('status', 'gamma', '--watch', '--json', '--every', '1');
    const objects = ndjson
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { migrationId: string; status: string; stages: { status: string }[] });
    assert.ok(objects.every((o) => o.migrationId === 'gamma'));
    const last = objects[objects.length - 1]!;
    assert.equal(last.status, 'completed');
    assert.deepEqual(
      last.stages.map((s) => s.status),
      ['done', 'done', 'done', 'done']
    );
  });

  it('rejects bad input with exit code 2 and a message that names the fix', async () => {
    const fails = async (args: string[], pattern: RegExp) =>
      assert.rejects(
        cli(...args),
        (err: { code: number; stderr: string }) => err.code === 2 && pattern.test(err.stderr)
      );
    await fails(['start', '/nonexistent.sqlite'], /run "zim-migrate plan/);
    await fails(
      ['start', 'postgres://zim:pw-in-url@db.example/acme'],
      /holds a password, which would be stored in the workflow/
    );
    await fails(['start', staging, '--name', 'bad name!'], /migration name/);
    await fails(['start', staging, '--stages', 'accounts,nope'], /unknown stage\(s\) nope/);
    await fails(['budget', 'acme', 'Import=5'], /expected Action=callsPerSecond/);
    await fails(['start', staging, '--budget', 'ImportPeerMsg=50000'], /must be calls per second, .* at most 10000/);
    await fails(['nosuchcommand'], /unknown command/);
    await fails(['start', staging, '--error-budget', '150'], /--error-budget must be a percentage from 0 to 100/);
    await assert.rejects(cli('status', 'nosuch'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /No migration "nosuch" \(workflow zim-migrate\/nosuch\) in namespace default/);
      return true;
    });
  });

  it('says where it tried to reach Temporal and how to check it', async () => {
    await assert.rejects(
      exec(process.execPath, [BIN, 'status', 'acme'], { env: { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' } }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(
          err.stderr,
          /Cannot reach Temporal at 127\.0\.0\.1:1 \(namespace default\).*temporal operator cluster health/
        );
        return true;
      }
    );
  });
});
