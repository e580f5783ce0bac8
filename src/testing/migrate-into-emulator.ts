/** Runs one migration with an in-process worker against an emulator: the shared core of e2e tests and benchmarks. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { STAGES } from '../shared/stages';
import { migrationStartMetadata } from '../shared/ui-metadata';
import { workflowIds } from '../shared/workflow-api';
import { SqliteMigrationData } from '../staging/sqlite/migration-data';
import { createMigrationWorker } from '../worker/migration-worker';
import type { ZimEmulator } from '../zim-emulator';
import type { MigrationInput, migrationWorkflow } from '../../workflows/migration';
import { TEST_APP_ID, TEST_SECRET } from './migration-rig';

export type MigrationHandle = WorkflowHandle<typeof migrationWorkflow>;

export interface MigrateIntoEmulatorOptions {
  connection: NativeConnection;
  client: Client;
  emulator: ZimEmulator;
  stagingPath: string;
  migrationId: string;
  budgets?: Record<string, number>;
  /** More of the migration's input: a subset of stages, another error budget... */
  input?: Pick<MigrationInput, 'stages' | 'errorBudget' | 'errorBudgetMinRecords'>;
  /** Runs while the migration does (pause it, fault the emulator, sample counters...). */
  during?: (handle: MigrationHandle, emulator: ZimEmulator) => Promise<void>;
}

export async function migrateIntoEmulator(o: MigrateIntoEmulatorOptions) {
  const taskQueue = `migrate-${o.migrationId}`;
  const migrationWorker = await createMigrationWorker({
    connection: o.connection,
    taskQueue,
    zim: {
      appId: TEST_APP_ID,
      serverSecret: TEST_SECRET,
      baseUrl: o.emulator.url,
      budgetDbPath: path.join(mkdtempSync(path.join(tmpdir(), 'budget-')), 'b.sqlite'),
    },
    openData: async (p) => new SqliteMigrationData(p),
  });
  const running = migrationWorker.run();
  try {
    const handle: MigrationHandle = await o.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
      taskQueue,
      workflowId: workflowIds.migration(o.migrationId),
      args: [{ ...o.input, migrationId: o.migrationId, stagingPath: o.stagingPath, budgets: o.budgets }],
      ...migrationStartMetadata({
        migrationId: o.migrationId,
        stagingPath: o.stagingPath,
        stages: o.input?.stages ?? STAGES,
      }),
    });
    await o.during?.(handle, o.emulator);
    return await handle.result();
  } finally {
    migrationWorker.worker.shutdown();
    await running;
  }
}
