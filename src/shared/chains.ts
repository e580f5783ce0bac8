/**
 * Chains: calls that must go one after the other. A message import is a chain step: it waits for its slot in the
 * call schedule, calls ZIM, writes the ledger and returns to its workflow (a local activity) before the next step of
 * the same conversation copy or group history may start, since ZIM keeps a conversation in import order.
 *
 * What the workflows really serialise (workflows/entity-sequence.ts): one child per owner, whose conversations run
 * LANES_PER_OWNER at a time, each lane taking the owner's next conversation (in staging order) when its current one
 * is done; one child per group, its history strictly in order. Free of Node APIs (workflow code imports it).
 */

/** Conversations of one owner imported at once (each strictly in order). */
export const LANES_PER_OWNER = 4;

/**
 * The time of one chain step with budgets out of the way (ms), as `npm run bench:chain` measured it on a shared
 * 2-core machine: 16.8 ms at load average 9.5 (docs/benchmarks.md), rounded. `plan --step-ms` (ZIM_MIGRATE_STEP_MS,
 * config "stepMs") sets a machine's own, e.g. lower on a quiet machine or higher with ZIM farther than the emulator.
 */
export const DEFAULT_STEP_MS = 17;

/**
 * Steps the longest lane of one owner takes: its conversations (lengths in staging order) handed out to `lanes`
 * lanes, each to the lane that frees up first, as the owner's child does when every step takes as long.
 */
export function ownerChainSteps(conversationLengths: Iterable<number>, lanes = LANES_PER_OWNER): number {
  const busy = new Array<number>(lanes).fill(0);
  for (const n of conversationLengths) {
    let free = 0;
    for (let i = 1; i < lanes; i++) if (busy[i]! < busy[free]!) free = i;
    busy[free]! += n;
  }
  return Math.max(...busy);
}
