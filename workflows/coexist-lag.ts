/**
 * Recent sync lags of a conversation workflow, for `coexist status` (events per second and lag p50/p99 each way):
 * per direction the last LAG_SAMPLES (handled at, lag ms) pairs, so the state carried across continue-as-new stays
 * bounded. Lag is from the event's time on its side to the end of its mirror (workflow time).
 */
import type { SyncEvent } from '../src/coexist/sync-event';

export const LAG_SAMPLES = 200;

/** [handled at (ms), lag (ms)] */
export type LagSample = [number, number];
export type RecentLags = Record<SyncEvent['origin'], LagSample[]>;

export const emptyLags = (): RecentLags => ({ zim: [], legacy: [] });

export function recordLag(lags: RecentLags, e: SyncEvent, now: number): void {
  const list = lags[e.origin];
  list.push([now, Math.max(0, now - e.occurredAt)]);
  if (list.length > LAG_SAMPLES) list.splice(0, list.length - LAG_SAMPLES);
}
