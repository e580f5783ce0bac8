import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/**
 * Activities that call ZIM. They wait for their slot in the global per-Action call schedule before calling, so the
 * start-to-close timeout covers that wait. They heartbeat all along, waiting and calling, so a worker that dies is
 * noticed within the heartbeat timeout and the call retried elsewhere (after reconciliation), and a live attempt
 * is never retried alongside itself.
 * Retries are unbounded with backoff: a permanent ZIM refusal is recorded in the ledger and returned as a failed
 * count, never thrown, so only transient trouble reaches this policy.
 */
export const ZIM_CALL_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  // Our call scheduler does the rate limiting; eager dispatch would only skip the task queue, which is harmless,
  // but keeping every activity on the queue keeps worker load even across processes.
  allowEagerDispatch: false,
};

/** Activities that only read staging or Temporal. */
export const LOCAL_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * The message imports (ImportPeerMsg / ImportGroupMsg, nearly every call of a migration) run as local activities:
 * the worker runs them inside the owner's workflow task and records one marker each, instead of a scheduled,
 * dispatched and completed activity task. That cuts Temporal's work per call several-fold (docs/benchmarks.md).
 * The task stays open while they run and completes every 8 s (80% of the default 10-s task timeout): that is when
 * signals reach the owner, so pause and cancel also close the call gate (activities/call-gate.ts). They cannot
 * heartbeat; a dead worker is noticed by the workflow task timeout, and the re-run reconciles like any retry.
 */
export const ZIM_IMPORT_LOCAL_ACTIVITY_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: ZIM_CALL_ACTIVITY_OPTIONS.startToCloseTimeout,
  retry: ZIM_CALL_ACTIVITY_OPTIONS.retry,
};
