/**
 * `zim-migrate report` after a migration started the way `zim-migrate dev` starts one (a name unrelated to the
 * staging file's): the migration is found from the staging file, the budgets are right after completion, and
 * each reason for missing durations is told apart (no migration recorded, no such migration, Temporal unreachable).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openSqliteCoexistStore } from '../../src/coexist/coexist-store';
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

  it("lists what coexistence's audits found and how each was repaired, with --coexist-store or its env", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'report-coexist-'));
    try {
      const file = path.join(dir, 'coexist.sqlite');
      const store = openSqliteCoexistStore(file);
      const lost = { conv: 'peer:ann:bob', origin: 'legacy' as const, msgId: 'L7' };
      await store.recordDivergence({ ...lost, kind: 'missing', at: Date.UTC(2026, 11, 6) });
      await store.markRepaired(lost, 'handed to coexist:peer:ann:bob as audit:lg:msg:L7');
      await store.recordDivergence({ conv: 'group:g1', origin: 'zim', msgId: 'Z9', kind: 'missing', at: 5 });
      await store.close();

      const text = await report(staging.planned, '--coexist-store', file);
      assert.match(text, /Coexistence: 2 divergences in .*coexist\.sqlite/);
      assert.match(text, /peer:ann:bob {2}legacy message L7 .* missing on ZIM\n {4}repaired: .*audit:lg:msg:L7/);
      assert.match(text, /group:g1 {2}zim message Z9 .* missing on the legacy side\n {4}repaired: no/);
      const json = JSON.parse(
        (
          await exec(process.execPath, [BIN, 'report', staging.planned, '--json'], {
            env: { ...env, ZIM_MIGRATE_COEXIST_STORE: file },
          })
        ).stdout
      ) as Report & { coexistence: { divergences: { msgId: string; repair: string | null }[] } };
      assert.deepEqual(json.coexistence.divergences.map((d) => [d.msgId, d.repair]).sort(), [
        ['L7', 'handed to coexist:peer:ann:bob as audit:lg:msg:L7'],
        ['Z9', null],
      ]);
      // Without a store nothing is said of coexistence; a wrong path is a usage error naming the option.
      assert.doesNotMatch(await report(staging.planned), /Coexistence/);
      await assert.rejects(report(staging.planned, '--coexist-store', path.join(dir, 'nope.sqlite')), (err: Error) => {
        assert.match(err.message, /No coexistence store at .*nope\.sqlite: pass --coexist-store/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
