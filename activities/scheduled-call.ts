/**
 * Every ZIM call an activity makes goes through here: reserve the Action's next slot in the shared call schedule
 * (heartbeating around the wait, so a dead worker is noticed and a cancelled activity stops waiting), call, and on
 * a "too frequent" answer push the whole Action back a second for every worker before Temporal retries.
 */
import { cancellationSignal, heartbeat } from '@temporalio/activity';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';

/** How long every caller of an Action waits after ZIM says "too frequent": ZIM counts calls per one-second window. */
export const TOO_FREQUENT_BACKOFF_MS = 1_000;

export interface RateLimitedError {
  reason?: string;
}

export function isTooFrequent(err: unknown): boolean {
  return (err as RateLimitedError | undefined)?.reason === 'rate-limited';
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
