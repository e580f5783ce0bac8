/**
 * `zim-migrate report` after a migration started the way `zim-migrate dev` starts one (a name unrelated to the
 * staging file's): the migration is found from the staging file, the budgets are right after completion, and
 * each reason for missing durations is told apart (no migration recorded, no such migration, Temporal unreachable).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { setBudgetUpdate } from '../../src/shared/workflow-api';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

interface Report {
  migration: string | null;
  note?: string;
  stages: { stage: string; planned: number; done: number; seconds?: number; budget?: number }[];
}

describe('zim-migrate report', () => {
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  let migrated: string;
  let env: NodeJS.ProcessEnv;
  const report = async (...args: string[]) => (await exec(process.execPath, [BIN, 'report', ...args], { env })).stdout;

  before(async () => {
    [t, staging] = await Promise.all([startTemporalTestEnv(), buildStaging(8, 3)]);
    env = { ...process.env, TEMPORAL_ADDRESS: t.server.address, TEMPORAL_NAMESPACE: 'default' };
    migrated = staging.fresh();
    const emulator = await startFastEmulator();
    try {
      const result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator,
        stagingPath: migrated,
        migrationId: 'rehearsal',
        budgets: FAST_BUDGETS,
        input: { stages: ['accounts', 'profiles', 'friends'] },
        // A budget changed right after the start (the workflow registers its handlers before its first await):
        // the report shows the one in force at the end.
        during: async (handle) => {
          await handle.executeUpdate(setBudgetUpdate, { args: [{ action: 'ModifyUserInfo', rate: 350 }] });
        },
      });
      assert.equal(result.status, 'completed');
    } finally {
      await emulator.stop();
    }
  });
  after(async () => {
    await t?.teardown();
  });

  it('finds the migration from the staging file and shows each stage with its budget after completion', async () => {
    const json = JSON.parse(await report(migrated, '--json')) as Report;
    assert.equal(json.migration, 'rehearsal');
    assert.equal(json.note, undefined);
    const byStage = Object.fromEntries(json.stages.map((s) => [s.stage, s]));
    for (const stage of ['accounts', 'profiles', 'friends']) {
      assert.equal(byStage[stage]!.done, byStage[stage]!.planned, stage);
      assert.ok(byStage[stage]!.seconds !== undefined, `${stage} has a duration`);
    }
    assert.deepEqual(
      ['accounts', 'profiles', 'friends'].map((s) => byStage[s]!.budget),
      [FAST_BUDGETS.UserRegister, 350, FAST_BUDGETS.AddFriends]
    );

    const text = await report(migrated);
    assert.match(text, /^Migration report: rehearsal \(/);
    assert.doesNotMatch(text, /\(\?\)|not reachable/);
    assert.match(text, /\naccounts .* \(400\)\n/);
    assert.match(text, /\nprofiles .* \(350\)\n/);
  });

  it('says when the staging file records no migration, and how to name one', async () => {
    const text = await report(staging.planned);
    assert.match(text, /No migration recorded in .*staging\.sqlite .*: pass --name <migration>/);
    const json = JSON.parse(await report(staging.planned, '--json')) as Report;
    assert.equal(json.migration, null);
    assert.match(json.note!, /--name/);
    assert.ok(json.stages.every((s) => s.seconds === undefined));
  });

  it('tells a name Temporal does not know from a Temporal it cannot reach', async () => {
    const unknown = await report(migrated, '--name', 'nosuch');
    assert.match(unknown, /no migration named nosuch in namespace default/i);
    assert.doesNotMatch(unknown, /not reachable/);

    const { stdout } = await exec(process.execPath, [BIN, 'report', migrated], {
      env: { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });
    assert.match(stdout, /Temporal not reachable at 127\.0\.0\.1:1/);
  });
});
