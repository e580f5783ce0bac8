import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { PreflightReport } from '../activities/preflight';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE } from '../src/shared/search-attributes';

const { preflight } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Proves that a worker is polling and can run activities before a migration is started. */
export async function preflightWorkflow(input: { migrationId: string }): Promise<PreflightReport> {
  upsertSearchAttributes([
    { key: ZIM_MIGRATION_ID, value: input.migrationId },
    { key: ZIM_MIGRATION_STAGE, value: 'preflight' },
  ]);
  return await preflight({ migrationId: input.migrationId });
}
