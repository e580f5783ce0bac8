/**
 * Catch-up rounds through the CLI (issue #13): gen, plan, start and watch a migration, then two later exports
 * (a full one, then an incremental one) each carried by `zim-migrate catch-up`, with a real Temporal dev server and
 * the ZIM emulator over HTTP. After each round ZIM holds exactly the latest export: the migration's own exactness
 * check (messages in order, relations, members, roles, nicknames) and the final-state check (profiles, no friend
 * or block left that the export removed, group data and attributes, dismissed groups gone), with every change
 * kind present in the rounds. Bad input is refused with the record and the fix named.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { promisify } from 'node:util';
import { CHANGE_KINDS } from '../../src/catch-up/change-kinds';
import { openStaging } from '../../src/staging';
import { progressQuery, type MigrationProgress } from '../../src/shared/workflow-api';
import { compareFinalState, compareWithEmulator, isExact } from '../../src/testing/exact-state';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import type { ZimEmulator } from '../../src/zim-emulator';
import { runInProcessWorker } from '../helpers/in-process-worker';
import { unbalancedStages } from '../helpers/report-balance';
import { waitFor } from '../helpers/wait-for';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

describe('zim-migrate catch-up: rounds after a migration', () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let dir: string;
  let staging: string;
  let env: NodeJS.ProcessEnv;
  let stopWorker: () => Promise<void>;
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [BIN, ...args], { env, cwd: dir, maxBuffer: 16 << 20 })).stdout;

  const assertExact = async (when: string) => {
    const store = await openStaging(staging, { readonly: true });
    try {
      const exactness = await compareWithEmulator(store, emulator);
      assert.ok(isExact(exactness), `${when}: ${JSON.stringify(exactness)}`);
      assert.deepEqual(await compareFinalState(store, emulator), [], when);
      const verify = (await store.ledgerCounts()).verify;
      assert.equal(verify?.failed ?? 0, 0, `${when}: verify found no difference`);
    } finally {
      await store.close();
    }
  };

  /** A completed round's progress counts every planned item of every step (status and the UI show 100%). */
  const assertAllCounted = async (round: string) => {
    const p = JSON.parse(await cli('status', round, '--json')) as MigrationProgress;
    const short = p.stages
      .filter((st) => st.done + st.failed + st.skipped !== st.planned)
      .map((st) => `${st.stage} ${st.done}+${st.failed}+${st.skipped} of ${st.planned}`);
    // The worker here kept its staging store open since the migration's verify: a round's verify must check (and
    // count) the pages as the round staged them, not as the migration did.
    assert.deepEqual(short, [], `${round}: steps whose progress does not add up to their plan`);
  };

  before(async () => {
    const built = await buildStaging(80, 7, {
      gen: ['--groups', '20', '--messages', '600', '--group-messages', '300'],
    });
    dir = built.dir;
    staging = built.fresh();
    [t, emulator] = await Promise.all([startTemporalTestEnv(), startFastEmulator()]);
    const taskQueue = 'catch-up-rounds';
    stopWorker = await runInProcessWorker(t, emulator, taskQueue);
    env = { ...process.env, TEMPORAL_ADDRESS: t.server.address, ZIM_MIGRATE_TASK_QUEUE: taskQueue };
  });
  after(async () => {
    await stopWorker?.();
    await emulator?.stop();
    await t?.teardown();
  });

  it('migrates, then carries a full and an incremental later export exactly, every kind of change', async () => {
    const budgets = Object.entries(FAST_BUDGETS).flatMap(([a, r]) => ['--budget', `${a}=${r}`]);
    await cli('start', staging, '--name', 'acme', ...budgets);
    await cli('status', 'acme', '--watch');
    await assertExact('after the migration');

    // Round 1: a full later export.
    await cli('gen', '--evolve', 'export', '--out', 'export-2', '--seed', '2', '--change', '0.25', '--late', '1');
    // Started, then cancelled once its new groups are under way: the same command again resumes the round and
    // finishes it exactly. (Resumed within the minute, its first run id begins as the cancelled run's did: the stage
    // children must still be its own, or it takes the cancelled groups stage for done and sets up no new group.)
    const started = await cli('catch-up', staging, 'export-2', '--no-watch');
    assert.match(started, /Staged as round 1 of migration acme\./);
    assert.match(started, /1 new message\(s\) are older than the newest one their conversation already holds/);
    const firstRun = t.client.workflow.getHandle('zim-migrate/acme-round-1');
    await waitFor('round 1 sets up its new groups', async () => {
      const groups = (await firstRun.query(progressQuery)).stages.find((st) => st.stage === 'groups');
      return groups !== undefined && groups.status !== 'pending';
    });
    await cli('cancel', 'acme-round-1');
    const cancelled = (await t.client.workflow.getHandle('zim-migrate/acme-round-1').result()) as { status: string };
    assert.equal(cancelled.status, 'cancelled');
    const round1 = await cli('catch-up', staging, 'export-2');
    assert.match(round1, /Round 1 of migration acme \(from .*export-2\) did not finish: resuming it\./);
    assert.match(round1, / acme-round-1 COMPLETED/);
    await assertExact('after round 1');
    await assertAllCounted('acme-round-1');

    // Round 2: an incremental export (changes and tombstones since round 1's watermark), under ZIM faults: calls
    // applied and then their answer lost, 5xx, resets, bursts of "too frequent".
    await cli('gen', '--evolve', 'export-2', '--out', 'delta-3', '--incremental', '--seed', '3', '--change', '0.25');
    emulator.setFaults({
      seed: 5,
      commitThenDropRate: 0.05,
      http5xxRate: 0.03,
      resetRate: 0.03,
      tooFrequentBurst: { startRate: 0.005, length: 3 },
    });
    const round2 = await cli('catch-up', staging, 'delta-3', '--name', 'acme').finally(() => emulator.setFaults({}));
    const faults = emulator.counters().faults;
    assert.ok(faults.commitThenDrop > 0, `no call was applied and then dropped: ${JSON.stringify(faults)}`);
    assert.match(round2, /Staged as round 2 of migration acme\./);
    assert.match(round2, / acme-round-2 COMPLETED/);
    await assertExact('after round 2');
    await assertAllCounted('acme-round-2');

    const store = await openStaging(staging, { readonly: true });
    try {
      const rounds = await store.rounds();
      assert.deepEqual(
        rounds.map((r) => [r.round, r.kind, r.state]),
        [
          [1, 'full', 'done'],
          [2, 'incremental', 'done'],
        ]
      );
      // Every kind of change was carried by a round (and so checked above); none was left out of the data.
      for (const kind of CHANGE_KINDS)
        assert.ok(
          rounds.some((r) => (r.changes[kind] ?? 0) > 0),
          `no round changed ${kind}`
        );
      // Round ops are the round's: nothing failed, nothing left pending.
      const ledger = (await store.ledgerCounts()).round!;
      assert.equal(ledger.failed ?? 0, 0);
      assert.equal(ledger.pending ?? 0, 0);
      assert.ok(ledger.done > 0);
    } finally {
      await store.close();
    }

    // status shows a round as it shows a migration: its steps with their counts.
    assert.match(await cli('status', 'acme-round-2'), /acme-round-2: COMPLETED\n[\s\S]*\nkick [\s\S]*\nverify /);

    // report lists the rounds with their records and durations.
    const report = await cli('report', staging);
    assert.match(report, /\nCatch-up rounds:\n/);
    assert.match(report, /\n {2}round 1 +full .* done /);
    assert.match(report, /\n {2}round 2 +incremental .* done /);

    // Each stage's plan is the migration's plus each round's (messages, new groups, relations and memberships the
    // ops mark, verify's new checks): it accounts for every ledger row, as on a migration without rounds.
    const unbalanced = unbalancedStages(await cli('report', staging, '--json'));
    assert.deepEqual(unbalanced, [], 'report: stages whose plan does not match their ledger');
  });

  // What a round that ignored one kind of change would leave: ZIM without that change. Undoing the change in a copy
  // of the staging instead (the values are the round's own ops) must make the checks above fail, kind by kind.
  it('would fail if a round ignored any one kind of change', async () => {
    const kinds: Record<string, (round: string) => string> = {
      register: (r) => `DELETE FROM users WHERE id IN (SELECT key FROM zm_round_ops WHERE ${r} AND op = 'register')`,
      profile: (r) => `UPDATE users SET nickname = coalesce(nickname, '') || '~', extended_data = 'x'
        WHERE id IN (SELECT key FROM zm_round_ops WHERE ${r} AND op = 'profile')`,
      unfriend: (r) => `INSERT OR IGNORE INTO friends(user, friend)
        SELECT target, key FROM zm_round_ops WHERE ${r} AND op = 'unfriend'`,
      unblock: (r) => `INSERT OR IGNORE INTO blocks(user, blocked)
        SELECT target, key FROM zm_round_ops WHERE ${r} AND op = 'unblock'`,
      friend: (r) => `DELETE FROM friends WHERE (user, friend) IN (SELECT target, key FROM zm_round_ops
        WHERE ${r} AND op = 'friend') OR (friend, user) IN (SELECT target, key FROM zm_round_ops WHERE ${r} AND op = 'friend')`,
      block: (r) => `DELETE FROM blocks WHERE (user, blocked) IN (SELECT target, key FROM zm_round_ops
        WHERE ${r} AND op = 'block')`,
      'group-data': (r) => `UPDATE groups SET name = coalesce(name, '') || '~'
        WHERE id IN (SELECT target FROM zm_round_ops WHERE ${r} AND op = 'group-data')`,
      'group-attributes': (r) => `UPDATE groups SET attributes = '{"undone":"1"}'
        WHERE id IN (SELECT target FROM zm_round_ops WHERE ${r} AND op = 'group-attributes')`,
      invite: (r) => `DELETE FROM group_members WHERE (grp, user) IN (SELECT target, key FROM zm_round_ops
        WHERE ${r} AND op = 'invite') AND role <> 'owner'`,
      transfer: (r) => `UPDATE groups SET owner = (SELECT json_extract(data, '$.actor') FROM zm_round_ops
        WHERE ${r} AND op = 'transfer' AND target = groups.id)
        WHERE id IN (SELECT target FROM zm_round_ops WHERE ${r} AND op = 'transfer')`,
      kick: (r) => `INSERT OR IGNORE INTO group_members(grp, user, role)
        SELECT target, key, 'member' FROM zm_round_ops WHERE ${r} AND op = 'kick'
        AND target IN (SELECT id FROM groups) AND key <> (SELECT owner FROM groups WHERE id = target)`,
      role: (r) => `UPDATE group_members SET role = CASE role WHEN 'admin' THEN 'member' ELSE 'admin' END
        WHERE role <> 'owner' AND (grp, user) IN (SELECT target, key FROM zm_round_ops WHERE ${r} AND op = 'role')`,
      nickname: (r) => `UPDATE group_members SET nickname = coalesce(nickname, '') || '~'
        WHERE (grp, user) IN (SELECT target, key FROM zm_round_ops WHERE ${r} AND op = 'nickname')`,
      dismiss: (r) => `INSERT OR IGNORE INTO groups(id, source_id, app, owner)
        SELECT target, target, 'app', json_extract(data, '$.actor') FROM zm_round_ops WHERE ${r} AND op = 'dismiss'`,
      'groups.created': (r) => `DELETE FROM groups WHERE id IN (SELECT id FROM zm_round_items WHERE ${r}
        AND stage = 'groups')`,
      'peer_messages.added': (r) => `UPDATE peer_messages SET body = json_set(body, '$.Message', 'undone')
        WHERE id >= (SELECT first_peer_msg FROM zm_rounds WHERE ${r})`,
      'group_messages.added': (r) => `UPDATE group_messages SET body = json_set(body, '$.Message', 'undone')
        WHERE id >= (SELECT first_group_msg FROM zm_rounds WHERE ${r})`,
    };
    const source = new Database(staging, { readonly: true });
    const copies = mkdtempSync(path.join(tmpdir(), 'undone-'));
    try {
      for (const [kind, undo] of Object.entries(kinds)) {
        const copy = path.join(copies, `${kind}.sqlite`);
        source.exec(`VACUUM INTO '${copy}'`);
        const db = new Database(copy);
        // The last round with this kind of change (earlier ones may have been changed again since).
        let changed = 0;
        for (const round of [2, 1]) {
          changed = db.prepare(undo(`round = ${round}`)).run().changes;
          if (changed > 0) break;
        }
        db.close();
        assert.ok(changed > 0, `${kind}: no change of this kind in the rounds to undo`);
        const store = await openStaging(copy, { readonly: true });
        try {
          const exact = isExact(await compareWithEmulator(store, emulator));
          const final = await compareFinalState(store, emulator);
          assert.ok(!exact || final.length > 0, `${kind}: ignoring it would go unnoticed`);
        } finally {
          await store.close();
        }
      }
    } finally {
      source.close();
    }
  });

  it('refuses a round on the wrong migration and an export older than the last round, naming the fix', async () => {
    await assert.rejects(
      cli('catch-up', staging, 'export-2', '--name', 'other'),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr, /is the staging of migration "acme", not "other".*--name acme/);
        return true;
      }
    );
    // A delta cut from the first export: its since is older than round 2's watermark.
    await cli('gen', '--evolve', 'export', '--out', 'stale', '--incremental', '--seed', '4');
    await assert.rejects(cli('catch-up', staging, 'stale'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(
        err.stderr,
        /export\.json: since .* is older than round 2's watermark .*Export the delta again with since = /
      );
      return true;
    });
  });
});
