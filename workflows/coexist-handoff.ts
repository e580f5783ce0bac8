/**
 * The historical-import handoff inside a conversation's workflow (docs/coexistence.md §10). Capture starts before
 * the export is taken, so a live legacy message may also be in the history the import writes. Until the staging
 * ledger shows this conversation's history imported, its live legacy messages and group changes are HELD (in
 * order, as events: ids and body references, no text); a check runs at once and then every `checkEveryMs` while any is held. Once
 * imported, each held message the history holds (by source id) or that is older than the history's newest
 * (its watermark: in the export, or left out of it on purpose) is DROPPED, and the rest RELEASED, in order, to
 * the ordinary mirror. Later legacy messages no newer than the watermark (a late redelivery, a retried parked
 * one) are checked the same way, one by one; newer ones go straight through. ZIM-side events are never held.
 * More than `holdLimit` held messages would grow the history without bound: the next ones are parked, with the
 * reason, for `coexist parked --retry` once the history is imported; so is whatever is held when the sync stops.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { HandoffActivities } from '../activities/coexist-handoff';
import type { HandoffSetting } from '../src/coexist/handoff-setting';
import { KEEP_BODY_EVERY_MS } from '../src/coexist/body-use';
import { olderThanHistory } from '../src/coexist/older-than-history';
import type { SyncEvent } from '../src/coexist/sync-event';

export interface HandoffStats {
  /** Live legacy messages (and group changes) held while the conversation's history was not imported. */
  held: number;
  /** Held (or late) ones the imported history already holds: not mirrored. */
  dropped: number;
  /** Held ones mirrored (group changes: applied) once the history was imported. */
  released: number;
  /** Parked: beyond the hold limit, or still held when the sync stopped. */
  parked: number;
  /** What the conversation still waits for (from the last check); absent once imported. */
  waiting?: string;
}

/** Carried across continue-as-new. */
export interface HandoffCarry {
  held: SyncEvent[];
  /** Set once the history was seen imported: its watermark (null: nothing staged). */
  imported?: { watermark: number | null };
}

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;
const acts = proxyActivities<HandoffActivities>({ startToCloseTimeout: '2 minutes', retry });

/**
 * Legacy messages, and legacy group changes: a join or a new group applied to ZIM before the import created the
 * group or registered its users would be refused there, and lost. Group changes are convergent, so releasing one
 * the history already holds changes nothing: they are never dropped.
 */
const holds = (e: SyncEvent) => e.origin === 'legacy' && e.kind !== 'echo';

export interface HandoffGate {
  /** Whether `e` is taken by the handoff (held, dropped or parked) instead of mirrored now. */
  intercept(e: SyncEvent): Promise<boolean>;
  /** Whether `intercept(e)` is sure to let `e` through, without a check (what a batch of mirrors may hold). */
  passes(e: SyncEvent): boolean;
  /**
   * Runs the check when one is due; releases (through `release`, all at once, in their order) or drops what was
   * held once imported.
   */
  tick(release: Release): Promise<void>;
  /** How long the conversation may wait for events before the next check (idleMs when none is due). */
  waitMs(idleMs: number): number;
  /** Something is held: the conversation must not close as idle. */
  holding(): boolean;
  /** The sync stops: a last check, then whatever is still held is parked. */
  close(release: Release): Promise<void>;
  carry(): HandoffCarry;
}

/** Mirrors released events in their order (the workflow batches the messages among them). */
export type Release = (events: SyncEvent[]) => Promise<void>;

export function handoffGate(
  setting: HandoffSetting,
  conv: string,
  carried: HandoffCarry | undefined,
  stats: HandoffStats,
  park: (e: SyncEvent, reason: string) => Promise<void>
): HandoffGate {
  const held: SyncEvent[] = [...(carried?.held ?? [])];
  let imported = carried?.imported;
  let nextCheckAt = 0;

  const older = (e: SyncEvent, watermark: number | null) => olderThanHistory(e.occurredAt, watermark);
  /**
   * The times of the messages asked about, for the activity to settle the bodies of those dropped as older (an
   * argument only: the same command, so histories of before replay unchanged).
   */
  const timesOf = (events: SyncEvent[]) =>
    Object.fromEntries(events.flatMap((e) => (e.kind === 'message' && e.msgId ? [[e.msgId, e.occurredAt]] : [])));

  /** When each held body's reference was last passed to be marked used (workflow time; not carried: passed anew). */
  const refPassedAt = new Map<string, number>();
  /**
   * The held events' body references due to be marked used, so their bodies are not forgotten as unused while held:
   * each at most once per KEEP_BODY_EVERY_MS, not at every check (up to a thousand references every 30 s would grow
   * the history for nothing). An argument only: histories of before replay unchanged.
   */
  const refsDue = (): string[] => {
    const now = Date.now();
    const refs = new Set(held.flatMap((e) => (e.bodyRef ? [e.bodyRef] : [])));
    for (const ref of refPassedAt.keys()) if (!refs.has(ref)) refPassedAt.delete(ref);
    const due = [...refs].filter((ref) => now - (refPassedAt.get(ref) ?? -Infinity) >= KEEP_BODY_EVERY_MS);
    for (const ref of due) refPassedAt.set(ref, now);
    return due;
  };

  async function check(release: Release): Promise<void> {
    const r = await acts.handoffHistory(
      setting.staging,
      conv,
      held.flatMap((e) => (e.msgId ? [e.msgId] : [])),
      timesOf(held),
      refsDue()
    );
    nextCheckAt = Date.now() + setting.checkEveryMs;
    if (!r.imported) {
      stats.waiting = r.waiting;
      return;
    }
    delete stats.waiting;
    imported = { watermark: r.watermark };
    const inHistory = new Set(r.inHistory);
    const released: SyncEvent[] = [];
    for (const e of held.splice(0)) {
      const inTheHistory = (e.msgId !== undefined && inHistory.has(e.msgId)) || older(e, r.watermark);
      if (e.kind === 'message' && inTheHistory) stats.dropped++;
      else {
        stats.released++;
        released.push(e);
      }
    }
    await release(released);
  }

  /** Goes straight through, without a check: not the handoff's, or newer than the imported history. */
  const passes = (e: SyncEvent) =>
    !holds(e) ||
    (imported !== undefined &&
      (e.kind !== 'message' || imported.watermark === null || e.occurredAt > imported.watermark));

  return {
    passes,
    async intercept(e) {
      if (passes(e)) return false;
      if (imported) {
        // As old as the history: mirrored only when the history does not hold it (a late redelivery would).
        const r = await acts.handoffHistory(setting.staging, conv, e.msgId ? [e.msgId] : [], timesOf([e]));
        if (r.imported) {
          if (!(e.msgId && r.inHistory.includes(e.msgId)) && !older(e, r.watermark)) return false;
          stats.dropped++;
          return true;
        }
        // A catch-up round staged more of this conversation: held again until that is imported too.
        imported = undefined;
        stats.waiting = r.waiting;
        nextCheckAt = Date.now() + setting.checkEveryMs;
      }
      if (held.length >= setting.holdLimit) {
        stats.parked++;
        await park(
          e,
          `handoff: ${setting.holdLimit} live legacy messages already held for this conversation, whose history ` +
            `is not imported yet (${stats.waiting ?? 'not checked yet'}); retry it once the import has settled`
        );
        return true;
      }
      held.push(e);
      stats.held++;
      return true;
    },
    async tick(release) {
      if (imported || held.length === 0 || Date.now() < nextCheckAt) return;
      await check(release);
    },
    waitMs(idleMs) {
      if (imported || held.length === 0) return idleMs;
      return Math.max(1, Math.min(idleMs, nextCheckAt - Date.now()));
    },
    holding: () => held.length > 0,
    async close(release) {
      if (held.length === 0) return;
      await check(release);
      for (const e of held.splice(0)) {
        stats.parked++;
        await park(
          e,
          `handoff: the sync stopped before this conversation's history was imported (${stats.waiting ?? ''}); ` +
            'retry it once the import has settled'
        );
      }
    },
    carry: () => ({ held: [...held], ...(imported ? { imported } : {}) }),
  };
}
