/**
 * `zim-migrate dev --coexist`: the rehearsal runs the handoff from the historical import as the operator would
 * (docs/coexistence.md §10), then two-way coexistence, against its ZIM emulator. Before the export is taken it starts
 * the reference legacy server (seeded with the sample export, the legacy system's history, and four users, three
 * one-to-one pairs and a group of its own; ZIM gets them all from the import), a
 * receiver (the emulator's callbacks and the legacy routing webhook pointed at it), a worker for the conversation
 * workflows, all in this process, and sync "rehearsal" with the handoff on the rehearsal's staging. Then:
 *
 *   round 0, legacy, before the export: in the export AND captured live: held, then dropped as in the history (by
 *     its id); before it, one message the export leaves out (as exports leave out deleted or moderated ones):
 *     held, then dropped as older than its conversation's watermark;
 *   the export: the sample plus what the legacy server holds (src/testing/legacy-export.ts), then plan;
 *   round 1, legacy, before the import starts: held until the conversation's history is imported, then released
 *     (mirrored once);
 *   round 2, both sides, in each conversation as soon as its history is imported, while the import goes on: legacy
 *     messages go straight through; App 2.0 users write only now, as §10 advises (ZIM refuses to import a message
 *     older than a conversation's newest, so an App 2.0 message before the history would make its import fail);
 *   rounds 3…, both sides, after the import.
 *
 * Then it stops the sync (drain, final audit, close every conversation) and compares both sides conversation by
 * conversation: every live message sent on one side must be on the other exactly once, and never come back to its
 * own side; and the stop's audit must leave no divergence unrepaired. Everything it starts it stops, whatever
 * happens (`close`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { openSqliteCoexistStore, type CoexistStore } from '../coexist/coexist-store';
import { handoffSetting } from '../coexist/handoff-setting';
import { LegacyClient } from '../coexist/legacy-client';
import {
  checkLegacyAdapter,
  createCoexistWorker,
  DEFAULT_COEXIST_TASK_QUEUE,
  startCoexistReceiver,
} from '../coexist/receiver/start';
import { startSync, stopSync, syncStatus, type SyncStatus } from '../coexist/sync-control';
import { workflowIdFor } from '../coexist/sync-event';
import { syncStatsQuery } from '../../workflows/coexist';
import { startLegacyServer } from '../legacy-server/server';
import { SqliteCallScheduler } from '../rate-limit/call-scheduler';
import {
  compareSides,
  COEXIST_CONVERSATIONS,
  deliverToReceiver,
  ECHO_GRACE_MS,
  readSides,
  registerLegacySide,
  sendTraffic,
  waitForBothSides,
  type CoexistCheck,
  type CoexistSides,
  type StopAudit,
} from '../testing/coexist-traffic';
import { takeLegacyExport } from '../testing/legacy-export';
import { seedLegacyFromExport } from '../testing/seed-legacy';
import { renderSyncStatus } from './commands/coexist';

export const COEXIST_SYNC = 'rehearsal';
/** How long the traffic may take to reach the other side before the check runs anyway. */
const SETTLE_TIMEOUT_MS = 120_000;
/** How long the live copies of round 0 may take to be held before the export is taken anyway. */
const HELD_TIMEOUT_MS = 30_000;
/** How often a conversation holding messages asks the staging whether its history is imported (30 s in production). */
const HANDOFF_CHECK_MS = 1_000;
/** The rounds of the handoff: legacy before the export, legacy as the import starts, both during the import. */
const BEFORE_EXPORT = 0;
const IMPORT_STARTS = 1;
const DURING_IMPORT = 2;
const AFTER_IMPORT = 3;

export interface DevCoexistOptions {
  client: Client;
  temporalAddress: string;
  zimUrl: string;
  appId: number;
  serverSecret: string;
  dir: string;
  /** The sample export: the legacy system's history, which the legacy server is seeded with and the export copies. */
  sampleDir: string;
  /** The rehearsal's staging (`plan --out`): the handoff reads its ledger. Not there yet. */
  staging: string;
  /** The environment the handoff opens the staging with (a database password). */
  env: NodeJS.ProcessEnv;
  /** Rounds of traffic after the import: each sends one message per conversation from each side. */
  rounds: number;
  say: (line: string) => void;
  signal: AbortSignal;
}

/** The check, and what the handoff did (`coexist status`'s counts, summed over the conversations). */
export interface CoexistRehearsalResult {
  check: CoexistCheck;
  handoff: NonNullable<SyncStatus['handoff']> | undefined;
  /** Copies in ZIM of the message the export left out (older than its conversation's watermark): 0 expected. */
  leftOutInZim: number;
  /** What the stop's audit found and repaired (absent: it failed); every divergence repaired expected. */
  audit: StopAudit;
  /** The coexistence store, for `coexist divergences --store`. */
  storeFile: string;
}

export interface CoexistRehearsal {
  /** Capture is on: round 0 from the legacy side, waited for until the conversations hold it. */
  beforeExport(): Promise<void>;
  /** The export: a copy of the sample plus what the legacy server holds beyond it, in `outDir`; returns its messages. */
  takeExport(outDir: string): number;
  /** Planned, the import not started yet: round 1 (legacy), waited for until the conversations hold it. */
  beforeImport(): Promise<void>;
  /** While the import runs: round 2 in each conversation once its history is imported (or `importEnded`). */
  duringImport(importEnded: () => Promise<boolean>): Promise<void>;
  /** The import finished: the rounds after it, then stop the sync and compare both sides. */
  afterImport(): Promise<CoexistRehearsalResult>;
  /** Stops everything it started. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export async function startCoexistRehearsal(o: DevCoexistOptions): Promise<CoexistRehearsal> {
  const stops: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    return await start();
  } catch (err) {
    await close();
    throw err;
  }

  async function start(): Promise<CoexistRehearsal> {
    const storeFile = path.join(o.dir, 'coexist.sqlite');
    for (const f of ['', '-wal', '-shm']) rmSync(storeFile + f, { force: true });
    const store: CoexistStore = openSqliteCoexistStore(storeFile);
    stops.push(() => store.close());
    // Secrets of this run only, never printed.
    const apiToken = randomBytes(16).toString('hex');
    const webhookSecret = randomBytes(16).toString('hex');
    const legacy = await startLegacyServer({
      apiToken,
      webhookSecret,
      retryDelaysMs: [200, 400, 800, 1_600, 3_200],
    });
    stops.push(() => legacy.close());
    // The legacy system's history before capture, as the import will give it to ZIM.
    const seeded = await seedLegacyFromExport(legacy.store, o.sampleDir);
    const legacyClient = new LegacyClient(legacy.url, apiToken);
    stops.push(() => legacyClient.close());
    const echoWays = await checkLegacyAdapter(legacyClient);
    const receiver = await startCoexistReceiver({
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
    const { worker, zim, closeHandoffStores } = await createCoexistWorker({
      connection,
      namespace: 'default',
      taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
      store,
      zim: { appId: o.appId, serverSecret: o.serverSecret, baseUrl: o.zimUrl },
      legacy: legacyClient,
      scheduler,
      env: o.env,
    });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await zim.close();
      await closeHandoffStores();
    });
    o.say(`coexistence: legacy server ${legacy.url}, receiver ${receiver.url}, sync "${COEXIST_SYNC}"`);

    const sides: CoexistSides = { legacyUrl: legacy.url, zimUrl: o.zimUrl, legacy: legacyClient, zim };
    const tag = randomUUID().slice(0, 8);
    // The legacy system's own history, from before capture: in the export only (not part of the check).
    await registerLegacySide(legacy.url);
    await sendTraffic(sides, { tag: `${tag}-history`, rounds: 1, sides: 'legacy', signal: o.signal });
    // Capture on, the sync started with the handoff, all before the export is taken.
    const undeliver = await deliverToReceiver(sides, {
      receiverUrl: receiver.url,
      retryDelaysMs: [200, 400, 800, 1_600, 3_200],
    });
    stops.push(undeliver);
    await startSync(o.client, COEXIST_SYNC, DEFAULT_COEXIST_TASK_QUEUE, {
      handoff: handoffSetting(o.staging, { checkEveryMs: HANDOFF_CHECK_MS }),
    });
    o.say(`coexistence: capture on, sync "${COEXIST_SYNC}" holds live legacy messages until their history is imported`);

    const legacyRound = (round: number) =>
      sendTraffic(sides, { tag, rounds: 1, firstRound: round, sides: 'legacy', signal: o.signal });
    const bothRounds = (first: number, rounds: number, conversations?: string[]) =>
      sendTraffic(sides, { tag, rounds, firstRound: first, signal: o.signal, ...(conversations && { conversations }) });
    const handoff = async () => (await syncStatus(o.client, COEXIST_SYNC)).handoff;
    /** Until the conversations hold `n` legacy messages in all (their live copies arrive through the receiver). */
    const untilHeld = async (n: number) => {
      const until = Date.now() + HELD_TIMEOUT_MS;
      while (((await handoff().catch(() => undefined))?.held ?? 0) < n && Date.now() < until && !o.signal.aborted)
        await sleep(250);
    };
    /** The conversation released what it held: its history is imported. */
    const imported = async (conv: string) => {
      const stats = await o.client.workflow
        .getHandle(workflowIdFor(conv))
        .query(syncStatsQuery)
        .catch(() => undefined);
      const h = stats?.handoff;
      return h !== undefined && h.held > 0 && h.waiting === undefined && h.dropped + h.released + h.parked >= h.held;
    };
    const conversations = COEXIST_CONVERSATIONS.length;
    // The message the export leaves out: its body is not the traffic's (the check does not count it).
    const leftOutIn = COEXIST_CONVERSATIONS[0] as { key: string; a: string; b: string };
    const leftOutBody = `left out of the export ${tag}-left-out`;
    let leftOut: string | undefined;

    return {
      async beforeExport() {
        // Sent in process (the same routing event as over HTTP), for its id; older than round 0 by some ms.
        leftOut = legacy.store.send({ from: leftOutIn.a, to: leftOutIn.b, body: leftOutBody }).id;
        await sleep(20);
        await legacyRound(BEFORE_EXPORT);
        await untilHeld(conversations + 1);
        o.say(
          `coexistence: ${conversations + 1} legacy messages sent after capture started, before the export ` +
            '(1 of them to be left out of it)'
        );
      },
      takeExport(outDir) {
        return takeLegacyExport(legacy.store, o.sampleDir, seeded, outDir, new Set(leftOut ? [leftOut] : []));
      },
      async beforeImport() {
        await legacyRound(IMPORT_STARTS);
        await untilHeld(2 * conversations);
        o.say(`coexistence: ${conversations} legacy messages sent after the export, before the import`);
      },
      async duringImport(importEnded) {
        await Promise.all(
          COEXIST_CONVERSATIONS.map(async (c) => {
            while (!(await imported(c.key)) && !(await importEnded()) && !o.signal.aborted) await sleep(250);
            await bothRounds(DURING_IMPORT, 1, [c.key]);
          })
        );
        o.say('coexistence: both sides wrote in each conversation once its history was imported');
      },
      async afterImport() {
        const began = Date.now();
        const sent = await bothRounds(AFTER_IMPORT, o.rounds);
        const rounds = AFTER_IMPORT + o.rounds;
        o.say(`coexistence: sent ${sent} messages on each side in ${Date.now() - began} ms after the import; waiting`);
        await waitForBothSides(sides, {
          tag,
          rounds,
          zimFrom: DURING_IMPORT,
          timeoutMs: SETTLE_TIMEOUT_MS,
          signal: o.signal,
        });
        // Echoes of the last mirrors are still on their way: let them reach their workflows before the drain.
        await sleep(ECHO_GRACE_MS);
        process.stdout.write(renderSyncStatus(await syncStatus(o.client, COEXIST_SYNC, store)));
        const stopped = await stopSync(o.client, COEXIST_SYNC, (line) => o.say(`coexistence: ${line}`));
        o.say(
          `coexistence: sync stopped in ${(stopped.tookMs / 1000).toFixed(1)} s, ${stopped.closed} conversations closed`
        );
        const held = await readSides(sides);
        const check = compareSides(held, tag, rounds, DURING_IMPORT);
        const leftOutInZim = held[0]!.inZim.filter((b) => b === leftOutBody).length;
        const audit = stopped.audit && { found: stopped.audit.found, repaired: stopped.audit.repaired };
        return { check, handoff: await handoff(), leftOutInZim, audit, storeFile };
      },
      close,
    };
  }
}

/** What the handoff did, for the check's line. */
export const handoffLine = (r: Pick<CoexistRehearsalResult, 'handoff' | 'leftOutInZim'>) =>
  r.handoff
    ? `import handoff: ${r.handoff.held} held, ${r.handoff.dropped} dropped as in the history, ` +
      `${r.handoff.released} released, ${r.handoff.parked} parked; the message left out of the export (older than ` +
      `the watermark): ${r.leftOutInZim} in ZIM`
    : 'import handoff: none';
