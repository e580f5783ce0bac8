/**
 * The call gate: a flag in the migration's staging database that the parent workflow closes on pause or cancel.
 * Message imports run as local activities inside their owner's workflow task, so a pause signal reaches the owner
 * only when that task next completes (every few seconds); the gate stops them within one poll instead.
 */

/** Long enough for the owner's workflow task to complete and deliver the pause; short enough to notice a resume. */
export const GATE_MAX_WAIT_MS = 10_000;
const GATE_POLL_MS = 200;

/**
 * Resolves true as soon as the gate is open, false if it stayed closed for `maxWaitMs` (the caller defers its step
 * and lets its workflow decide) or the activity was cancelled.
 */
export async function waitForOpenGate(
  isOpen: () => Promise<boolean>,
  cancelled: AbortSignal,
  maxWaitMs = GATE_MAX_WAIT_MS
): Promise<boolean> {
  const giveUpAt = Date.now() + maxWaitMs;
  for (;;) {
    if (await isOpen()) return true;
    if (cancelled.aborted || Date.now() >= giveUpAt) return false;
    await new Promise((r) => setTimeout(r, GATE_POLL_MS));
  }
}

/** What a step returns when the gate kept it from calling: nothing done, nothing sent. */
export const DEFERRED_STEP = { done: 0, failed: 0, skipped: 0, calls: 0, hasMore: true, deferred: true } as const;
