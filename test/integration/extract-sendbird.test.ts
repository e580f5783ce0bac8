/**
 * Sendbird → export, on a real Temporal dev server: the Platform API route against the emulator (rate limited, so
 * 429s happen) and the export-file route from a zip, each compared record by record with the emulator's workspace;
 * then the export goes through `zim-migrate validate` and `plan` as it is.
 *
 * The API extraction runs first (it alone uses the suite's emulator, whose requests it counts); the tests that build
 * on it then run side by side: each has its own emulator or none, its own worker and task queue, its own output
 * folder, and runs every CLI asynchronously, since this process serves the emulators and workers of all of them.
 * The CLI test, with an emulator of its own, runs beside all of them from the start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createExtractActivities } from '../../activities/extract';
import { exportZip } from '../../src/sendbird-emulator/export-files';
import { startSendbirdEmulator, type SendbirdEmulator } from '../../src/sendbird-emulator/server';
import { generateWorkspace } from '../../src/sendbird-emulator/workspace';
import { projectRoot } from '../../src/shared/project-root';
import { DEFAULT_MAPPING } from '../../src/sources/sendbird/mapping';
import type { SendbirdExtractConfig } from '../../src/sources/sendbird/units';
import type { extractWorkflow } from '../../workflows/extract';
import { tempDir } from '../helpers/exports';
import { openStaging } from '../../src/staging';
import { compareWithEmulator, isExact } from '../../src/testing/exact-state';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import {
  assertMatchesWorkspace,
  assertReadStatesMatchWorkspace,
  assertSameExport,
  assertZimMatchesWorkspace,
} from '../helpers/sendbird';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const TOKEN = 'test-token-0123456789';

function runCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'zim-migrate.js'), ...args], {
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (status) => resolve({ status, stdout, stderr }))
  );
}

const cli = async (...args: string[]) => {
  const r = await runCli(args, {});
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('extract sendbird (Temporal workflow)', { concurrency: true }, () => {
  let t: TemporalTestEnv;
  let emulator: SendbirdEmulator;
  const ws0 = Date.now() - 10 * 86_400_000;
  // 2,000 messages keep every size check below well met (seed 7: 290 DM copies, 1,275 group messages, 19 groups,
  // 349 read positions, 264 cleared and 26 inexact) in half the time of 4,000.
  const ws = generateWorkspace({ seed: 7, users: 260, messages: 2000, startMs: ws0 });
  const root = tempDir('extract-sb');
  /** Set by the Platform API extraction: the tests after it read its export, and without it they would hang. */
  let apiExtracted = false;

  before(async () => {
    t = await startTemporalTestEnv();
    // Every 40th request answers 429 too: the limit alone is exceeded only when this machine can send 150/s, and a
    // loaded one cannot.
    emulator = await startSendbirdEmulator({
      workspace: ws,
      apiToken: TOKEN,
      rateLimit: 150,
      faults: { tooManyEvery: 40 },
    });
  });
  after(async () => {
    await emulator?.close();
    await t?.teardown();
  });

  // One after the other (a nested suite inherits its parent's concurrency otherwise): the tests below read its export.
  describe('the Platform API extraction, then what builds on it', { concurrency: 1 }, () => {
    it('extracts through the Platform API: every user, DM, group, member role, message and block; validate and plan take it', async () => {
      // The worker paces itself above the emulator's limit, so 429s with Retry-After must be absorbed.
      const worker = await t.createWorker({
        activities: createExtractActivities({ apiToken: TOKEN, requestsPerSecond: 400 }),
      });
      try {
        const out = path.join(root, 'api');
        const config: SendbirdExtractConfig = {
          outDir: out,
          route: { kind: 'api', baseUrl: emulator.url },
          mapping: DEFAULT_MAPPING,
          blocks: true,
        };
        const handle = await t.client.workflow.start<typeof extractWorkflow>('extractWorkflow', {
          taskQueue: worker.taskQueue,
          workflowId: 'extract-api',
          args: [{ config, concurrency: 4, unitsPerRun: 25 }],
        });
        const summary = await handle.result();
        assert.ok(emulator.stats.tooMany > 0, 'the emulator answered 429 at least once');
        const counts = assertMatchesWorkspace(out, ws, { blocks: true });
        assert.equal(summary.peerMessages, counts.peerMessages);
        assert.equal(summary.groupMessages, counts.groupMessages);
        assert.equal(summary.readStates, counts.readStates);
        assert.ok(summary.mappedIds > 20, 'long and odd ids were mapped');
        assert.ok(
          summary.report['message.removed']!.count > 0 && summary.report['channel.open-not-extracted']!.count === 2
        );
        // The API token never reaches Temporal's history.
        const history = JSON.stringify(await handle.fetchHistory());
        assert.ok(!history.includes(TOKEN), 'the token is not in the workflow history');
        // No request was made twice (no unit fetched twice).
        const repeated = [...emulator.stats.byRequest].filter(([, n]) => n > 1);
        assert.deepEqual(repeated, []);

        const rejects = path.join(root, 'rejects.ndjson');
        const v = await cli('validate', out, '--rejects', rejects, '--json');
        assert.equal(v.code, 0, v.out + v.err);
        const result = JSON.parse(v.out) as {
          errors: number;
          warnings: number;
          rules: { rule: string; count: number }[];
        };
        assert.equal(result.errors, 0);
        // The only warnings: read positions before newer messages, which ZIM cannot set (docs/import-format.md).
        assert.deepEqual(
          result.rules.map((r) => r.rule),
          ['read.partial'],
          readFileSync(rejects, 'utf8').slice(0, 2000)
        );
        assert.equal(result.warnings, result.rules[0]!.count);
        assert.ok(summary.readStates > result.warnings, 'most read positions are importable');
        assert.ok(summary.report['read-state.supergroup']!.count > 0, 'supergroups are reported without read receipts');
        const plan = await cli('plan', out, '--out', path.join(root, 'api.sqlite'), '--rejects', rejects, '--json');
        assert.equal(plan.code, 0, plan.err);
        apiExtracted = true;
      } finally {
        await worker.stop();
      }
    });

    describe('then side by side', { concurrency: true }, () => {
      before(() =>
        assert.ok(apiExtracted, 'not run: the Platform API extraction above failed, and each test reads it')
      );
      it('migrates the extracted export into the ZIM emulator and verifies it: ZIM holds the Sendbird workspace', async () => {
        const out = path.join(root, 'api'); // extracted by the first test
        const stagingPath = path.join(root, 'api.sqlite');
        const zim = await startFastEmulator();
        // Imported messages count as unread (UNCONFIRMED in ZIM): only then does a read position change anything.
        zim.configure({ behaviour: { importRaisesUnread: true } });
        try {
          const result = await migrateIntoEmulator({
            connection: t.server.env.nativeConnection,
            client: t.client,
            emulator: zim,
            stagingPath,
            migrationId: 'sendbird-api',
            budgets: FAST_BUDGETS,
          });
          assert.equal(result.status, 'completed');
          for (const stage of result.stages) assert.equal(stage.failed, 0, `${stage.stage} failed ${stage.failed}`);
          const verify = result.stages.find((s) => s.stage === 'verify');
          assert.equal(verify?.status, 'done');
          const store = await openStaging(stagingPath);
          const exactness = await compareWithEmulator(store, zim);
          await store.close();
          assert.ok(isExact(exactness), JSON.stringify(exactness));
          // Against the Sendbird workspace itself, not through the export or the staging.
          const checked = assertZimMatchesWorkspace(zim, out, ws);
          assert.ok(
            checked.dmCopies > 100 && checked.groupMessages > 100 && checked.groups > 5,
            JSON.stringify(checked)
          );
          // Frozen channels: muted after their history, one MuteGroup each, counted in the plan and checked by verify.
          assert.ok(checked.mutedGroups >= 2, JSON.stringify(checked));
          assert.equal(zim.counters().succeeded.MuteGroup, checked.mutedGroups);
          assert.equal(zim.counters().succeeded.QueryGroupInfo, checked.mutedGroups);
          const groupMessages = result.stages.find((s) => s.stage === 'group-messages')!;
          assert.equal(groupMessages.done, groupMessages.planned);
          // Read positions: one ClearConversationUnread per importable one, after the histories; every reader's unread
          // count in ZIM is Sendbird's where ZIM can express it, and what the import left where it cannot.
          const readState = result.stages.find((s) => s.stage === 'read-state')!;
          assert.ok(readState.planned > 50, JSON.stringify(readState));
          assert.equal(readState.done, readState.planned);
          assert.equal(zim.counters().succeeded.ClearConversationUnread, readState.planned);
          const reads = assertReadStatesMatchWorkspace(zim, out, ws);
          assert.ok(reads.cleared > 50 && reads.inexact > 0, JSON.stringify(reads));
          // The report lists each deactivated user with their outcome (ZIM has no deactivation API).
          const r = await runCli(['report', stagingPath, '--json'], { TEMPORAL_ADDRESS: t.server.address });
          assert.equal(r.status, 0, r.stderr);
          const { deactivatedUsers } = JSON.parse(r.stdout) as {
            deactivatedUsers: { note: string; users: { user: string; registered: string }[] };
          };
          const idMap = new Map(
            readFileSync(path.join(out, 'id-map.ndjson'), 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as { kind: string; source: string; zim: string })
              .filter((e) => e.kind === 'user')
              .map((e) => [e.source, e.zim])
          );
          const expected = ws.users.filter((u) => !u.is_active).map((u) => idMap.get(u.user_id) ?? u.user_id);
          assert.ok(expected.length > 0);
          assert.deepEqual(deactivatedUsers.users.map((u) => u.user).sort(), expected.sort());
          assert.ok(deactivatedUsers.users.every((u) => u.registered === 'done'));
          assert.match(deactivatedUsers.note, /no API to deactivate/);
          const text = await runCli(['report', stagingPath], { TEMPORAL_ADDRESS: t.server.address });
          assert.match(
            text.stdout,
            new RegExp(`\\nDeactivated users: ${expected.length} \\(${expected.length} registered in ZIM\\)`)
          );
        } finally {
          await zim.stop();
        }
      });

      it('extracts a data-export zip (the §1.2 file shapes) to the same records, blocks aside', async () => {
        const zip = path.join(root, 'sendbird-export.zip');
        writeFileSync(zip, await exportZip(ws));
        const worker = await t.createWorker({ activities: createExtractActivities({ requestsPerSecond: 10 }) });
        const out = path.join(root, 'zip');
        const config: SendbirdExtractConfig = {
          outDir: out,
          route: { kind: 'export', path: zip },
          mapping: DEFAULT_MAPPING,
          blocks: true,
        };
        const summary = await t.client.workflow.execute<typeof extractWorkflow>('extractWorkflow', {
          taskQueue: worker.taskQueue,
          workflowId: 'extract-zip',
          args: [{ config, concurrency: 4 }],
        });
        assertMatchesWorkspace(out, ws, { blocks: false });
        assert.equal(summary.blocks, 0);
        // The same ids as the API route: the id map is deterministic.
        assert.equal(
          readFileSync(path.join(out, 'id-map.ndjson'), 'utf8'),
          readFileSync(path.join(root, 'api', 'id-map.ndjson'), 'utf8')
        );
        const v = await cli('validate', out, '--rejects', path.join(root, 'zip-rejects.ndjson'));
        assert.equal(v.code, 0, v.out + v.err);
        await worker.stop();
      });

      it('extracts through data export jobs (windows of 7 days, expired links asked again) to the same records as the API route', async () => {
        // Its own emulator: jobs take a moment (scheduled, exporting), the first downloads meet an expired link.
        const sb = await startSendbirdEmulator({
          workspace: ws,
          apiToken: TOKEN,
          rateLimit: 150,
          exportJobMs: 600,
          faults: { expireDownloads: 3 },
        });
        const worker = await t.createWorker({
          activities: createExtractActivities({ apiToken: TOKEN, requestsPerSecond: 100 }),
        });
        try {
          const out = path.join(root, 'jobs');
          // Users were created up to 30 days before the first channel; --from reaches back past them.
          const fromMs = Math.floor((ws0 - 31 * 86_400_000) / 86_400_000) * 86_400_000;
          const toMs = Math.ceil((Date.now() + 86_400_000) / 86_400_000) * 86_400_000;
          const config: SendbirdExtractConfig = {
            outDir: out,
            route: { kind: 'export-jobs', baseUrl: sb.url, fromMs, toMs, windowDays: 7, pollMs: 150 },
            mapping: DEFAULT_MAPPING,
            blocks: true,
          };
          const handle = await t.client.workflow.start<typeof extractWorkflow>('extractWorkflow', {
            taskQueue: worker.taskQueue,
            workflowId: 'extract-jobs',
            args: [{ config, concurrency: 4 }],
          });
          const summary = await handle.result();
          const windows = Math.ceil((toMs - fromMs) / (7 * 86_400_000));
          // One job per data type and window, each created once; messages jobs never span more than 7 days.
          assert.equal(sb.stats.exportJobsCreated.size, 3 * windows);
          assert.ok(
            [...sb.stats.exportJobsCreated.values()].every((n) => n === 1),
            JSON.stringify([...sb.stats.exportJobsCreated])
          );
          // The expired links were asked again, and every finished job's file was downloaded exactly once.
          assert.equal(sb.stats.expiredFileUrls, 3);
          const unpacked = readdirSync(path.join(out, '.extract', 'export-jobs'));
          assert.ok(unpacked.length >= 4 && unpacked.length < 3 * windows, `${unpacked.length} jobs had data`);
          assert.equal(sb.stats.exportDownloads, unpacked.length);
          assertMatchesWorkspace(out, ws, { blocks: true });
          const same = assertSameExport(path.join(root, 'api'), out);
          assert.ok(same.records > 3000, JSON.stringify(same));
          assert.equal(
            summary.peerMessages + summary.groupMessages,
            readdirSync(out)
              .filter((f) => /_messages\./.test(f))
              .reduce((n, f) => n + readFileSync(path.join(out, f), 'utf8').split('\n').filter(Boolean).length, 0)
          );
          const history = JSON.stringify(await handle.fetchHistory());
          assert.ok(!history.includes(TOKEN), 'the token is not in the workflow history');
          assert.ok(!history.includes('sig='), 'no signed file link is kept in the workflow history');
          const v = await cli('validate', out, '--rejects', path.join(root, 'jobs-rejects.ndjson'), '--json');
          assert.equal(v.code, 0, v.out + v.err);
          assert.equal((JSON.parse(v.out) as { errors: number }).errors, 0);
        } finally {
          await worker.stop();
          await sb.close();
        }
      });

      it('a failed export job fails the extraction naming the job and the fix; the rerun asks for a new job', async () => {
        const sb = await startSendbirdEmulator({
          workspace: ws,
          apiToken: TOKEN,
          exportJobMs: 200,
          faults: { failExportJobs: [2] },
        });
        const worker = await t.createWorker({
          activities: createExtractActivities({ apiToken: TOKEN, requestsPerSecond: 100 }),
        });
        try {
          const out = path.join(root, 'jobs-failed');
          const day = 86_400_000;
          const fromMs = Math.floor((ws0 - 31 * day) / day) * day;
          const config: SendbirdExtractConfig = {
            outDir: out,
            route: { kind: 'export-jobs', baseUrl: sb.url, fromMs, toMs: fromMs + 14 * day, windowDays: 7, pollMs: 50 },
            mapping: DEFAULT_MAPPING,
            blocks: false,
          };
          const run = (id: string) =>
            t.client.workflow.execute<typeof extractWorkflow>('extractWorkflow', {
              taskQueue: worker.taskQueue,
              workflowId: id,
              args: [{ config, concurrency: 1 }],
            });
          await assert.rejects(run('extract-jobs-failed-1'), (err: Error) => {
            // WorkflowFailedError ← ActivityFailure ← ApplicationFailure (ours).
            const cause = String((err as { cause?: { cause?: Error } }).cause?.cause?.message);
            assert.match(
              cause,
              /the users export \S+ \.\. \S+ \(Sendbird request_id users-2-\w+\) failed in Sendbird\. Run the extraction again/
            );
            return true;
          });
          // The first window's job is kept (done), the failed one forgotten: the rerun creates only that one again.
          await run('extract-jobs-failed-2');
          const created = [...sb.stats.exportJobsCreated];
          const users = created.filter(([k]) => k.startsWith('users '));
          assert.deepEqual(
            users.map(([, n]) => n),
            [1, 2],
            JSON.stringify(created)
          );
        } finally {
          await worker.stop();
          await sb.close();
        }
      });
    });
  });

  it('runs from the CLI with an embedded worker: token from the environment, the id map announced loudly', async () => {
    // Its own emulator: the API extraction counts the requests the suite's one answers.
    const sb = await startSendbirdEmulator({ workspace: ws, apiToken: TOKEN, rateLimit: 150 });
    try {
      const out = path.join(root, 'cli');
      // Asynchronously: the emulator answers from this process, which spawnSync would block.
      const r = await runCli(
        [
          'extract',
          'sendbird',
          '--api',
          sb.url,
          '--out',
          out,
          '--embedded-worker',
          '--requests-per-second',
          '300',
          '--task-queue',
          'extract-cli',
        ],
        { TEMPORAL_ADDRESS: t.server.address, SENDBIRD_API_TOKEN: TOKEN }
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /IMPORTANT: \d+ Sendbird ids do not fit ZIM.*\n.*id-map\.ndjson.*MUST log these users in/);
      assert.ok(!(r.stdout + r.stderr).includes(TOKEN), 'the token is never printed');
      assertMatchesWorkspace(out, ws, { blocks: true });
      const bad = await cli('extract', 'sendbird', '--out', out);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /exactly one source/);
      const noFrom = await cli('extract', 'sendbird', '--out', out, '--app-id', 'abc', '--export-jobs');
      assert.equal(noFrom.code, 2);
      assert.match(noFrom.err, /--export-jobs needs .*--from DATE: the day your Sendbird app was created/);

      // The export-jobs route from the CLI: dates as days, polling in fractions of a second.
      const day = 86_400_000;
      const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const jobsOut = path.join(root, 'cli-jobs');
      const j = await runCli(
        [
          'extract',
          'sendbird',
          '--api',
          sb.url,
          '--export-jobs',
          '--from',
          iso(ws0 - 31 * day),
          '--to',
          iso(Date.now() + 2 * day),
          '--poll-seconds',
          '0.2',
          '--out',
          jobsOut,
          '--embedded-worker',
          '--requests-per-second',
          '300',
          '--task-queue',
          'extract-cli-jobs',
        ],
        { TEMPORAL_ADDRESS: t.server.address, SENDBIRD_API_TOKEN: TOKEN }
      );
      assert.equal(j.status, 0, j.stderr);
      assert.ok(!(j.stdout + j.stderr).includes(TOKEN), 'the token is never printed');
      assertMatchesWorkspace(jobsOut, ws, { blocks: true });
    } finally {
      await sb.close();
    }
  });
});
