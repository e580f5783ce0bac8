/**
 * Starting coexistence's moving parts from settings: the receiver, and optionally a worker for the conversation
 * workflows. Both first ask the legacy adapter for its capabilities and refuse to start without echo
 * identification (NoEchoIdentificationError), since every mirrored message would otherwise come back.
 */
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createCoexistActivities } from '../../../activities/coexist';
import { createAuditActivities } from '../../../activities/coexist-audit';
import type { CallScheduler } from '../../rate-limit/call-scheduler';
import { ZimClient } from '../../zim-client';
import { workflowActivationOptions } from '../../worker/workflow-activation-timeout';
import { stickyQueueTimeout } from '../../worker/sticky-queue';
import { workflowBundle } from '../../worker/workflow-bundle';
import type { CoexistStore } from '../coexist-store';
import type { LegacyClient } from '../legacy-client';
import type { SyncEvent } from '../sync-event';
import { requireEchoIdentification } from '../legacy-contract';
import { acceptingGate, handoffReader, syncReader } from '../sync-control';
import { createHandoffActivities } from '../../../activities/coexist-handoff';
import { settleEchoesInStore } from './echo-settling';
import { temporalHandoff } from './handoff';
import type { EchoWay } from './normalise';
import { startReceiver, type Receiver } from './receiver';

export const DEFAULT_COEXIST_TASK_QUEUE = 'zim-migrate-coexist';

/** The echo identification to use; throws NoEchoIdentificationError when the adapter offers none. */
export async function checkLegacyAdapter(legacy: LegacyClient): Promise<EchoWay[]> {
  return requireEchoIdentification(await legacy.capabilities());
}

export interface CoexistReceiverSettings {
  port: number;
  host: string;
  taskQueue: string;
  zim: { appId: number; callbackSecret: string };
  legacyWebhookSecret: string;
  echoWays: EchoWay[];
  store: CoexistStore;
  client: Client;
  /** The sync (`coexist start --name`): conversations carry it as a search attribute; 410 once it drains. */
  syncName?: string;
}

/** The receiver's record of the app backend's own ZIM server-API sends, which the sync leaves in ZIM (§3). */
export const recordNotMirrored = (store: CoexistStore) => (e: SyncEvent) =>
  store.markNotMirrored(e.origin, e.msgId!, e.conv, "a server-API send by the app's backend (source 1, not ours)");

export function startCoexistReceiver(s: CoexistReceiverSettings): Promise<Receiver> {
  // One describe of the sync (cached) serves both the gate and the historical-import handoff.
  const read = s.syncName ? syncReader(s.client, s.syncName) : undefined;
  return startReceiver({
    port: s.port,
    host: s.host,
    zim: s.zim,
    legacy: { webhookSecret: s.legacyWebhookSecret, echoWays: s.echoWays },
    putBody: (b, forMessages) => s.store.putBody(b, forMessages),
    notMirrored: recordNotMirrored(s.store),
    echoes: settleEchoesInStore(s.store, s.syncName),
    handoff: temporalHandoff(s.client, {
      taskQueue: s.taskQueue,
      ...(s.syncName && read
        ? { syncName: s.syncName, importHandoff: handoffReader(s.client, s.syncName, undefined, read) }
        : {}),
    }),
    ...(s.syncName && read ? { accepting: acceptingGate(s.client, s.syncName, undefined, read) } : {}),
  });
}

export async function createCoexistWorker(o: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: CoexistStore;
  zim: { appId: number; serverSecret: string; baseUrl: string };
  legacy: LegacyClient;
  scheduler?: CallScheduler;
  zimGroupOperator?: string;
  /** The environment the handoff opens a migration's staging with (a database password): this process's by default. */
  env?: NodeJS.ProcessEnv;
}): Promise<{ worker: Worker; zim: ZimClient; closeHandoffStores: () => Promise<void> }> {
  const activation = workflowActivationOptions(o.env);
  const zim = new ZimClient(o.zim);
  const scheduler = o.scheduler ? { scheduler: o.scheduler } : {};
  const handoff = createHandoffActivities({ store: o.store, ...(o.env ? { env: o.env } : {}) });
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    workflowBundle: await workflowBundle(),
    stickyQueueScheduleToStartTimeout: stickyQueueTimeout(),
    ...activation,
    activities: {
      ...createCoexistActivities({
        store: o.store,
        zim,
        legacy: o.legacy,
        ...scheduler,
        ...(o.zimGroupOperator ? { zimGroupOperator: o.zimGroupOperator } : {}),
      }),
      // The historical-import handoff reads the migration's staging (a database password from this environment).
      ...handoff,
      // The reconciliation audit (coexist start --audit-every-minutes, coexist stop) runs on the same workers.
      ...createAuditActivities({
        store: o.store,
        zim,
        legacy: o.legacy,
        ...scheduler,
        history: (staging, conv) => handoff.handoffHistory(staging, conv, []),
      }),
    },
  });
  return { worker, zim, closeHandoffStores: () => handoff.closeHandoffStores() };
}
