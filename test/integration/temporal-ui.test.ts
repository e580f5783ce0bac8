/**
 * The Temporal UI as an operator sees it: a real dev server serving its UI, a migration into the emulator, and
 * headless Chromium opening the migration's page. Needs Chromium: without it this test fails (never skips) with
 * the command that installs it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { STAGES } from '../../src/shared/stages';
import { thousands } from '../../src/shared/ui-metadata';
import { pauseSignal, progressQuery, resumeSignal, workflowIds } from '../../src/shared/workflow-api';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { requireChromium } from '../../src/ui-screenshot/chromium';
import { captureWorkflowPage } from '../../src/ui-screenshot/workflow-page';
import { freePort } from '../../src/dev-server/dev-server-process';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MIGRATION = 'ui-check';

describe('the Temporal UI shows a migration', () => {
  let t: TemporalTestEnv | undefined;
  after(async () => {
    await t?.teardown();
  });

  it('renders its id, summary and live progress table in Chromium; children carry one-line summaries', async () => {
    // Inside the test, not in a hook: a missing browser then counts as a failed test (not a cancelled one) and
    // fails at once, before the slow setup, with the command that installs it.
    requireChromium();
    const shots = mkdtempSync(path.join(tmpdir(), 'temporal-ui-'));
    let staging: Awaited<ReturnType<typeof buildStaging>>;
    [t, staging] = await Promise.all([
      startTemporalTestEnv({ ui: true, uiPort: await freePort() }),
      buildStaging(12, 3),
    ]);
    const uiUrl = t.server.uiUrl;
    assert.ok(uiUrl, 'the dev server did not report a UI URL');
    const client = t.client;
    const emulator = await startFastEmulator();
    const migrationId = workflowIds.migration(MIGRATION);
    let finalDetails = '';
    const owners: string[] = [];
    const continued: string[] = [];
    const currentDetails = async (workflowId: string) =>
      (await client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata'))
        .currentDetails ?? '';
    try {
      const result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client,
        emulator,
        stagingPath: staging.fresh(),
        migrationId: MIGRATION,
        budgets: FAST_BUDGETS,
        // Owners continue as new every 8 steps: a continued run must still say what it is. (Every 2 steps, the
        // migration after the pause took 20 s of the test's 57, in new runs.)
        input: { tuning: { maxStepsPerChildRun: 8 } },
        during: async (handle, em) => {
          // Pause mid-way through one-to-one history, so the page shows a state that holds still.
          while ((em.counters().calls.ImportPeerMsg ?? 0) < 5) await sleep(20);
          await handle.signal(pauseSignal, { reason: 'UI check <b>|' });
          // Reports already on their way may still move the counts: wait until two readings 3 s apart agree.
          let before = '';
          for (;;) {
            const now = JSON.stringify((await handle.query(progressQuery)).stages.map((s) => [s.status, s.done]));
            if (now === before) break;
            before = now;
            await sleep(3_000);
          }

          const page = await captureWorkflowPage({
            uiUrl,
            namespace: 'default',
            workflowId: migrationId,
            outPath: path.join(shots, 'migration.png'),
            waitForText: ['PAUSED'],
          });
          console.log(`Temporal UI screenshot: ${page.outPath}`);
          assert.ok(page.text.includes(migrationId), 'the workflow id is not on the page');
          assert.match(page.text, /ZIM migration ui-check/, 'static summary');
          assert.match(page.text, /Stages: accounts → profiles/, 'static details');
          // Operator text is shown as text, never as markup.
          assert.match(page.text, /Paused: UI check <b>\|/, 'pause reason');
          const progress = await handle.query(progressQuery);
          for (const s of progress.stages) {
            const row = [s.stage, s.status, s.planned, s.done, s.failed, s.skipped].map((v) =>
              typeof v === 'number' ? thousands(v) : v
            );
            assert.match(page.text, new RegExp(row.join('\\s+')), `row of ${s.stage}`);
          }
          assert.deepEqual(
            progress.stages.map((s) => s.stage),
            [...STAGES]
          );
          assert.ok(
            progress.stages.some((s) => s.stage === 'peer-messages' && s.status === 'paused'),
            'peer-messages should show paused while the migration is'
          );
          // Paused migrations are found by their search attribute (visibility lags a moment behind).
          const pausedQuery = `ZimMigrationStatus="paused" AND ZimMigrationId="${MIGRATION}"`;
          let found: string[] = [];
          for (let i = 0; i < 50 && found.length === 0; i++) {
            found = [];
            for await (const wf of client.workflow.list({ query: pausedQuery })) found.push(wf.workflowId);
            if (found.length === 0) await sleep(200);
          }
          assert.deepEqual(found, [migrationId], `${pausedQuery} finds the paused migration`);

          const stagePage = await captureWorkflowPage({
            uiUrl,
            namespace: 'default',
            workflowId: workflowIds.stage(MIGRATION, 'peer-messages'),
            outPath: path.join(shots, 'stage-peer-messages.png'),
            waitForText: ['Stage peer-messages of ZIM migration ui-check'],
          });
          assert.ok(stagePage.text.includes('Stage peer-messages of ZIM migration ui-check'));

          await handle.signal(resumeSignal);
          await handle.result();
          // The worker still runs (it stops after `during`), so the built-in metadata query is answered.
          finalDetails = await currentDetails(handle.workflowId);

          // Every owner's child names its owner, continued runs too; found through the ZimMigrationId attribute.
          for await (const wf of client.workflow.list({
            query: `ZimMigrationId="${MIGRATION}" AND WorkflowType="entitySequenceWorkflow"`,
          })) {
            const owner = wf.workflowId.split('/peer/')[1];
            if (!owner) continue; // a group's child
            const summary = `One-to-one history of owner ${owner} (migration ${MIGRATION})`;
            const staticSummary = await (await client.workflow.getHandle(wf.workflowId).describe()).staticSummary();
            const details = await currentDetails(wf.workflowId);
            assert.ok(details.replace(/\\(.)/g, '$1').includes(summary), `${wf.workflowId}: ${details}`);
            if (/Continued from an earlier run/.test(details)) continued.push(wf.workflowId);
            else assert.equal(staticSummary, summary);
            owners.push(owner);
          }
          assert.ok(owners.length > 0, 'no owner children found by ZimMigrationId');
          assert.ok(continued.length > 0, 'no owner continued as new');
          // A continued owner's page shows what it is, although Temporal keeps no summary for that run.
          const ownerPage = await captureWorkflowPage({
            uiUrl,
            namespace: 'default',
            workflowId: continued[0]!,
            outPath: path.join(shots, 'continued-owner.png'),
            waitForText: ['Continued from an earlier run'],
          });
          assert.ok(ownerPage.text.includes(`One-to-one history of owner ${continued[0]!.split('/peer/')[1]}`));
        },
      });
      assert.equal(result.status, 'completed');
      assert.match(
        finalDetails,
        new RegExp(`^\\*\\*COMPLETED\\*\\* · ${STAGES.length} of ${STAGES.length} stages finished`)
      );
      assert.doesNotMatch(finalDetails, /Paused/);
    } finally {
      await emulator.stop();
    }
  });
});
