/**
 * How long one workflow activation may run in the workflow thread before the SDK's vm timeout stops it
 * (WorkerOptions.isolateExecutionTimeout, 5 s of wall time by default). Stopping it can take the process down: when
 * V8 terminates the code inside a promise reaction while async hooks are on in that thread (the SDK's
 * AsyncLocalStorage turns them on), Node's async hook stack is left unbalanced and the next message the thread
 * receives aborts the whole process with "async hook stack has become corrupted" (temporalio/sdk-typescript#939,
 * nodejs/node#38503). Our workflows compute for milliseconds; what stretches an activation is a starved CPU or a long
 * garbage collection (workers died this way at load average 20 on 2 cores, docs/benchmarks.md), so the limit sits far
 * above what a slow machine takes, and stays finite so that a workflow stuck in a loop still ends its worker.
 */
import { z } from 'zod';
import { ConfigError } from '../config/config-error';

export const WORKFLOW_ACTIVATION_TIMEOUT_ENV = 'ZIM_MIGRATE_WORKFLOW_ACTIVATION_TIMEOUT_S';
export const DEFAULT_WORKFLOW_ACTIVATION_TIMEOUT_S = 60;

const MESSAGE = 'must be the seconds one workflow activation may run, a whole number from 5 to 3600 (default 60)';
const seconds = z.coerce.number({ error: MESSAGE }).int(MESSAGE).min(5, MESSAGE).max(3600, MESSAGE);

/** The activation timeout from the environment, in seconds; throws ConfigError naming the variable. */
export function workflowActivationTimeoutS(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[WORKFLOW_ACTIVATION_TIMEOUT_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_WORKFLOW_ACTIVATION_TIMEOUT_S;
  const parsed = seconds.safeParse(raw.trim());
  if (!parsed.success) throw new ConfigError(`${WORKFLOW_ACTIVATION_TIMEOUT_ENV} ${MESSAGE} (it is "${raw}")`);
  return parsed.data;
}

/**
 * The worker option every worker the product starts runs its workflows with. The SDK's WorkerOptions type does not
 * list isolateExecutionTimeout ("not exposed at the moment"), but Worker.create applies it over its 5 s default
 * (test/integration/workflow-activation-timeout.test.ts fails if an SDK upgrade stops doing so).
 */
export function workflowActivationOptions(env: NodeJS.ProcessEnv = process.env): { isolateExecutionTimeout: number } {
  return { isolateExecutionTimeout: workflowActivationTimeoutS(env) * 1000 };
}
