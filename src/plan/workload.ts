import type { ZimAction } from './actions';

/** What the migration will ask of ZIM, counted from the staged data (before any rate is applied). */
export interface Workload {
  /** Calls per Action over the whole migration. */
  calls: Record<ZimAction, number>;
  /** For per-group Actions (1/s per group, groups in parallel): the most calls any one group needs. */
  maxCallsPerGroup: Partial<Record<ZimAction, number>>;
}
