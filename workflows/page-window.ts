import { patched } from '@temporalio/workflow';

/**
 * Marker of the wider default: a stage that started before it keeps 8 pages in flight on replay and after.
 */
const WIDER_PAGE_WINDOW = 'page-window-32';

/**
 * Page activities a pages stage (or a catch-up round's operation) keeps in flight by default. Each page is one ZIM
 * call made by a dispatched activity, a round trip of its own, so 8 held a friends stage at about 33 calls/s
 * whatever its budget (50,000 users at 300/s, docs/benchmarks.md); the call schedule, not this window, keeps the
 * calls within the budget.
 */
export const defaultPageWindow = (): number => (patched(WIDER_PAGE_WINDOW) ? 32 : 8);
