/**
 * The handoff's question to the migration's staging ledger (docs/coexistence.md §10): is this conversation's history
 * imported, and which of the live legacy messages a conversation holds does that history already contain?
 *
 * - Imported: the import's accounts stage is settled (every staged user registered, so a mirrored message does not
 *   name an unknown user), and every staged message of the conversation is settled in the ledger (done, failed or
 *   skipped: what the import will ever write of it is written). A group staged also needs its creation settled.
 *   A conversation the staging does not hold has no history to wait for: it needs the accounts stage only.
 * - Its watermark: the newest staged message's time (the same per-conversation watermark catch-up rounds use).
 * - In the history: a held message whose legacy id is a staged message's source id (also under the plan's message
 *   id prefixes).
 * Ids and times only: no message text leaves the staging.
 */
import type { MigrationStore, StagedMessage } from '../staging/migration-store';
import { ledgerKeys } from '../staging/ledger-keys';

export type HistoryCheck =
  | { imported: false; /** What is still awaited, for `coexist status` (ids and counts, no text). */ waiting: string }
  | {
      imported: true;
      /** The newest staged message's time (ms); null when the staging holds none of this conversation. */
      watermark: number | null;
      /** The asked ids the history holds. */
      inHistory: string[];
    };

const PAGE = 500;

const settled = (status: string | undefined) => status === 'done' || status === 'failed' || status === 'skipped';

/** A conversation's staged messages, page by page, with the ledger stage and key of each. */
async function* stagedPages(
  store: MigrationStore,
  conv: string
): AsyncGenerator<{ stage: 'peer-messages' | 'group-messages'; keys: string[]; messages: StagedMessage[] }> {
  const peer = /^peer:([^:]+):([^:]+)$/.exec(conv);
  if (peer) {
    const [a, b] = [peer[1]!, peer[2]!];
    // Each side's copy is imported apart (the owner's ImportPeerMsg), and either may lack what its owner deleted.
    for (const [owner, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const range = (await store.ownerConversationRanges(owner)).find((r) => r.peer === other);
      if (!range) continue;
      for (let seq = range.start; seq < range.start + range.count;) {
        const limit = Math.min(PAGE, range.start + range.count - seq);
        const messages = await store.readOwnerMessages(owner, seq === 0 ? null : seq - 1, limit);
        if (messages.length === 0) break;
        yield { stage: 'peer-messages', keys: messages.map((m) => ledgerKeys.message(owner, m.sourceId)), messages };
        seq += messages.length;
      }
    }
    return;
  }
  const group = /^group:(.+)$/.exec(conv)?.[1];
  if (!group) throw new Error(`not a conversation key: ${conv}`);
  for (let after: number | null = null; ;) {
    const messages = await store.readGroupMessages(group, after, PAGE);
    if (messages.length === 0) return;
    yield { stage: 'group-messages', keys: messages.map((m) => ledgerKeys.message(group, m.sourceId)), messages };
    after = messages[messages.length - 1]!.seq;
  }
}

export async function conversationHistory(
  store: MigrationStore,
  conv: string,
  msgIds: readonly string[]
): Promise<HistoryCheck> {
  const [work, counts] = await Promise.all([store.stageWork(), store.ledgerCounts()]);
  const accounts = counts.accounts ?? { done: 0, failed: 0, skipped: 0, pending: 0 };
  const registered = accounts.done + accounts.failed + accounts.skipped;
  if (registered < work.accounts.planned)
    return { imported: false, waiting: `accounts: ${registered} of ${work.accounts.planned} users imported` };

  const group = /^group:(.+)$/.exec(conv)?.[1];
  if (group !== undefined) {
    const staged = await store.group(group);
    if (staged) {
      const created = (await store.ledgerGet('groups', [ledgerKeys.member(group, staged.owner)])).values().next();
      if (!settled(created.value?.status)) return { imported: false, waiting: `group ${group} not created yet` };
    }
  }

  const prefixes = ['', ...Object.values((await store.meta()).settings.messageIdPrefix).filter(Boolean)];
  const wanted = new Map<string, string>();
  for (const id of msgIds) for (const p of prefixes) wanted.set(p + id, id);
  const inHistory = new Set<string>();
  let watermark: number | null = null;
  let staged = 0;
  let pending = 0;
  for await (const page of stagedPages(store, conv)) {
    const ledger = await store.ledgerGet(page.stage, page.keys);
    page.messages.forEach((m, i) => {
      staged++;
      if (!settled(ledger.get(page.keys[i]!)?.status)) pending++;
      if (watermark === null || m.sentTime > watermark) watermark = m.sentTime;
      const asked = wanted.get(m.sourceId);
      if (asked !== undefined) inHistory.add(asked);
    });
  }
  if (pending > 0) return { imported: false, waiting: `${staged - pending} of ${staged} staged messages imported` };
  return { imported: true, watermark, inHistory: [...inHistory] };
}
