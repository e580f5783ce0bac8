/**
 * How often a body still held is marked used (coexistence store's unused rule, docs/coexistence.md §4): an hour is
 * nothing against the unused bound (2 days at least). The import handoff passes each held body's reference at most
 * this often, and the store writes a body's use time at most this often. Pure: the workflow bundle imports it.
 */
export const KEEP_BODY_EVERY_MS = 3_600_000;
