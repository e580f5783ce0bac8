/**
 * Sendbird mixes time units (message created_at in ms, channel and user created_at in seconds, user last_seen_at a
 * formatted string): every time becomes epoch ms here. A number below 1e11 is taken as seconds (1e11 ms is 1973,
 * 1e11 s is the year 5138), the same threshold the validator uses to reject seconds given as ms.
 */
const SECONDS_BELOW = 100_000_000_000;

export function toEpochMs(value: number): number {
  return value < SECONDS_BELOW ? Math.round(value * 1000) : Math.round(value);
}

/** Sendbird writes 0 (or nothing) for "never"; those have no time. */
export function optionalMs(value: number | null | undefined): number | undefined {
  return value === null || value === undefined || value <= 0 ? undefined : toEpochMs(value);
}
