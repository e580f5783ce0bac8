/**
 * `zim-migrate dev --coexist`: after the historical import, the rehearsal runs two-way coexistence against its ZIM
 * emulator. It starts the reference legacy server, a receiver (the emulator's callbacks pointed at it) and a worker
 * for the conversation workflows, all in this process, starts sync "rehearsal", and drives traffic on both sides
 * at once: App 1.0 users sending through the legacy server, App 2.0 users through the emulator's SDK actor,
 * one-to-one and in a group. Then it stops the sync (drain, close every conversation) and compares both sides
 * conversation by conversation: every message sent on one side must be on the other exactly once, and never come
 * back to its own side. Everything it starts it stops, whatever happens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { openSqliteCoexistStore, type CoexistStore } from '../coexist/coexist-store';
import { LegacyClient } from '../coexist/legacy-client';
import type { Receiver } from '../coexist/receiver/receiver';
import {
  checkLegacyAdapter,
  createCoexistWorker,
  DEFAULT_COEXIST_TASK_QUEUE,
  startCoexistReceiver,
} from '../coexist/receiver/start';
import { startSync, stopSync, syncStatus } from '../coexist/sync-control';
import { startLegacyServer, type LegacyServer } from '../legacy-server/server';
import { SqliteCallScheduler } from '../rate-limit/call-scheduler';
import {
  compareSides,
  deliverToReceiver,
  ECHO_GRACE_MS,
  readSides,
  registerBothSides,
  sendTraffic,
  waitForBothSides,
  type CoexistCheck,
  type CoexistSides,
} from '../testing/coexist-traffic';
import { renderSyncStatus } from './commands/coexist';

export const COEXIST_SYNC = 'rehearsal';
/** How long the traffic may take to reach the other side before the check runs anyway. */
const SETTLE_TIMEOUT_MS = 120_000;

export interface DevCoexistOptions {
  client: Client;
  temporalAddress: string;
  zimUrl: string;
  appId: number;
  serverSecret: string;
  dir: string;
  /** Rounds of traffic: each sends one message per conversation from each side. */
  rounds: number;
  say: (line: string) => void;
  signal: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export async function rehearseCoexistence(o: DevCoexistOptions): Promise<CoexistCheck> {
  const stops: Array<() => Promise<unknown>> = [];
  try {
    return await run();
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }

  async function run(): Promise<CoexistCheck> {
    const storeFile = path.join(o.dir, 'coexist.sqlite');
    for (const f of ['', '-wal', '-shm']) rmSync(storeFile + f, { force: true });
    const store: CoexistStore = openSqliteCoexistStore(storeFile);
    stops.push(() => store.close());
    // Secrets of this run only, never printed.
    const apiToken = randomBytes(16).toString('hex');
    const webhookSecret = randomBytes(16).toString('hex');
    const legacy: LegacyServer = await startLegacyServer({
      apiToken,
      webhookSecret,
      retryDelaysMs: [200, 400, 800, 1_600, 3_200],
    });
    stops.push(() => legacy.close());
    const legacyClient = new LegacyClient(legacy.url, apiToken);
    stops.push(() => legacyClient.close());
    const echoWays = await checkLegacyAdapter(legacyClient);
    const receiver: Receiver = await startCoexistReceiver({
      port: 0,
      host: '127.0.0.1',
      taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
      zim: { appId: o.appId, callbackSecret: o.serverSecret },
      legacyWebhookSecret: webhookSecret,
      echoWays,
      store,
      client: o.client,
      syncName: COEXIST_SYNC,
    });
    stops.push(() => receiver.close());
    const connection = await NativeConnection.connect({ address: o.temporalAddress });
    stops.push(() => connection.close());
    const scheduler = new SqliteCallScheduler(path.join(o.dir, 'coexist-budgets.sqlite'), { appId: o.appId });
    stops.push(() => scheduler.close());
    const { worker, zim } = await createCoexistWorker({
      connection,
      namespace: 'default',
      taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
      store,
      zim: { appId: o.appId, serverSecret: o.serverSecret, baseUrl: o.zimUrl },
      legacy: legacyClient,
      scheduler,
    });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await zim.close();
    });
    o.say(`coexistence: legacy server ${legacy.url}, receiver ${receiver.url}, sync "${COEXIST_SYNC}"`);

    const sides: CoexistSides = { legacyUrl: legacy.url, zimUrl: o.zimUrl, legacy: legacyClient, zim };
    await registerBothSides(sides);
    const undeliver = await deliverToReceiver(sides, {
      receiverUrl: receiver.url,
      retryDelaysMs: [200, 400, 800, 1_600, 3_200],
    });
    stops.push(undeliver);
    await startSync(o.client, COEXIST_SYNC, DEFAULT_COEXIST_TASK_QUEUE);

    const tag = randomUUID().slice(0, 8);
    const began = Date.now();
    const sent = await sendTraffic(sides, { tag, rounds: o.rounds, signal: o.signal });
    o.say(`coexistence: sent ${sent} messages on each side in ${Date.now() - began} ms; waiting for them`);
    await waitForBothSides(sides, { tag, rounds: o.rounds, timeoutMs: SETTLE_TIMEOUT_MS, signal: o.signal });
    // Echoes of the last mirrors are still on their way: let them reach their workflows before the drain.
    await sleep(ECHO_GRACE_MS);
    process.stdout.write(renderSyncStatus(await syncStatus(o.client, COEXIST_SYNC)));
    const stopped = await stopSync(o.client, COEXIST_SYNC, (line) => o.say(`coexistence: ${line}`));
    o.say(
      `coexistence: sync stopped in ${(stopped.tookMs / 1000).toFixed(1)} s, ${stopped.closed} conversations closed`
    );
    return compareSides(await readSides(sides), tag, o.rounds);
  }
}
