/** `zim-migrate receiver`: coexistence's webhook receiver, and optionally a worker for its conversation workflows. */
import type { Command } from 'commander';
import { z } from 'zod';
import { coexistStoreLocation, openCoexistStore, storeName } from '../../coexist/open-coexist-store';
import { LegacyClient } from '../../coexist/legacy-client';
import { NoEchoIdentificationError } from '../../coexist/legacy-contract';
import {
  checkLegacyAdapter,
  createCoexistWorker,
  DEFAULT_COEXIST_TASK_QUEUE,
  startCoexistReceiver,
} from '../../coexist/receiver/start';
import { readSecret, requireSecret } from '../../coexist/secrets';
import { ConfigError } from '../../config/config-error';
import { loadZimConfig } from '../../config/zim-config';
import { connectClient, connectWorkerConnection, temporalSettings } from '../../temporal-connection/connect';
import { parseFlags, untilStopSignal } from '../flags';
import type { Client } from '@temporalio/client';
import { syncName } from './coexist';
import { openCallScheduler } from '../../worker/migration-worker';
import { installWorkerLogger } from '../../worker/worker-logger';
import { mallocHint } from '../../worker/memory-env';

const flags = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  legacyApi: z.string().url().optional(),
  store: z.string().min(1),
  taskQueue: z.string().min(1),
  withWorker: z.boolean().optional(),
  workerOnly: z.boolean().optional(),
  sync: syncName,
  zimGroupOperator: z.string().min(1),
});

export function registerReceiverCommand(program: Command): void {
  program
    .command('receiver')
    .description(
      "Receive ZIM's callbacks and the legacy backend's routing events for coexistence, and hand each to its " +
        "conversation's workflow (docs/coexistence.md)"
    )
    .option('--port <n>', 'port to listen on', '8080')
    .option('--host <addr>', 'address to listen on (put TLS in front of it)', '127.0.0.1')
    .option('--legacy-api <url>', 'the legacy adapter API (env LEGACY_API_URL)')
    .option(
      '--store <file|url>',
      'the coexistence store: bodies and the mirror ledger; a SQLite file (receivers and workers on one machine) ' +
        'or a postgres:// URL (on several); env ZIM_MIGRATE_COEXIST_STORE, default coexist.sqlite'
    )
    .option('--task-queue <name>', `task queue of the conversation workflows (default ${DEFAULT_COEXIST_TASK_QUEUE})`)
    .option('--with-worker', 'also run a worker for the conversation workflows in this process')
    .option(
      '--worker-only',
      'run only the worker for the conversation workflows, no listener (workers and receivers scaled, or ' +
        'restarted, apart); --port, --host and --sync do not apply'
    )
    .option(
      '--sync <name>',
      'the sync its conversations belong to ("zim-migrate coexist start --name"); once it drains, answer 410',
      'default'
    )
    .option(
      '--zim-group-operator <user>',
      'registered ZIM account named as operator of mirrored invites, kicks and dismissals; ZIM group callbacks ' +
        'naming it are our own echoes',
      '__migration_bot'
    )
    .addHelpText(
      'after',
      `
Routes: POST /zim/callback (ZIM's callback URL), POST /legacy/events (the legacy routing webhook), GET /healthz.
A delivery with a bad signature, a wrong appid, a timestamp over 300 s off, or a replayed nonce is answered 401
and nothing starts; an authentic one is answered 200 once Temporal has accepted it, 503 when Temporal is
unreachable (both senders retry). Several receivers may run behind a load balancer; they keep no state of their
own beyond a per-process replay cache. Message bodies go to --store, never into Temporal.

The store: every receiver and worker of a sync names the same one. A SQLite file serves one machine; for
receivers and workers on several machines give each the same PostgreSQL URL, postgres://user@host:5432/db
(?schema=NAME, default public; its tables are zm_coexist_*), with the password in ZIM_MIGRATE_DATABASE_PASSWORD
or ZIM_MIGRATE_DATABASE_PASSWORD_FILE and TLS in ZIM_MIGRATE_DATABASE_TLS (docs/configuration.md#postgresql).

Before listening it reads the legacy adapter's GET /v1/capabilities and refuses to start (exit 2) when the
adapter offers no echo identification (neither originTag nor clientMsgId).

Secrets, from the environment or a file (<NAME>_FILE), never flags:
  ZIM_CALLBACK_SECRET        ZIM's callback secret (default: the ServerSecret, ZIM_SERVER_SECRET[_FILE])
  LEGACY_WEBHOOK_SECRET      the routing webhook's HMAC secret
  LEGACY_API_TOKEN           the legacy adapter API's bearer token
Also ZIM_APP_ID, ZIM_BASE_URL (for --with-worker) and TEMPORAL_* as for "zim-migrate worker".

With --worker-only the command is a worker alone: it needs LEGACY_API_TOKEN, the ZIM settings and the store
(the receivers' --store: the same file on their machine, or the same PostgreSQL database from any machine), not
the callback or webhook secrets.

Examples:
  $ ZIM_APP_ID=1234 ZIM_SERVER_SECRET_FILE=./zim.secret LEGACY_WEBHOOK_SECRET_FILE=./wh.secret \\
    LEGACY_API_TOKEN_FILE=./legacy.token zim-migrate receiver --legacy-api http://127.0.0.1:8070 --with-worker
  $ zim-migrate receiver --legacy-api http://127.0.0.1:8070 --port 8080            receivers, one or more
  $ zim-migrate receiver --legacy-api http://127.0.0.1:8070 --worker-only          and their workers apart
  $ ZIM_MIGRATE_COEXIST_STORE=postgres://zim@db.internal:5432/zim_migrate \
    ZIM_MIGRATE_DATABASE_PASSWORD_FILE=/run/secrets/zim_db_password zim-migrate receiver ...   on several machines

Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 Temporal, the legacy API or the store's database unreachable,
2 bad usage or configuration (a secret not set, a bad store URL, or an adapter without echo identification).`
    )
    .action(async (raw: Record<string, unknown>) => {
      const f = parseFlags(flags, {
        ...raw,
        legacyApi: raw.legacyApi ?? process.env.LEGACY_API_URL,
        store: coexistStoreLocation(raw.store as string | undefined),
        taskQueue: raw.taskQueue ?? DEFAULT_COEXIST_TASK_QUEUE,
      });
      if (!f.legacyApi) throw new ConfigError('set --legacy-api or LEGACY_API_URL: the legacy adapter API');
      const zimConfig = loadZimConfig();
      const legacy = new LegacyClient(f.legacyApi, requireSecret('LEGACY_API_TOKEN'));
      const webhookSecret = f.workerOnly ? undefined : requireSecret('LEGACY_WEBHOOK_SECRET');
      let echoWays;
      try {
        echoWays = await checkLegacyAdapter(legacy);
      } catch (err) {
        if (err instanceof NoEchoIdentificationError) throw new ConfigError(err.message);
        throw err;
      }
      const store = await openCoexistStore(f.store);
      const settings = temporalSettings();
      // A worker alone takes its tasks through its own worker connection: no client, no listener.
      let client: Client | undefined;
      let receiver: Awaited<ReturnType<typeof startCoexistReceiver>> | undefined;
      if (webhookSecret !== undefined) {
        client = await connectClient(settings);
        receiver = await startCoexistReceiver({
          port: f.port,
          host: f.host,
          taskQueue: f.taskQueue,
          zim: { appId: zimConfig.appId, callbackSecret: readSecret('ZIM_CALLBACK_SECRET') ?? zimConfig.serverSecret },
          legacyWebhookSecret: webhookSecret,
          echoWays,
          store,
          client,
          syncName: f.sync,
        });
      }
      let worker: Awaited<ReturnType<typeof createCoexistWorker>> | undefined;
      let schedule: Awaited<ReturnType<typeof openCallScheduler>> | undefined;
      let workerConnection: { close(): Promise<void> } | undefined;
      if (f.withWorker || f.workerOnly) {
        // This command stops its worker itself, after the receiver stopped taking events.
        installWorkerLogger('WARN', []);
        const { connection, namespace } = await connectWorkerConnection(settings);
        workerConnection = connection;
        // The same call schedule as the migration's workers: live sends and a running import share the budgets.
        schedule = await openCallScheduler(zimConfig);
        worker = await createCoexistWorker({
          scheduler: schedule.scheduler,
          connection,
          namespace,
          taskQueue: f.taskQueue,
          store,
          zim: zimConfig,
          legacy,
          zimGroupOperator: f.zimGroupOperator,
        });
      }
      console.log(
        receiver
          ? `zim-migrate receiver: listening at ${receiver.url} (echo identification: ${echoWays.join(', ')}; ` +
              `task queue ${f.taskQueue}, sync ${f.sync}${worker ? ', with a worker' : ''}; ` +
              `store ${storeName(f.store)})`
          : `zim-migrate receiver: worker only, no listener (echo identification: ${echoWays.join(', ')}; ` +
              `task queue ${f.taskQueue}; store ${storeName(f.store)})`
      );
      const hint = worker ? mallocHint() : undefined;
      if (hint) console.error(hint);
      const stop = untilStopSignal();
      const running = worker?.worker.run();
      await stop;
      if (receiver) await receiver.close();
      if (worker) {
        if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
        await running;
        await worker.zim.close();
      }
      await schedule?.close();
      await workerConnection?.close();
      await legacy.close();
      await client?.connection.close();
      await store.close();
    });
}
