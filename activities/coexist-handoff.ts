/**
 * The handoff's activity: asks the migration's staging ledger whether a conversation's history is imported, and
 * which of the ids it holds that history contains (src/coexist/handoff-history.ts). The staging is opened read-only,
 * once per location and worker; a database password comes from the worker's environment, never from the input.
 * A staging not there yet (the export not taken, or not planned yet) is an answer, not a failure: not imported.
 */
import { existsSync } from 'node:fs';
import type { CoexistStore } from '../src/coexist/coexist-store';
import { conversationHistory, type HistoryCheck } from '../src/coexist/handoff-history';
import { isDatabaseUrl, redactSecrets } from '../src/postgres/database-settings';
import { openStaging } from '../src/staging';
import { olderThanHistory } from '../src/coexist/older-than-history';
import type { MigrationStore } from '../src/staging/migration-store';

export interface HandoffDeps {
  env?: NodeJS.ProcessEnv;
  /**
   * The coexistence store: the held messages the history holds, or older than its newest, are dropped by their
   * conversation, never mirrored, so their bodies need not stay for them (without it they stay); the bodies of what
   * is still held are marked used, so they are not forgotten as unused however long the import takes.
   */
  store?: Pick<CoexistStore, 'settleBodies' | 'keepBodies'>;
}

export function createHandoffActivities(deps: HandoffDeps = {}) {
  const env = deps.env ?? process.env;
  const stores = new Map<string, Promise<MigrationStore>>();

  async function storeAt(location: string): Promise<MigrationStore | string> {
    if (!isDatabaseUrl(location) && !existsSync(location)) return `no staging at ${location} yet`;
    let opening = stores.get(location);
    if (!opening) {
      opening = openStaging(location, { readonly: true }, env);
      stores.set(location, opening);
    }
    try {
      return await opening;
    } catch (err) {
      // Not staged yet (or unreachable): asked again at the next check.
      stores.delete(location);
      return redactSecrets(`staging not readable yet: ${(err as Error).message}`, [env.ZIM_MIGRATE_DATABASE_PASSWORD]);
    }
  }

  return {
    /**
     * `messageTimes`: the asked messages' times (ms; messages only, not group changes), from which the workflow drops
     * those older than the history's newest as it does those the history holds. Absent (a workflow of an earlier
     * version): only the bodies of those the history holds are settled. `heldRefs`: the body references of every
     * event the conversation holds (group changes too), marked used (absent from a workflow of an earlier version).
     */
    async handoffHistory(
      staging: string,
      conv: string,
      msgIds: string[],
      messageTimes: Record<string, number> = {},
      heldRefs: string[] = []
    ): Promise<HistoryCheck> {
      // Bookkeeping only, as the settling below: a failure is made good by the next check, 30 s later.
      if (heldRefs.length > 0) await deps.store?.keepBodies(heldRefs).catch(() => undefined);
      const store = await storeAt(staging);
      if (typeof store === 'string') return { imported: false, waiting: store };
      let check: HistoryCheck;
      try {
        check = await conversationHistory(store, conv, msgIds);
      } catch (err) {
        // A staging the migration has not opened yet lacks its ledger's tables (a writable open readies them):
        // opened afresh at the next check.
        stores.delete(staging);
        await store.close().catch(() => undefined);
        return { imported: false, waiting: `import not started yet (${(err as Error).message})` };
      }
      // Every held legacy message the history holds, or older than its watermark, is dropped
      // (workflows/coexist-handoff.ts). Bookkeeping only: a failure leaves the bodies in the store.
      if (check.imported) {
        const { watermark } = check;
        const older = Object.entries(messageTimes).flatMap(([id, at]) => (olderThanHistory(at, watermark) ? [id] : []));
        const dropped = [...new Set([...check.inHistory, ...older])];
        if (dropped.length > 0) await deps.store?.settleBodies('legacy', dropped).catch(() => undefined);
      }
      return check;
    },
    async closeHandoffStores(): Promise<void> {
      const open = [...stores.values()];
      stores.clear();
      await Promise.all(open.map(async (s) => (await s.catch(() => undefined))?.close()));
    },
  };
}

export type HandoffActivities = Omit<ReturnType<typeof createHandoffActivities>, 'closeHandoffStores'>;
