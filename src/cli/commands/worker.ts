import type { Command } from 'commander';
import { describeSource } from '../../config/layered-settings';
import { resolveZimSettings } from '../../config/zim-config';
import { redactIfUrl } from '../../postgres/database-settings';
import { connectWorkerConnection, resolveTemporalSettings } from '../../temporal-connection/connect';
import { checkZimCredentials } from '../../worker/check-zim-credentials';
import { mallocHint } from '../../worker/memory-env';
import { createMigrationWorker } from '../../worker/migration-worker';
import { workflowActivationTimeoutS } from '../../worker/workflow-activation-timeout';
import { installWorkerLogger } from '../../worker/worker-logger';
import { settingLayers } from '../setting-layers';

/** How the worker's first line starts, printed once its workflow bundle is built (scripts wait for it). */
export const WORKER_STARTED_LINE = 'zim-migrate worker: Temporal';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run a worker: executes migrations (workflows and ZIM calls) until Ctrl-C or SIGTERM')
    .option('--app-id <id>', 'ZIM AppID (env ZIM_APP_ID, config "appId")')
    .option('--server-secret-file <file>', 'a file holding only the ServerSecret (env ZIM_SERVER_SECRET[_FILE])')
    .option('--base-url <url>', 'ZIM\'s API host or an emulator\'s URL (env ZIM_BASE_URL, config "baseUrl")')
    .option(
      '--budget-db <file|url>',
      'the call schedule: a SQLite file, or a postgres:// URL shared by workers on several machines (env ZIM_MIGRATE_BUDGET_DB, config "budgetDb")'
    )
    .option(
      '--budget-headroom <percent>',
      'share of each budget left unused against jitter (env ZIM_MIGRATE_BUDGET_HEADROOM, default 2)'
    )
    .option(
      '--zim-timeout-ms <ms>',
      'how long one ZIM call may take, 1000-15000 (env ZIM_MIGRATE_ZIM_TIMEOUT_MS, default 15000)'
    )
    .option(
      '--workflow-heap-mb <mb>',
      'heap of the thread that runs workflows, 96-4096 (env ZIM_MIGRATE_WORKFLOW_HEAP_MB, default 256)'
    )
    .option('--task-queue <name>', 'task queue to poll (env ZIM_MIGRATE_TASK_QUEUE, config "taskQueue")')
    .option('--skip-zim-check', 'start without first checking the credentials with one signed ZIM read')
    .addHelpText(
      'after',
      `
Each setting comes from its flag, else the environment, else the config file (--config, ZIM_MIGRATE_CONFIG or
./zim-migrate.config.json), else the default (docs/configuration.md):
  ZIM_APP_ID                 the ZIM app
  ZIM_SERVER_SECRET          the ServerSecret itself (environment only), or
  ZIM_SERVER_SECRET_FILE     a file holding it; the secret stays in this process and is never logged
  ZIM_BASE_URL               ZIM's API host (default https://zim-api.zego.im) or an emulator's URL
  ZIM_MIGRATE_BUDGET_DB      the call schedule every worker on this machine shares
                             (default ~/.zim-migrate/call-budgets.sqlite)
  ZIM_MIGRATE_BUDGET_HEADROOM
                             percent of each budget left unused (default 2: calls are spaced at 98% of it),
                             so that jitter on the way to ZIM never puts one call too many in its 1-s window;
                             raise it if "too frequent" refusals pass 0.1% (zim-migrate call-schedule shows them)
  ZIM_MIGRATE_ZIM_TIMEOUT_MS
                             how long one ZIM call may take (default 15000); a worker that dies mid-import holds
                             that conversation for 3 times this before another worker checks ZIM and goes on
  ZIM_MIGRATE_WORKFLOW_HEAP_MB
                             heap of the thread that runs workflows (default 256), which sizes the workflow cache;
                             keeps the workflows' memory flat whatever the migration's size
  ZIM_MIGRATE_WORKFLOW_ACTIVATION_TIMEOUT_S
                             how long one workflow activation may run (environment only, default 60, 5-3600);
                             one cut short aborts the worker process, so keep it well above what a busy machine takes
  ZIM_MIGRATE_TASK_QUEUE     default zim-migrate
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE
                             Temporal, in the Temporal CLI's conventions ("temporalProfile" in the config file)

Before taking tasks the worker makes one signed read (QueryUserInfos) and refuses to start if ZIM's gateway rejects
its credentials (wrong secret or AppID, clock off by 10 minutes, wrong host), instead of failing every record.

Run several worker processes on one machine for throughput: they share the call schedule, so ZIM's per-Action
budgets hold whatever their number. Workers on several machines share a migration only when its staging is a
postgres:// URL and ZIM_MIGRATE_BUDGET_DB is one too (password in ZIM_MIGRATE_DATABASE_PASSWORD[_FILE]); a SQLite
schedule or staging file is per machine (docs/operations.md, "Running on several machines"; rehearse it with
"zim-migrate dev --staging postgres --workers 3"). Each worker must read the staging files at the paths given to
"zim-migrate start". "zim-migrate config" shows the settings a worker would use, and where each came from.

Examples:
  $ ZIM_APP_ID=1234567890 ZIM_SERVER_SECRET_FILE=./zim_server_secret zim-migrate worker
  $ zim-migrate --config prod.json worker            AppID, host, secret file and task queue from prod.json
  $ TEMPORAL_PROFILE=prod zim-migrate worker          Temporal address, namespace, TLS from temporal.toml

Exit codes: 0 stopped by Ctrl-C or SIGTERM after finishing its tasks, 1 failure (Temporal or ZIM unreachable,
the worker failed), 2 bad usage or configuration (a setting missing or invalid, credentials refused by ZIM).`
    )
    .action(async (opts: { skipZimCheck?: boolean }, command: Command) => {
      const layers = settingLayers(command);
      installWorkerLogger();
      const { config: zim, sources } = resolveZimSettings(layers);
      const temporal = resolveTemporalSettings(layers);
      workflowActivationTimeoutS(); // a bad value stops the worker here, before it connects anywhere
      if (!opts.skipZimCheck) await checkZimCredentials(zim);
      const { connection, namespace, taskQueue } = await connectWorkerConnection(temporal);
      const worker = await createMigrationWorker({
        connection,
        namespace,
        taskQueue,
        zim,
      });
      console.error(
        `${WORKER_STARTED_LINE} ${temporal.connectionOptions.address} namespace ${namespace} task queue ` +
          `${taskQueue}; ZIM ${zim.baseUrl} app ${zim.appId}; ServerSecret from ${describeSource(sources.serverSecret)}; ` +
          `call schedule ${redactIfUrl(zim.budgetDbPath)}${layers.file ? `; config file ${layers.file.path}` : ''}`
      );
      const hint = mallocHint();
      if (hint) console.error(hint);
      await worker.run();
      await connection.close();
    });
}
