/**
 * Coexistence under chaos (`npm run chaos -- --coexist`): the reference legacy server and the ZIM emulator in this
 * process, both delivering with seeded duplicates and reordering (ZIM's callbacks also echoed before the send's
 * answer); a Temporal dev server process; the receiver (`zim-migrate receiver`) and the conversations' worker
 * (`zim-migrate receiver --worker-only`) as child processes. The dev rehearsal's traffic runs on both sides at
 * once, spread over time, while the worker and the receiver are SIGKILLed at seeded points of it and started
 * again, and the Temporal server is SIGKILLed and started again on its database file and port (the receiver
 * answers 503 meanwhile, and the senders' retries bridge the outage); with faults on, ZIM's send APIs also fail now
 * and then, some after committing the message. Then the sync is stopped (drained, every conversation closed) and
 * both sides are compared: every message on the other side exactly once, none mirrored back.
 *
 * A seeded share of the deliveries on both sides (`lossRate`, 5%) is lost on purpose, never attempted: those
 * messages reach no conversation until the reconciliation audit `coexist stop` runs after the drain finds them on
 * one side only and hands them back (docs/coexistence.md §9). A delivery dropped after its sender's last retry is
 * counted and reported apart.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { LegacyClient } from '../coexist/legacy-client';
import { openCoexistStore } from '../coexist/open-coexist-store';
import { DEFAULT_COEXIST_TASK_QUEUE } from '../coexist/receiver/start';
import { startSync, stopSync, syncStatus, type SyncStatus } from '../coexist/sync-control';
import { freePort, startDevServerProcess, type DevServerProcess } from '../dev-server/dev-server-process';
import { startLegacyServer, type LegacyServer } from '../legacy-server/server';
import {
  compareSides,
  COEXIST_CONVERSATIONS,
  deliverToReceiver,
  ECHO_GRACE_MS,
  readSides,
  registerBothSides,
  sendTraffic,
  waitForBothSides,
  type CoexistCheck,
  type CoexistSides,
} from '../testing/coexist-traffic';
import { TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { workerProcessEnv } from '../testing/worker-processes';
import { ZimClient } from '../zim-client';
import { startZimEmulator, type ZimEmulator } from '../zim-emulator';
import type { FaultKind } from '../zim-emulator/counters';
import { planDisruptions, type Disruption } from './disruption-plan';
import { chaosFaults } from './run-chaos';
import { coexistChaosPassed } from './coexist-summary';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

export interface CoexistChaosOptions {
  /** Seeds the delivery faults and the kill moments: a run replays with its seed. */
  seed: number;
  /** Times the conversations' worker process is SIGKILLed (and started again). */
  workerKills: number;
  /** Times the receiver process is SIGKILLed (and started again on its port). */
  receiverKills: number;
  /** Times the Temporal dev server is SIGKILLed and started again on its database file and port. */
  serverRestarts: number;
  /**
   * Of those, how many (the last ones) keep it down past the senders' retries: what arrives early in such an
   * outage is dropped by its sender, and only the stop's audit brings it across. Default 0.
   */
  longOutages?: number;
  /** Rounds of traffic: each one message per conversation (three pairs, one group) from each side. */
  rounds: number;
  /** Pause between rounds (ms): spreads the traffic so the kills land while it flows. */
  paceMs: number;
  /** ZIM's faults (chaosFaults) on its send APIs: ambiguous sends, settled by echo or by reading the tail. */
  faults: boolean;
  /** The run gives up (and fails) after this long. */
  timeoutMs: number;
  /** Keep the work folder (store, Temporal database, logs) even when the run passes. */
  keepFiles?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface CoexistChaosResult {
  seed: number;
  /** completed; not-settled (the traffic did not reach both sides in time); interrupted. */
  status: 'completed' | 'not-settled' | 'interrupted' | 'not-started';
  workerKills: number;
  receiverKills: number;
  serverRestarts: number;
  /** Of those, the ones down past the senders' retries. */
  longOutages: number;
  /** Delivery attempts the receiver answered 503 (Temporal did not take the event in time), both sides. */
  answered503: number;
  /** Exits the processes had on their own (each restarted); expected 0. */
  exitsOnTheirOwn: number;
  /** Both sides compared; absent when the run did not get that far. */
  check?: CoexistCheck;
  /** The sync's counters after its stop. */
  sync?: SyncStatus;
  /** The faults the emulator dealt on ZIM's send APIs. */
  faults: Partial<Record<FaultKind, number>>;
  /** Deliveries dropped after the sender's last retry (ZIM callbacks, legacy routing events); expected 0. */
  dropped: { zim: number; legacy: number };
  /** Deliveries lost on purpose (both sides), and what the audits found and repaired. */
  audit?: { lostOnPurpose: number; found: number; repaired: number };
  seconds: number;
  /** The work folder, when it was kept. */
  workDir?: string;
}

/** Both senders retry for about 30 s: longer than a receiver takes to start again under load. */
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000, 16_000];
const SYNC = 'chaos';
const RECEIVER_UP = 'zim-migrate receiver: listening at';
const WORKER_UP = 'zim-migrate receiver: worker only';
/** The receivers answer 410 to every delivery once the sync drained, except the echoes of our own ZIM sends. */
const refusedByStoppedSync = (attempts: ReadonlyArray<number | 'error'>) => attempts.at(-1) === 410;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settledValue = <T>(r: PromiseSettledResult<T>): T => {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
};

/** Added to the plan's 0.5 to 3 s of a server outage: past the receiver's hand-off deadline (2.5 s). */
const OUTAGE_FLOOR_MS = 3_000;
/** A long outage: past the senders' last retry (31.5 s after the first attempt, each attempt up to 5 s more). */
const LONG_OUTAGE_MS = 45_000;

/** Share of deliveries lost on purpose on each side: recovered only by the audit at the stop. */
export const COEXIST_LOSS_RATE = 0.05;

/** Delivery faults on both sides. */
const zimFaults = (seed: number) => ({
  seed,
  lossRate: COEXIST_LOSS_RATE,
  duplicateRate: 0.2,
  reorderRate: 0.2,
  reorderDelayMs: 300,
  echoBeforeResponseRate: 0.1,
});

export async function runCoexistChaos(o: CoexistChaosOptions): Promise<CoexistChaosResult> {
  const started = Date.now();
  const log = (line: string) => o.log?.(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const deadline = started + o.timeoutMs;
  const workDir = mkdtempSync(path.join(tmpdir(), 'zim-chaos-coexist-'));
  const signal = o.signal ?? new AbortController().signal;
  const result: CoexistChaosResult = {
    seed: o.seed,
    status: 'not-started',
    workerKills: 0,
    receiverKills: 0,
    serverRestarts: 0,
    longOutages: 0,
    answered503: 0,
    exitsOnTheirOwn: 0,
    dropped: { zim: 0, legacy: 0 },
    faults: {},
    seconds: 0,
  };
  const stops: Array<() => Promise<unknown>> = [];
  let emulator: ZimEmulator | undefined;
  let legacy: LegacyServer | undefined;
  let server: DevServerProcess | undefined;
  let serverDown = false;
  try {
    log(`work folder ${workDir}`);
    // Secrets of this run only, given to its processes through their environment, never printed.
    const apiToken = randomBytes(16).toString('hex');
    const webhookSecret = randomBytes(16).toString('hex');
    // Started together; whichever started is stopped at the end even when another failed to start.
    const [e, t, l] = await Promise.allSettled([
      startZimEmulator({ appId: TEST_APP_ID, serverSecret: TEST_SECRET }),
      startDevServerProcess({
        dbFilename: path.join(workDir, 'temporal.db'),
        logFile: path.join(workDir, 'temporal.log'),
        sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' },
      }),
      startLegacyServer({ apiToken, webhookSecret, retryDelaysMs: RETRY_DELAYS_MS }),
    ]);
    if (e.status === 'fulfilled') emulator = e.value;
    if (l.status === 'fulfilled') legacy = l.value;
    if (t.status === 'fulfilled') stops.push(() => t.value.stop());
    server = settledValue(t);
    emulator = settledValue(e);
    legacy = settledValue(l);
    const receiverUrl = `http://127.0.0.1:${await freePort()}`;
    const env = {
      ...workerProcessEnv({
        temporalAddress: server.address,
        taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
        zimBaseUrl: emulator.url,
        budgetDbPath: path.join(workDir, 'budgets.sqlite'),
      }),
      LEGACY_API_TOKEN: apiToken,
      LEGACY_WEBHOOK_SECRET: webhookSecret,
      ZIM_MIGRATE_COEXIST_STORE: path.join(workDir, 'coexist.sqlite'),
    };
    const start = (name: string, args: string[], readyLine: string, processEnv: NodeJS.ProcessEnv) => {
      const p = startWorkerProcess({
        env: processEnv,
        args: [...args, '--legacy-api', legacy!.url],
        readyLine,
        logFile: path.join(workDir, `${name}.log`),
        onUnexpectedExit: (code, sig) => {
          result.exitsOnTheirOwn++;
          log(`the ${name} exited on its own (${sig ?? code}); started again`);
        },
      });
      stops.push(() => p.stop());
      return p;
    };
    const receiverArgs = ['receiver', '--port', new URL(receiverUrl).port, '--sync', SYNC];
    const receiver = start('receiver', receiverArgs, RECEIVER_UP, env);
    // A worker alone needs no webhook secret: it runs without one, as an operator would run it.
    const { LEGACY_WEBHOOK_SECRET: _notForTheWorker, ...workerEnv } = env;
    const worker = start('worker', ['receiver', '--worker-only'], WORKER_UP, workerEnv);
    await Promise.all([receiver.ready(), worker.ready()]);
    log(`emulator ${emulator.url}, legacy server ${legacy.url}, Temporal ${server.address}; receiver ${receiverUrl}`);

    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = new Client({ connection });
    const zim = new ZimClient({ appId: TEST_APP_ID, serverSecret: TEST_SECRET, baseUrl: emulator.url });
    stops.push(() => zim.close());
    const legacyClient = new LegacyClient(legacy.url, apiToken);
    stops.push(() => legacyClient.close());
    const sides: CoexistSides = { legacyUrl: legacy.url, zimUrl: emulator.url, legacy: legacyClient, zim };
    await registerBothSides(sides);
    emulator.callbacks.configure({ logSize: 100_000 });
    await deliverToReceiver(sides, {
      receiverUrl,
      retryDelaysMs: RETRY_DELAYS_MS,
      zimFaults: zimFaults(o.seed),
      legacyFaults: {
        duplicateRate: 0.2,
        reorderRate: 0.2,
        reorderDelayMs: 300,
        lossRate: COEXIST_LOSS_RATE,
        seed: o.seed,
      },
    });
    await startSync(client, SYNC, DEFAULT_COEXIST_TASK_QUEUE);
    // On the sends alone: the run's own reads (setup, the check) go through ZIM's API too.
    if (o.faults) emulator.setFaults({ ...chaosFaults(o.seed), actions: ['SendPeerMessage', 'SendGroupMessage'] });

    // The kills fall at seeded points of the traffic, counted in messages sent (both sides together).
    const total = 2 * o.rounds * COEXIST_CONVERSATIONS.length;
    const plan = planDisruptions({
      seed: o.seed,
      workerKills: o.workerKills,
      serverRestarts: o.serverRestarts,
      receiverKills: o.receiverKills,
      expectedRequests: total,
    });
    // The last server restarts of the plan are the long ones.
    const restarts = plan.filter((d) => d.kind === 'server-restart');
    const long = new Set(restarts.slice(restarts.length - Math.min(o.longOutages ?? 0, restarts.length)));
    const tag = randomUUID().slice(0, 8);
    let sent = 0;
    let trafficOver = false;
    // Disruptions of the plan that have struck. Under load a restarted process takes longer to be up than the
    // traffic's rounds: the traffic waits for each disruption due, so that every one lands while it flows; but
    // not while the server is down, so that the receiver has deliveries to refuse.
    let struck = 0;
    let disruptionsOver = false;
    const due = () => (plan[struck]?.atRequests ?? Infinity) <= sent;
    const beforeRound = async () => {
      while (!disruptionsOver && !signal.aborted && !serverDown && due()) await sleep(50);
    };
    log(`traffic: ${o.rounds} rounds, ${total} messages, one round every ${o.paceMs} ms; ${plan.length} disruptions`);
    const onSent = (n: number) => (sent = n);
    const traffic = sendTraffic(sides, { tag, rounds: o.rounds, paceMs: o.paceMs, signal, onSent, beforeRound });
    const kills = (async () => {
      try {
        for (const d of plan) {
          while (sent < d.atRequests && !trafficOver) await sleep(50);
          await sleep(d.delayMs);
          if (signal.aborted) return;
          if (d.kind === 'server-restart') await restartServer(d, long.has(d), sent, () => struck++);
          else await kill(d, d.kind === 'receiver-kill' ? receiver : worker, sent, () => struck++);
        }
      } finally {
        disruptionsOver = true;
      }
    })();
    try {
      await traffic;
    } finally {
      trafficOver = true;
      await kills;
    }
    log(`traffic sent (${total} messages); waiting for both sides to hold it`);

    // What was lost on purpose arrives only with the stop's audit: settled once nothing more is under way (a
    // conversation held up by a killed worker's activity still counts it as queued).
    const idle = async () =>
      emulator!.callbacks.deliveries({ outcome: 'pending' }).length === 0 &&
      !legacy!.webhook.log.some((d) => d.outcome === 'pending') &&
      (await syncStatus(client, SYNC).then(
        (st) => st.queued === 0,
        () => false
      ));
    const settled = await waitForBothSides(sides, {
      tag,
      rounds: o.rounds,
      timeoutMs: Math.max(0, deadline - Date.now()),
      signal,
      quiet: { quietMs: 3_000, idle },
    });
    result.status = signal.aborted ? 'interrupted' : settled ? 'completed' : 'not-settled';
    if (result.status !== 'interrupted') {
      await sleep(ECHO_GRACE_MS);
      const stopped = await stopSync(client, SYNC, (line) => log(`sync: ${line}`));
      log(`sync stopped in ${(stopped.tookMs / 1000).toFixed(1)} s, ${stopped.closed} conversations closed`);
      const audits = stopped.audits ?? { found: 0, repaired: 0 };
      result.audit = { lostOnPurpose: 0, found: audits.found, repaired: audits.repaired };
      // The receivers' store: the echoes they settled without a hand-off count too.
      const store = await openCoexistStore(env.ZIM_MIGRATE_COEXIST_STORE).catch((err: unknown) =>
        err instanceof Error ? err : new Error(String(err))
      );
      const st = (result.sync = await syncStatus(client, SYNC, store).finally(() =>
        store instanceof Error ? undefined : store.close()
      ));
      const lag = (d: SyncStatus['legacyToZim']) =>
        `p50 ${((d.lagMs.p50 ?? 0) / 1000).toFixed(1)} s, p99 ${((d.lagMs.p99 ?? 0) / 1000).toFixed(1)} s`;
      // A kill that lands on a running mirror shows here: its conversation waits out the activity's timeout.
      log(
        `sync: lag legacy→ZIM ${lag(st.legacyToZim)}, ZIM→legacy ${lag(st.zimToLegacy)}; ` +
          `echoes suppressed ${st.echoesSuppressed} (${st.echoes.byReceivers ?? 'unknown'} by the receivers), ` +
          `duplicates dropped ${st.duplicatesDropped}, ` +
          `reordered past the settle window ${st.reordered}`
      );
    }
    result.check = compareSides(await readSides(sides), tag, o.rounds);
  } finally {
    if (emulator) result.faults = emulator.counters().faults;
    // Every one counts: the echoes of our own sends after the drain (the stop audit's repairs) are answered 200 too.
    if (emulator) result.dropped.zim = emulator.callbacks.deliveries({ outcome: 'dropped' }).length;
    if (emulator && legacy)
      result.answered503 = [
        ...emulator.callbacks.deliveries().flatMap((d) => d.attempts),
        ...legacy.webhook.log.flatMap((d) => d.attempts),
      ].filter((status) => status === 503).length;
    // Not the legacy events refused with 410: the chaos traffic is over before the drain, so they are the echoes of
    // the stop's repairs to the legacy side, which the legacy server drops at the first 410 (no retries spent).
    if (legacy)
      result.dropped.legacy = legacy.webhook.log.filter(
        (d) => d.outcome === 'lost' && !refusedByStoppedSync(d.attempts)
      ).length;
    if (result.audit && emulator && legacy)
      result.audit.lostOnPurpose =
        emulator.callbacks.deliveries({ outcome: 'lost' }).length +
        legacy.webhook.log.filter((d) => d.outcome === 'lost-on-purpose').length;
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await legacy?.close();
    await emulator?.stop();
    result.seconds = Math.round((Date.now() - started) / 1000);
    if (o.keepFiles || !coexistChaosPassed(result)) result.workDir = workDir;
    else rmSync(workDir, { recursive: true, force: true });
  }
  return result;

  async function kill(d: Disruption, target: WorkerProcess, at: number, onStruck: () => void) {
    const which = d.kind === 'receiver-kill' ? 'receiver' : 'worker';
    await target.killAndRestart();
    onStruck();
    const count = which === 'receiver' ? ++result.receiverKills : ++result.workerKills;
    log(`${which} SIGKILLed after ${at} messages sent [${count}]; started again`);
    // The next kill lands on a process that is up, not on one still starting.
    await target.ready();
  }

  /**
   * Down for a few seconds (plus its start): longer than the receiver's 2.5-s hand-off deadline, so what arrives
   * meanwhile is answered 503, and well within the senders' retries, so nothing is dropped. A long one is down past
   * them: what arrived in its first seconds is dropped by its sender and left to the stop's audit.
   */
  async function restartServer(d: Disruption, isLong: boolean, at: number, onStruck: () => void) {
    serverDown = true;
    try {
      await server!.kill();
      onStruck();
      const downMs = isLong ? LONG_OUTAGE_MS : OUTAGE_FLOOR_MS + d.downMs;
      const past = isLong ? ", past the senders' retries" : '';
      log(`Temporal server killed (SIGKILL) after ${at} messages sent; down for ${downMs} ms${past}`);
      await sleep(downMs);
      await server!.start();
    } finally {
      serverDown = false;
    }
    if (isLong) result.longOutages++;
    log(`Temporal server started again on the same database and port [${++result.serverRestarts}]`);
  }
}
