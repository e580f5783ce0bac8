/**
 * A worker SIGKILLed with mirror sends in flight (docs/coexistence.md §3): the conversations' activities heartbeat,
 * so Temporal retries them within the 10-s heartbeat timeout rather than the 1-minute start-to-close timeout. That
 * retry can start while the dead attempt's request is still on its way, so it waits out the send lease the dead
 * attempt took before checking ZIM's tail: a send that lands late is found there and not sent again; a send that
 * never left is sent once. Real processes over real HTTP: the production worker (`zim-migrate receiver
 * --worker-only`) behind a proxy that delivers its sends late or never, a Temporal dev server, the ZIM emulator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { activityInfo } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { createCoexistActivities } from '../../activities/coexist';
import { startWorkerProcess, type WorkerProcess } from '../../src/chaos/worker-process';
import { openSqliteCoexistStore, type CoexistStore } from '../../src/coexist/coexist-store';
import { LegacyClient } from '../../src/coexist/legacy-client';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { workflowIdFor, type SyncEvent } from '../../src/coexist/sync-event';
import { startLegacyServer, type LegacyServer } from '../../src/legacy-server/server';
import { TEST_APP_ID, TEST_SECRET } from '../../src/testing/migration-rig';
import { workerProcessEnv } from '../../src/testing/worker-processes';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { syncStatsQuery } from '../../workflows/coexist';
import { startSendProxy, type SendProxy } from '../helpers/send-proxy';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';
import { waitFor } from '../helpers/wait-for';
import { registerUsers, startZimTestEnv, type ZimTestEnv } from '../helpers/zim';

const LEGACY_TOKEN = 'legacy-token-lease';
const zimApp = { appId: TEST_APP_ID, serverSecret: TEST_SECRET };
const WORKER_UP = 'zim-migrate receiver: worker only';
/** Lands 16 s after it left: past the retry's start (≤ 10 s heartbeat timeout + 1 s backoff), within the lease. */
const LATE_MS = 16_000;
/** What the old 1-minute start-to-close timeout made a dead worker's conversation wait. */
const START_TO_CLOSE_MS = 60_000;

const CASES = {
  late: { conv: 'peer:ann:bob', to: 'bob', text: 'landed late' },
  never: { conv: 'peer:ann:cy', to: 'cy', text: 'never left' },
} as const;
type Case = keyof typeof CASES;
const lidOf = (c: Case) => `lease-${c}`;
/**
 * A backlog of one conversation killed mid-batch: the five events reach the workflow together (its first task) and go
 * in one batch; bl-3's send is on its way (late) when the worker dies, bl-1 and bl-2 done before it. (The proxy
 * answers a held send never, so holding bl-1 to build the backlog would time the attempt out instead.)
 */
const BACKLOG = { conv: 'peer:ann:dee', to: 'dee', lids: ['bl-1', 'bl-2', 'bl-3', 'bl-4', 'bl-5'] } as const;
const BACKLOG_HELD = 'bl-3';

describe('a worker killed with mirror sends in flight', { timeout: 240_000 }, () => {
  let dir: string;
  let t: TemporalTestEnv;
  let zim: ZimTestEnv;
  let legacy: LegacyServer;
  let legacyClient: LegacyClient;
  let store: CoexistStore;
  let proxy: SendProxy;
  let victim: WorkerProcess | undefined;
  let logFile: string;
  let takeover: { worker: Worker; running: Promise<void> } | undefined;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'coexist-lease-'));
    logFile = path.join(dir, 'worker.log');
    store = openSqliteCoexistStore(path.join(dir, 'coexist.sqlite'));
    [t, zim, legacy] = await Promise.all([
      startTemporalTestEnv(),
      // The production worker's settings want a console-shaped secret: the rig's.
      startZimTestEnv(zimApp, zimApp),
      startLegacyServer({ apiToken: LEGACY_TOKEN, webhookSecret: 'unused' }),
    ]);
    legacyClient = new LegacyClient(legacy.url, LEGACY_TOKEN);
    await registerUsers(zim.client, ['ann', 'bob', 'cy', 'dee']);
    proxy = await startSendProxy(zim.emulator.url, {
      [lidOf('late')]: { late: LATE_MS },
      [lidOf('never')]: 'never',
      [BACKLOG_HELD]: { late: LATE_MS },
    });
  });

  after(async () => {
    if (takeover?.worker.getState() === 'RUNNING') takeover.worker.shutdown();
    await takeover?.running;
    await victim?.stop();
    await proxy?.close();
    await legacyClient?.close();
    await legacy?.close();
    await zim?.stop();
    await t?.teardown();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const zimCopies = async (c: Case) =>
    (await zim.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: CASES[c].to, Limit: 100 })).messages.filter(
      (m) => m.msgBody === CASES[c].text
    );

  it('is retried in seconds, waits out the lease, and neither doubles a late send nor loses one that never left (alone, or in a batch)', async () => {
    const taskQueue = 'coexist-lease';
    // The production worker, its ZIM calls through the proxy.
    victim = startWorkerProcess({
      env: {
        ...workerProcessEnv({
          temporalAddress: t.server.address,
          taskQueue,
          zimBaseUrl: proxy.url,
          budgetDbPath: path.join(dir, 'budgets.sqlite'),
        }),
        LEGACY_API_TOKEN: LEGACY_TOKEN,
      },
      args: [
        'receiver',
        '--worker-only',
        '--legacy-api',
        legacy.url,
        '--task-queue',
        taskQueue,
        '--store',
        path.join(dir, 'coexist.sqlite'),
      ],
      readyLine: WORKER_UP,
      logFile,
    });
    const why = () => `\nworker log:\n${readFileSync(logFile, 'utf8').slice(-3_000)}`;
    await victim.ready(120_000).catch((err: Error) => assert.fail(err.message + why()));

    // The worker that takes over, made ready now and started after the kill; it records when each attempt starts.
    const attempts: Array<{ lid: string; attempt: number; at: number }> = [];
    const batchAttempts: Array<{ lids: string[]; attempt: number }> = [];
    const acts = createCoexistActivities({ store, zim: zim.client, legacy: legacyClient });
    const worker = await Worker.create({
      connection: t.server.env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: {
        ...acts,
        mirrorToZim: (e: SyncEvent) => {
          attempts.push({ lid: e.msgId!, attempt: activityInfo().attempt, at: Date.now() });
          return acts.mirrorToZim(e);
        },
        mirrorBatch: (events: SyncEvent[]) => {
          batchAttempts.push({ lids: events.map((e) => e.msgId!), attempt: activityInfo().attempt });
          return acts.mirrorBatch(events);
        },
      },
    });

    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 1_000 }, deadlineMs: 30_000 });
    for (const c of Object.keys(CASES) as Case[])
      await handoff({
        eventKey: `lg:msg:${lidOf(c)}`,
        origin: 'legacy',
        conv: CASES[c].conv,
        kind: 'message',
        occurredAt: Date.now(),
        order: 1,
        from: 'ann',
        to: CASES[c].to,
        bodyRef: await store.putBody(CASES[c].text),
        msgId: lidOf(c),
      });
    const backlogEvent = (lid: string, i: number) =>
      store.putBody(`backlog ${lid}`).then((bodyRef): SyncEvent => ({
        eventKey: `lg:msg:${lid}`,
        origin: 'legacy',
        conv: BACKLOG.conv,
        kind: 'message',
        occurredAt: Date.now(),
        order: i + 1,
        from: 'ann',
        to: BACKLOG.to,
        bodyRef,
        msgId: lid,
      }));
    // Made first, then handed off at once: all five are in the inbox well within the first one's settle window, so
    // they go in one batch however slowly the machine hands them off one by one.
    const backlogEvents: SyncEvent[] = [];
    for (const [i, lid] of BACKLOG.lids.entries()) backlogEvents.push(await backlogEvent(lid, i));
    await Promise.all(backlogEvents.map((e) => handoff(e)));
    const bothOut = Promise.all([
      proxy.arrived(lidOf('late')),
      proxy.arrived(lidOf('never')),
      proxy.arrived(BACKLOG_HELD),
    ]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      bothOut,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no sends reached the proxy${why()}`)), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    // Both requests are on their way, each under its lease: the worker dies.
    for (const lid of [...(Object.keys(CASES) as Case[]).map(lidOf), BACKLOG_HELD])
      assert.notEqual((await store.record('legacy', lid))?.sendingAt, null, `${lid}: no lease taken`);
    // The batch's first message is done, the ones after the held one not started.
    assert.equal((await store.record('legacy', 'bl-2'))?.state, 'SENT');
    assert.equal((await store.record('legacy', 'bl-4')) ?? null, null);
    await victim.stop();
    const killedAt = Date.now();
    takeover = { worker, running: worker.run() };

    await waitFor(
      'every mirror recorded as sent',
      async () => {
        const lids = [...(Object.keys(CASES) as Case[]).map(lidOf), ...BACKLOG.lids];
        const records = await Promise.all(lids.map((lid) => store.record('legacy', lid)));
        return records.every((r) => r?.state === 'SENT');
      },
      120_000,
      async () => JSON.stringify({ attempts, records: await store.records() })
    );
    const doneAfter = Date.now() - killedAt;
    // The late send lands whatever the retry did; only then can a double show.
    await waitFor('the late send delivered', async () => proxy.deliveredAt(lidOf('late')) !== undefined, 60_000);

    for (const c of Object.keys(CASES) as Case[]) {
      const retry = attempts.find((a) => a.lid === lidOf(c));
      assert.ok(retry && retry.attempt >= 2, `${c}: the takeover ran a retry of the dead attempt`);
      const startedAfter = retry.at - killedAt;
      console.log(`${c}: retried ${startedAfter} ms after the kill`);
      // The heartbeat timeout (10 s) and the first backoff (1 s) decide it, not the 1-minute start-to-close timeout.
      assert.ok(startedAfter < START_TO_CLOSE_MS / 2, `${c}: retried only ${startedAfter} ms after the kill`);
      const copies = await zimCopies(c);
      assert.equal(copies.length, 1, `${c}: exactly one copy in ZIM (${copies.length})`);
      assert.equal((await store.record('legacy', lidOf(c)))?.targetId, copies[0]!.msgId);
    }
    console.log(`both settled ${doneAfter} ms after the kill`);
    // The late send landed while the retry waited out its lease, and the tail check found it.
    assert.ok(
      proxy.deliveredAt(lidOf('late'))! - killedAt < doneAfter,
      'the late send landed before the retry settled'
    );
    const stats = async (c: Case) => t.client.workflow.getHandle(workflowIdFor(CASES[c].conv)).query(syncStatsQuery);
    const late = await stats('late');
    const never = await stats('never');
    assert.deepEqual([late.mirroredToZim, late.resolvedByTail], [1, 1]);
    assert.deepEqual([never.mirroredToZim, never.resolvedByTail], [1, 0]);

    // The batch: its retry resumed at the held message (the one done before it counted as this batch's own send),
    // waited out that lease and found the late send, then sent the rest: each once, in order.
    await waitFor('the late batch send delivered', async () => proxy.deliveredAt(BACKLOG_HELD) !== undefined, 60_000);
    const retried = batchAttempts.find((b) => b.lids.includes(BACKLOG_HELD));
    assert.ok(retried && retried.attempt >= 2, `the takeover retried the batch: ${JSON.stringify(batchAttempts)}`);
    console.log(`the batch retried: ${retried.lids.join(' ')}`);
    // bl-1 leads it too when all five reached the workflow's first task (bl-1 may have gone alone otherwise).
    assert.deepEqual(retried.lids.slice(-4), ['bl-2', 'bl-3', 'bl-4', 'bl-5']);
    const inZim = await zim.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: BACKLOG.to, Limit: 100 });
    assert.deepEqual(
      inZim.messages.map((m) => m.msgBody).reverse(),
      BACKLOG.lids.map((lid) => `backlog ${lid}`),
      'each once, in order'
    );
    const backlog = await t.client.workflow.getHandle(workflowIdFor(BACKLOG.conv)).query(syncStatsQuery);
    assert.deepEqual([backlog.mirroredToZim, backlog.resolvedByTail, backlog.alreadyMirrored], [5, 1, 0]);
  });
});
