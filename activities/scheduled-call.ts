/**
 * Every ZIM call an activity makes goes through here: reserve the Action's next slot in the shared call schedule
 * (heartbeating around the wait, so a dead worker is noticed and a cancelled activity stops waiting), call, and on
 * a "too frequent" answer push the whole Action back a second for every worker before Temporal retries.
 */
import { activityInfo, cancellationSignal, heartbeat as sendHeartbeat } from '@temporalio/activity';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';

/** How long every caller of an Action waits after ZIM says "too frequent": long enough for a one-second window to slide past the burst, short enough not to waste the budget. */
export const TOO_FREQUENT_BACKOFF_MS = 250;

export interface RateLimitedError {
  reason?: string;
}

export function isTooFrequent(err: unknown): boolean {
  return (err as RateLimitedError | undefined)?.reason === 'rate-limited';
}

/** Local activities (the message imports) cannot heartbeat; the SDK would only log a warning per call. */
function heartbeat(): void {
  if (!activityInfo().isLocal) sendHeartbeat();
}

export async function scheduledCall<T>(
  scheduler: CallScheduler,
  action: string,
  key: string | undefined,
  call: () => Promise<T>
): Promise<T> {
  heartbeat();
  await scheduler.acquire(action, key, cancellationSignal());
  heartbeat();
  try {
    return await call();
  } catch (err) {
    if (isTooFrequent(err)) scheduler.backOff(action, key, TOO_FREQUENT_BACKOFF_MS);
    throw err;
  }
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
