import type { Command } from 'commander';
import { loadZimConfig } from '../../config/zim-config';
import { SqliteMigrationData } from '../../staging/sqlite/migration-data';
import { connectWorkerConnection } from '../../temporal-connection/connect';
import { createMigrationWorker } from '../../worker/migration-worker';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run a worker: executes migrations (workflows and ZIM calls) until Ctrl-C')
    .addHelpText(
      'after',
      `
Configuration comes from the environment:
  ZIM_APP_ID, ZIM_SERVER_SECRET or ZIM_SERVER_SECRET_FILE   the ZIM app (the secret stays in this process)
  ZIM_BASE_URL            ZIM's API host (default https://zim-api.zego.im) or an emulator's URL
  ZIM_MIGRATE_BUDGET_DB   the call schedule shared by every worker on this machine (default ~/.zim-migrate/...)
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*   Temporal (the Temporal CLI's conventions)
  ZIM_MIGRATE_TASK_QUEUE  default zim-migrate

Run several workers against one Temporal cluster for throughput; on one machine they share the call schedule,
so ZIM's per-Action budgets hold whatever their number. Each worker must reach the staging files by the paths
given to "zim-migrate start".

Example:
  $ ZIM_APP_ID=1234 ZIM_SERVER_SECRET_FILE=./secret zim-migrate worker`
    )
    .action(async () => {
      const zim = loadZimConfig();
      const { connection, namespace, taskQueue } = await connectWorkerConnection();
      const worker = await createMigrationWorker({
        connection,
        namespace,
        taskQueue,
        zim,
        openData: async (path) => new SqliteMigrationData(path),
      });
      console.error(
        `zim-migrate worker: task queue ${taskQueue}, namespace ${namespace}, ZIM ${zim.baseUrl} app ${zim.appId}`
      );
      await worker.run();
      await connection.close();
    });
}
