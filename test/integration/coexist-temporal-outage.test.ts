/**
 * Temporal down while callbacks arrive (coexistence.md §5.10): the receiver answers 503 instead of accepting what
 * it cannot hand off, ZEGO's retries (the emulator's, shortened) carry each callback across the outage, and when the
 * server is back on its database file every message reaches its conversation's workflow exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { mirrorInTurn, type CoexistActivities } from '../../activities/coexist';
import type { CoexistStore } from '../../src/coexist/coexist-store';
import { openCoexistStore } from '../../src/coexist/open-coexist-store';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { startCoexistReceiver } from '../../src/coexist/receiver/start';
import { startReceiver, type Receiver } from '../../src/coexist/receiver/receiver';
import { startDevServer, type DevServer } from '../../src/dev-server/start-dev-server';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { syncStatsQuery } from '../../workflows/coexist';
import { APP_ID, registerUsers, SECRET, startZimTestEnv, type ZimTestEnv } from '../helpers/zim';
import { installWorkerLogger } from '../../src/worker/worker-logger';

const mirrored: string[] = [];
const activities: CoexistActivities = {
  mirrorToZim: async () => 'sent',
  mirrorToLegacy: async (e) => {
    mirrored.push(e.msgId!);
    return 'sent';
  },
  mirrorBatch: (events) =>
    mirrorInTurn(events, (e) => (e.origin === 'legacy' ? activities.mirrorToZim(e) : activities.mirrorToLegacy(e))),
  confirmEcho: async () => 'known',
  applyGroup: async () => 'applied',
  park: async () => {},
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('Temporal down while callbacks arrive', { timeout: 180_000 }, () => {
  let dir: string;
  let port: number;
  let server: DevServer | undefined;
  let zim: ZimTestEnv;
  let receiver: Receiver;
  let connection: Connection;
  let native: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;

  before(async () => {
    installWorkerLogger('ERROR');
    dir = mkdtempSync(path.join(tmpdir(), 'coexist-outage-'));
    port = await freePort();
    server = await startDevServer({ dbFilename: path.join(dir, 'temporal.db'), port });
    connection = await Connection.connect({ address: server.address });
    native = await NativeConnection.connect({ address: server.address });
    worker = await Worker.create({
      connection: native,
      taskQueue: 'coexist-outage',
      workflowBundle: await workflowBundle(),
      activities,
    });
    running = worker.run();
    zim = await startZimTestEnv();
    receiver = await startReceiver({
      zim: { appId: APP_ID, callbackSecret: SECRET },
      legacy: { webhookSecret: 'unused', echoWays: ['clientMsgId'] },
      putBody: async () => 'b:ref',
      handoff: temporalHandoff(new Client({ connection }), {
        taskQueue: 'coexist-outage',
        deadlineMs: 1_000,
        workflowInput: { settleMs: 100 },
      }),
      log: () => {},
    });
    await registerUsers(zim.client, ['ann', 'bob']);
    zim.emulator.callbacks.configure({
      url: `${receiver.url}/zim/callback`,
      // ZEGO's schedule, a quarter as long: 0.5, 1, 2, 4, 8 s (15.5 s in all).
      retryDelaysMs: [500, 1_000, 2_000, 4_000, 8_000],
      attemptTimeoutMs: 2_000,
    });
  });
  after(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => {});
    await receiver?.close();
    await zim?.stop();
    await native?.close();
    await connection?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 during the outage, and every message arrives once after it', async () => {
    const send = (i: number) => zim.emulator.sdk.send({ from: 'ann', to: 'bob', body: `m${i}` });
    for (let i = 0; i < 3; i++) send(i);
    await zim.emulator.callbacks.idle();
    await server!.stop();
    server = undefined;
    for (let i = 3; i < 8; i++) send(i);
    // Down for 4 s, shorter than the retry horizon.
    await new Promise((r) => setTimeout(r, 4_000));
    server = await startDevServer({ dbFilename: path.join(dir, 'temporal.db'), port });
    await zim.emulator.callbacks.idle();

    const handle = new Client({ connection }).workflow.getHandle('coexist:peer:ann:bob');
    const end = Date.now() + 60_000;
    while (mirrored.length < 8 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok((receiver.counts['answered.503'] ?? 0) > 0, 'the receiver refused what it could not hand off');
    assert.deepEqual(zim.emulator.callbacks.deliveries({ outcome: 'dropped' }), [], 'no callback ran out of retries');
    assert.equal(zim.emulator.callbacks.deliveries({ outcome: 'delivered' }).length, 8);
    const retried = zim.emulator.callbacks.deliveries().filter((d) => d.attempts.length > 1);
    assert.ok(retried.length > 0, 'callbacks were retried across the outage');
    assert.equal(mirrored.length, 8, `mirrored ${mirrored.length}`);
    assert.equal(new Set(mirrored).size, 8, 'each once');
    assert.equal((await handle.query(syncStatsQuery)).mirroredToLegacy, 8);
  });
});

/**
 * A receiver of a sync (`receiver --sync NAME`, as operators run it) first reads the sync by describe: whether it
 * still takes events, and the import's handoff. With Temporal down that read must fail within the hand-off's
 * deadline too, so the sender gets its 503 before its own attempt timeout (ZEGO's, UNCONFIRMED at 3 s) instead of
 * a request held until the client's retries give up (about 20 s).
 */
describe('Temporal down: a receiver of a sync answers 503 within the attempt timeout', { timeout: 180_000 }, () => {
  let dir: string;
  let server: DevServer | undefined;
  let zim: ZimTestEnv;
  let store: CoexistStore;
  let receiver: Receiver;
  let connection: Connection;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'coexist-outage-sync-'));
    const port = await freePort();
    server = await startDevServer({ dbFilename: path.join(dir, 'temporal.db'), port });
    connection = await Connection.connect({ address: server.address });
    store = await openCoexistStore(path.join(dir, 'coexist.sqlite'));
    receiver = await startCoexistReceiver({
      port: 0,
      host: '127.0.0.1',
      taskQueue: 'coexist-outage-sync',
      zim: { appId: APP_ID, callbackSecret: SECRET },
      legacyWebhookSecret: 'unused',
      echoWays: ['clientMsgId'],
      store,
      client: new Client({ connection }),
      syncName: 'outage',
    });
    zim = await startZimTestEnv();
    await registerUsers(zim.client, ['ann', 'bob']);
    zim.emulator.callbacks.configure({
      url: `${receiver.url}/zim/callback`,
      retryDelaysMs: [],
      // ZEGO's is 3 s (UNCONFIRMED); twice that leaves a loaded machine room, and is still far below the ~20 s
      // a read held by the client's retries takes.
      attemptTimeoutMs: 6_000,
    });
  });
  after(async () => {
    await receiver?.close();
    await zim?.stop();
    await connection?.close();
    await server?.stop();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503, not a timeout, while the server is down', async () => {
    await server!.stop();
    server = undefined;
    const sent = Date.now();
    zim.emulator.sdk.send({ from: 'ann', to: 'bob', body: 'during the outage' });
    await zim.emulator.callbacks.idle();
    const tookMs = Date.now() - sent;
    const attempts = zim.emulator.callbacks.deliveries().map((d) => d.attempts);
    assert.deepEqual(attempts, [[503]], `one attempt, refused with 503 (after ${tookMs} ms)`);
  });
});
