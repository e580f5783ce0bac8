/**
 * Every ZIM call an activity makes goes through here: reserve the Action's next slot in the shared call schedule,
 * call, and on a "too frequent" answer push the whole Action back for every worker before Temporal retries.
 * The attempt heartbeats all along, waiting and calling: at a low budget a slot can be further out than the
 * heartbeat timeout, and an attempt Temporal takes for dead while it still waits would run next to its own retry,
 * both sending the message (reconciliation only sees what has landed).
 */
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat } from '@temporalio/activity';
import type { CallPriority, CallScheduler } from '../src/rate-limit/call-scheduler';

/** How long every caller of an Action waits after ZIM says "too frequent": long enough for a one-second window to slide past the burst, short enough not to waste the budget. */
export const TOO_FREQUENT_BACKOFF_MS = 250;

/** Well inside the 10 s heartbeat timeout; the SDK throttles what it sends to the server anyway. */
const HEARTBEAT_EVERY_MS = 2_000;

/** Longer than any one ZIM call may take (the client's whole-request timeout, 15 s by default), with room to spare. */
const CALL_MAY_TAKE_MS = 30_000;

export interface RateLimitedError {
  reason?: string;
}

export function isTooFrequent(err: unknown): boolean {
  return (err as RateLimitedError | undefined)?.reason === 'rate-limited';
}

/**
 * Runs `work` while heartbeating, so that a live attempt is never timed out and retried alongside itself, and a
 * dead one is noticed within the heartbeat timeout. Outside an activity (tests calling activities directly) it
 * just runs `work`.
 */
export async function keepingAlive<T>(work: () => Promise<T>): Promise<T> {
  let local: boolean;
  try {
    local = activityInfo().isLocal;
  } catch {
    return work();
  }
  // Local activities (the message imports) cannot heartbeat; their start-to-close timeout bounds them instead.
  if (local) return work();
  heartbeat();
  const timer = setInterval(() => {
    try {
      heartbeat();
    } catch {
      // The activity is finishing; the next tick is cleared below.
    }
  }, HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export async function scheduledCall<T>(
  scheduler: CallScheduler,
  action: string,
  key: string | undefined,
  call: () => Promise<T>,
  priority: CallPriority = 'backfill'
): Promise<T> {
  const cancelled = cancellationSignal();
  return keepingAlive(async () => {
    await scheduler.acquire(action, key, cancelled, priority);
    // Temporal gave up on this attempt while it waited (a heartbeat's answer says so): another attempt owns the
    // call now, so this one must not make it.
    cancelled.throwIfAborted();
    // Nor may a call start that could outlive the attempt's start-to-close timeout: the retry would reconcile while
    // it is still in flight, and both could land.
    const info = activityInfo();
    const deadline = info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs;
    if (info.startToCloseTimeoutMs > 0 && Date.now() > deadline - CALL_MAY_TAKE_MS)
      throw ApplicationFailure.retryable(`${action}: waited for a call slot until too close to this attempt's timeout`);
    try {
      return await call();
    } catch (err) {
      if (isTooFrequent(err)) await scheduler.backOff(action, key, TOO_FREQUENT_BACKOFF_MS);
      throw err;
    }
  });
}

export interface ReadRetryOptions {
  /** Tries per read before the activity fails (and Temporal retries it). Default 6. */
  attempts?: number;
  /** First pause between tries, doubled each time up to 2 s. Default 100 ms. */
  initialDelayMs?: number;
}

/**
 * An idempotent read (a query) retried in place: an activity that makes many reads (a verify page) would otherwise
 * restart from its first read after any transient fault, and under a few percent of faults never finish.
 * Writes never come here: their retry must go through reconciliation.
 */
export async function scheduledRead<T>(
  scheduler: CallScheduler,
  action: string,
  key: string | undefined,
  read: () => Promise<T>,
  options: ReadRetryOptions = {}
): Promise<T> {
  const attempts = options.attempts ?? 6;
  let delay = options.initialDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await scheduledCall(scheduler, action, key, read);
    } catch (err) {
      if (attempt >= attempts || (err as { outcome?: string }).outcome !== 'retryable') throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

/** Every page of a paged query (ZIM's `Next` cursor, '0' at the end), each page a scheduled, retried read. */
export async function readAllPages<P extends { next: string }>(
  scheduler: CallScheduler,
  action: string,
  readPage: (next: string) => Promise<P>
): Promise<P[]> {
  const pages: P[] = [];
  let next = '0';
  do {
    const page = await scheduledRead(scheduler, action, undefined, () => readPage(next));
    pages.push(page);
    next = page.next;
  } while (next !== '0');
  return pages;
}
