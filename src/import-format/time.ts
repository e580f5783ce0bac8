import type { TimeValue } from './schemas';

/** Epoch-ms numbers below this (1973-03-03) are almost surely seconds: rule time.seconds. */
export const PLAUSIBLE_EPOCH_MS = 100_000_000_000;

/** A validated time (epoch ms or ISO-8601 with offset, see schemas.ts) as epoch milliseconds. */
export function toEpochMs(value: TimeValue): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

export const DAY_MS = 86_400_000;
