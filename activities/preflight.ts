import { hostname } from 'node:os';
import { activityInfo } from '@temporalio/activity';

export interface PreflightReport {
  migrationId: string;
  workerHost: string;
  workerPid: number;
  nodeVersion: string;
  taskQueue: string;
  attempt: number;
}

/** Reports which worker ran it: the round trip proves a worker polls the queue and can execute activities. */
export async function preflight(input: { migrationId: string }): Promise<PreflightReport> {
  const info = activityInfo();
  return {
    migrationId: input.migrationId,
    workerHost: hostname(),
    workerPid: process.pid,
    nodeVersion: process.version,
    taskQueue: info.taskQueue,
    attempt: info.attempt,
  };
}
