/**
 * The live coexistence rig the integration tests share: a Temporal dev server, the ZIM emulator and the reference
 * legacy server, a SQLite coexistence store, a worker with the conversations' activities, and the receiver both
 * sides post to (signed) over real HTTP. A test names only what is special about its setup; `stop()` ends it all.
 *
 *   const rig = useCoexistRig({ name: 'audit', users: ['ann', 'bob'], worker: { audit: true } });
 *   // in a test: rig.t.client, rig.zim.client, rig.zim.emulator, rig.legacy, rig.legacyClient, rig.store …
 *
 * Capture starts last: ZIM's callbacks and the legacy routing webhook point at the receiver only after `users` are
 * registered and `beforeCapture` ran, so what the test sets up there reaches no workflow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { createCoexistActivities, type CoexistActivities } from '../../activities/coexist';
import { createAuditActivities } from '../../activities/coexist-audit';
import { createHandoffActivities } from '../../activities/coexist-handoff';
import { openSqliteCoexistStore, type CoexistStore } from '../../src/coexist/coexist-store';
import { LegacyClient } from '../../src/coexist/legacy-client';
import { settleEchoesInStore } from '../../src/coexist/receiver/echo-settling';
import { temporalHandoff, type HandoffOptions } from '../../src/coexist/receiver/handoff';
import { startReceiver, type Receiver } from '../../src/coexist/receiver/receiver';
import { recordNotMirrored } from '../../src/coexist/receiver/start';
import { acceptingGate } from '../../src/coexist/sync-control';
import type { DevServerOptions } from '../../src/dev-server/start-dev-server';
import { startLegacyServer, type LegacyServer, type LegacyServerOptions } from '../../src/legacy-server/server';
import { SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';
import { startFastEmulator, TEST_APP_ID, TEST_SECRET } from '../../src/testing/migration-rig';
import { ZimClient } from '../../src/zim-client';
import type { ZimEmulator } from '../../src/zim-emulator';
import type { CallbacksPatch } from '../../src/zim-emulator/callback-config';
import { bothSides, post } from './coexist-sides';
import { startTemporalTestEnv, type RunningWorker, type TemporalTestEnv } from './temporal-env';
import { APP_ID, registerUsers, SECRET, startZimTestEnv } from './zim';

/** Both senders' retry schedules, shortened: a lost attempt is retried within about a second and a half. */
const RETRIES = [50, 100, 200, 400, 800];

export interface CoexistRigOptions {
  /** Names the temporary folder (`coexist-<name>-…`) and the legacy server's token and webhook secret. */
  name: string;
  /** The Temporal dev server's options (e.g. its dynamic config). */
  temporal?: DevServerOptions;
  /**
   * `migration`: the migration rig's emulator (its app, rate limits at the fast budgets), for a test that imports
   * into it with the real migration. Default: the ZIM test harness's (rate limits off).
   */
  emulator?: 'test' | 'migration';
  /** The legacy routing webhook's delivery faults (seeded). */
  legacyFaults?: Pick<LegacyServerOptions, 'duplicateRate' | 'seed'>;
  /** ZIM's callback delivery faults (seeded). */
  zimFaults?: CallbacksPatch['faults'];
  /** Users registered on both sides before capture starts. */
  users?: string[];
  /** Present: a call schedule in `<dir>/budgets.sqlite`, in which the worker's ZIM calls take their slots. */
  scheduler?: { headroom?: number };
  worker?: {
    /** Also the reconciliation audit's activities (its repairs through the worker's own Temporal client). */
    audit?: boolean;
    /** Also the historical-import handoff's activity (its staging stores closed by `stop()`). */
    handoff?: boolean;
    /** What the conversations' activities see of the store (e.g. one whose next record fails). */
    store?: (store: CoexistStore) => CoexistStore;
    /** The conversations' activities as the worker runs them (e.g. one whose worker dies mid-batch). */
    activities?: (acts: CoexistActivities) => CoexistActivities;
    zimGroupOperator?: string;
  };
  receiver?: Pick<HandoffOptions, 'workflowInput' | 'syncName'> & {
    /** Records what the sync leaves on its side by policy (as `zim-migrate receiver` does), for the audit. */
    notMirrored?: boolean;
    /** Settles the echo of a mirror the store holds SENT without a hand-off (as `zim-migrate receiver` does). */
    settleEchoes?: boolean;
    /** Reads the sync's state (`syncName`) as `zim-migrate receiver --sync` does: 410 once it drains. */
    gate?: boolean;
    /** The import handoff given to the conversations the receiver starts; made once the rig is up. */
    importHandoff?: (rig: CoexistRig) => HandoffOptions['importHandoff'];
  };
  /** What both sides hold before capture starts (groups, more users), made with the rig's servers. */
  beforeCapture?: (rig: CoexistRig) => Promise<void>;
}

export interface CoexistRig {
  /** A temporary folder, removed by `stop()`: the store's, the call schedule's, and the test's own files. */
  dir: string;
  t: TemporalTestEnv;
  zim: { emulator: ZimEmulator; client: ZimClient };
  legacy: LegacyServer;
  legacyClient: LegacyClient;
  store: CoexistStore;
  scheduler: SqliteCallScheduler | undefined;
  worker: RunningWorker;
  receiver: Receiver;
  /**
   * Sends from and reads back both sides: one one-to-one conversation (its two users) and one group. The functions
   * reach the servers when called, so they may be taken in a describe() before `before` started the rig.
   */
  sides(peer: [string, string], group: string): ReturnType<typeof bothSides>;
  /** Stops everything, last started first, also after a failed start; the folder is removed. */
  stop(): Promise<void>;
}

export async function startCoexistRig(options: CoexistRigOptions): Promise<CoexistRig> {
  const stops: Array<() => Promise<void> | void> = [];
  const rig = {
    async stop() {
      const errors: unknown[] = [];
      for (const stop of stops.splice(0).reverse()) {
        try {
          await stop();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) throw new AggregateError(errors, 'coexistence rig teardown failed');
    },
  } as CoexistRig;
  try {
    rig.dir = mkdtempSync(path.join(tmpdir(), `coexist-${options.name}-`));
    stops.push(() => rmSync(rig.dir, { recursive: true, force: true }));
    rig.store = openSqliteCoexistStore(path.join(rig.dir, 'coexist.sqlite'));
    stops.push(() => rig.store.close());
    const app =
      options.emulator === 'migration'
        ? { appId: TEST_APP_ID, secret: TEST_SECRET }
        : { appId: APP_ID, secret: SECRET };
    if (options.scheduler) {
      const scheduler = new SqliteCallScheduler(path.join(rig.dir, 'budgets.sqlite'), {
        appId: app.appId,
        ...options.scheduler,
      });
      rig.scheduler = scheduler;
      stops.push(() => scheduler.close());
    }
    const handoffActivities = options.worker?.handoff ? createHandoffActivities({ store: rig.store }) : undefined;
    if (handoffActivities) stops.push(() => handoffActivities.closeHandoffStores());
    rig.t = await startTemporalTestEnv(options.temporal);
    stops.push(() => rig.t.teardown());
    if (options.emulator === 'migration') {
      const emulator = await startFastEmulator();
      stops.push(() => emulator.stop());
      const client = new ZimClient({ baseUrl: emulator.url, appId: TEST_APP_ID, serverSecret: TEST_SECRET });
      stops.push(() => client.close());
      rig.zim = { emulator, client };
    } else {
      const env = await startZimTestEnv();
      stops.push(() => env.stop());
      rig.zim = { emulator: env.emulator, client: env.client };
    }
    const token = `legacy-api-token-${options.name}`;
    const webhookSecret = `legacy-webhook-secret-${options.name}`;
    rig.legacy = await startLegacyServer({
      apiToken: token,
      webhookSecret,
      retryDelaysMs: RETRIES,
      ...options.legacyFaults,
    });
    stops.push(() => rig.legacy.close());
    rig.legacyClient = new LegacyClient(rig.legacy.url, token);
    stops.push(() => rig.legacyClient.close());

    const deps = { store: rig.store, zim: rig.zim.client, legacy: rig.legacyClient, scheduler: rig.scheduler };
    const w = options.worker ?? {};
    const coexistActivities = createCoexistActivities({
      ...deps,
      store: w.store ? w.store(rig.store) : rig.store,
      zimGroupOperator: w.zimGroupOperator,
    });
    rig.worker = await rig.t.createWorker({
      activities: {
        ...(w.activities ? w.activities(coexistActivities) : coexistActivities),
        ...(w.audit ? createAuditActivities(deps) : {}),
        ...handoffActivities,
      },
    });
    const r = options.receiver ?? {};
    rig.receiver = await startReceiver({
      zim: { appId: app.appId, callbackSecret: app.secret },
      legacy: { webhookSecret, echoWays: ['originTag', 'clientMsgId'] },
      putBody: (b, forMessages) => rig.store.putBody(b, forMessages),
      notMirrored: r.notMirrored ? recordNotMirrored(rig.store) : undefined,
      echoes: r.settleEchoes ? settleEchoesInStore(rig.store) : undefined,
      ...(r.gate && r.syncName ? { accepting: acceptingGate(rig.t.client, r.syncName) } : {}),
      handoff: temporalHandoff(rig.t.client, {
        taskQueue: rig.worker.taskQueue,
        workflowInput: r.workflowInput,
        syncName: r.syncName,
        importHandoff: r.importHandoff?.(rig),
      }),
      log: () => {},
    });
    stops.push(() => rig.receiver.close());
    rig.sides = (peer, group) => sidesOf(rig, peer, group);

    if (options.users) {
      await registerUsers(rig.zim.client, options.users);
      await post(`${rig.legacy.url}/_test/users`, { users: options.users });
    }
    await options.beforeCapture?.(rig);
    rig.zim.emulator.callbacks.configure({
      url: `${rig.receiver.url}/zim/callback`,
      retryDelaysMs: RETRIES,
      ...(options.zimFaults ? { faults: options.zimFaults } : {}),
    });
    await post(`${rig.legacy.url}/_test/webhook`, { url: `${rig.receiver.url}/legacy/events` });
    return rig;
  } catch (err) {
    await rig.stop().catch(() => {});
    throw err;
  }
}

/** A rig started before the enclosing describe()'s tests and stopped after them (filled in by `before`). */
export function useCoexistRig(options: CoexistRigOptions): CoexistRig {
  const rig = { sides: (peer, group) => sidesOf(rig, peer, group) } as CoexistRig;
  before(async () => {
    Object.assign(rig, await startCoexistRig(options));
  });
  after(async () => {
    await rig.stop?.();
  });
  return rig;
}

function sidesOf(rig: CoexistRig, peer: [string, string], group: string): ReturnType<typeof bothSides> {
  const now = () =>
    bothSides({
      zim: rig.zim.client,
      emulatorUrl: rig.zim.emulator.url,
      legacy: rig.legacyClient,
      legacyUrl: rig.legacy.url,
      peer,
      group,
    });
  return {
    zimBodies: (conv) => now().zimBodies(conv),
    legacyBodies: (conv) => now().legacyBodies(conv),
    sendZim: (from, target, body) => now().sendZim(from, target, body),
    sendLegacy: (from, target, body) => now().sendLegacy(from, target, body),
  };
}

/**
 * A group made on both sides, for `beforeCapture` (the sync hears nothing of it): ZIM's by the server API, the
 * legacy side's by App 1.0. `zimName: false` leaves ZIM's without a name.
 */
export async function groupOnBothSides(
  rig: CoexistRig,
  g: { id: string; owner: string; members: string[]; name: string; zimName?: false }
): Promise<void> {
  await rig.zim.client.createGroup({
    GroupId: g.id,
    GroupOwner: g.owner,
    UserId: g.members,
    ...(g.zimName === false ? {} : { GroupName: g.name }),
  });
  await post(`${rig.legacy.url}/_test/app1/createGroup`, {
    operator: g.owner,
    groupId: g.id,
    name: g.name,
    members: g.members,
  });
}
