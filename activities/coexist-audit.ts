/**
 * The reconciliation audit's activities (docs/coexistence.md §9): list the conversations to audit, and audit a
 * page of them. Auditing reads both sides over the window (ZIM through QueryPeerMsg / QueryGroupMsg in the call
 * schedule, the legacy side through its read API), compares them (src/coexist/audit.ts), records each divergence
 * in the store and repairs it by handing the missing message to its conversation's workflow as an ordinary event
 * (signal-with-start, as the receiver does) under its own key: the mirror path (ledger intent, tail check) makes
 * the write, exactly once. The audit itself never writes to either side. Bodies go to the store; what these
 * activities take and return holds ids and counts only.
 */
import { activityInfo, getClient, heartbeat } from '@temporalio/activity';
import {
  compareConversation,
  parseConversation,
  repairKey,
  type AuditWindow,
  type MissingMessage,
  type ZimListedMessage,
} from '../src/coexist/audit';
import type { CoexistStore } from '../src/coexist/coexist-store';
import { LegacyApiError, type LegacyClient } from '../src/coexist/legacy-client';
import type { LegacyMessage } from '../src/coexist/legacy-contract';
import { temporalHandoff } from '../src/coexist/receiver/handoff';
import { workflowIdFor, type SyncEvent } from '../src/coexist/sync-event';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ZIM_COEXIST_SYNC } from '../src/shared/search-attributes';
import { ZimPermanentError, type ZimClient } from '../src/zim-client';
import { scheduledCall } from './scheduled-call';
import { legacyPagesBack, zimPagesBack } from '../src/coexist/read-back';
import type { HistoryCheck } from '../src/coexist/handoff-history';
import { queuedMessagesQuery } from '../workflows/coexist';

export interface AuditDeps {
  store: CoexistStore;
  zim: ZimClient;
  legacy: LegacyClient;
  scheduler?: CallScheduler;
  /** How a repair reaches its conversation (default: signal-with-start through the worker's Temporal client). */
  handoff?: (e: SyncEvent, syncName: string | undefined) => Promise<void>;
  /** Messages per read (default 100, ZIM's largest page). */
  pageSize?: number;
  /** Most pages read per conversation and side (default 50); a conversation cut short is counted as truncated. */
  maxPages?: number;
  /** The historical-import handoff's question to the staging ledger (activities/coexist-handoff.ts). */
  history?: (staging: string, conv: string) => Promise<HistoryCheck>;
  /**
   * The messages a conversation's workflow still holds (`<origin>:<id>`; default: its queuedMessages query through
   * the worker's Temporal client, none when it is closed or unreachable).
   */
  queued?: (conv: string) => Promise<string[]>;
}

/** Each side is read back this much before the window: the two sides' clocks may disagree. */
export const AUDIT_CLOCK_SKEW_MS = 5 * 60_000;

export interface AuditPageInput extends AuditWindow {
  conversations: string[];
  /** The sync the repaired conversations belong to (their ZimCoexistSync search attribute when started anew). */
  syncName?: string;
  /**
   * The sync's historical-import staging (`coexist start --handoff`). Imported messages carry no mirror tag, so the
   * audit leaves a conversation alone until its history is imported, then audits only what is newer than it.
   */
  handoff?: string;
}

export interface AuditTally {
  conversations: number;
  /** Messages on one side with no counterpart on the other. */
  found: number;
  /** Of those, handed to their conversation's mirror path. */
  repaired: number;
  /** Gaps in the legacy sequence (not repairable: the read API does not return those messages). */
  gaps: number;
  /** Conversations with more in the window than maxPages: audited only in part. */
  truncated: number;
  /** Conversations left alone because their history is not imported yet (handoff); absent in older tallies. */
  waiting?: number;
  /**
   * Messages on one side only that their conversation still holds, queued behind others: on their way, not lost
   * (not recorded, not repaired); absent in older tallies.
   */
  queued?: number;
}

export const emptyTally = (): AuditTally => ({
  conversations: 0,
  found: 0,
  repaired: 0,
  gaps: 0,
  truncated: 0,
  waiting: 0,
  queued: 0,
});

export function createAuditActivities(deps: AuditDeps) {
  const { store, zim, legacy } = deps;
  const pageSize = deps.pageSize ?? 100;
  const maxPages = deps.maxPages ?? 50;
  const zimCall = <T>(action: string, call: () => Promise<T>): Promise<T> =>
    deps.scheduler ? scheduledCall(deps.scheduler, action, undefined, call) : call();
  const queued =
    deps.queued ??
    (async (conv: string): Promise<string[]> => {
      try {
        return await getClient().workflow.getHandle(workflowIdFor(conv)).query(queuedMessagesQuery);
      } catch {
        // Closed (it holds nothing), not started, or no Temporal client (outside an activity).
        return [];
      }
    });
  const handoff =
    deps.handoff ??
    ((e: SyncEvent, syncName: string | undefined) =>
      temporalHandoff(getClient(), { taskQueue: activityInfo().taskQueue, ...(syncName ? { syncName } : {}) })(e));

  /** ZIM's messages newest first back to `since`; complete: false when maxPages ran out first. */
  async function zimSince(conv: string, since: number): Promise<{ messages: ZimListedMessage[]; complete: boolean }> {
    const c = parseConversation(conv)!;
    const read = (cursor: { Next?: string }) =>
      c.kind === 'group'
        ? zimCall('QueryGroupMsg', () => zim.queryGroupMsg({ GroupId: c.groupId, Limit: pageSize, ...cursor }))
        : zimCall('QueryPeerMsg', () =>
            zim.queryPeerMsg({ FromUserId: c.users[0], ToUserId: c.users[1], Limit: pageSize, ...cursor })
          );
    const out: ZimListedMessage[] = [];
    try {
      for await (const page of zimPagesBack(read, since, maxPages)) {
        out.push(...page.messages);
        if (page.last) return { messages: out, complete: true };
      }
    } catch (err) {
      // A group or user ZIM does not know (dismissed, never created): nothing there to compare.
      if (err instanceof ZimPermanentError) return { messages: out, complete: true };
      throw err;
    }
    return { messages: out, complete: false };
  }

  /** The legacy side's messages newest pages first back to `since` (by its per-conversation sequence). */
  async function legacySince(conv: string, since: number): Promise<{ messages: LegacyMessage[]; complete: boolean }> {
    const out: LegacyMessage[] = [];
    try {
      for await (const page of legacyPagesBack(legacy, conv, since, pageSize, maxPages)) {
        out.push(...page.messages);
        heartbeatIfActivity();
        if (page.last) return { messages: out, complete: true };
      }
    } catch (err) {
      // An adapter that does not know the conversation (the reference server answers position 0): nothing there.
      if (err instanceof LegacyApiError && err.status === 404 && out.length === 0)
        return { messages: [], complete: true };
      throw err;
    }
    return { messages: out, complete: false };
  }

  async function repair(m: MissingMessage, body: string, syncName: string | undefined): Promise<boolean> {
    const key = { conv: m.conv, origin: m.origin, msgId: m.msgId };
    const ledger = await store.record(m.origin, m.msgId);
    if (ledger?.state === 'SENT') {
      // The mirror path would answer "already": only an operator can tell what became of it on the other side.
      await store.markRepaired(key, `not repaired: the ledger has it mirrored as ${ledger.targetId ?? '?'}; check it`);
      return false;
    }
    const event: SyncEvent = {
      eventKey: repairKey(m),
      origin: m.origin,
      conv: m.conv,
      kind: 'message',
      occurredAt: m.at,
      order: m.order,
      from: m.from,
      ...(m.groupId !== undefined ? { groupId: m.groupId } : m.to !== undefined ? { to: m.to } : {}),
      bodyRef: await store.putBody(body),
      msgId: m.msgId,
    };
    await handoff(event, syncName);
    await store.markRepaired(key, `handed to ${workflowIdFor(m.conv)} as ${event.eventKey}`);
    return true;
  }

  return {
    /**
     * One page of the conversations to audit, in key order after `after`: those the store knows (mirrors, group
     * state, parked, earlier divergences) and, with a sync name, those with a workflow in the sync (which includes
     * conversations that only ever saw echoes).
     */
    async listAuditConversations(input: {
      after?: string;
      limit: number;
      syncName?: string;
    }): Promise<{ conversations: string[]; more: boolean }> {
      const all = new Set(await store.conversations());
      if (input.syncName !== undefined) {
        const query = `${ZIM_COEXIST_SYNC.name} = "${input.syncName}" AND WorkflowType = "conversationSyncWorkflow"`;
        for await (const w of getClient().workflow.list({ query }))
          if (w.workflowId.startsWith('coexist:')) all.add(w.workflowId.slice('coexist:'.length));
      }
      const after = input.after;
      const sorted = [...all].filter((c) => parseConversation(c) && (after === undefined || c > after)).sort();
      return { conversations: sorted.slice(0, input.limit), more: sorted.length > input.limit };
    },

    /** Audits each conversation over the window; records and repairs what it finds. */
    async auditConversations(input: AuditPageInput): Promise<AuditTally> {
      const tally = emptyTally();
      for (const conv of input.conversations) {
        if (!parseConversation(conv)) continue;
        let from = input.from;
        if (input.handoff !== undefined && deps.history) {
          // Both sides' copies of the history are untagged: only what is newer than it can be compared.
          const h = await deps.history(input.handoff, conv);
          if (!h.imported) {
            tally.waiting = (tally.waiting ?? 0) + 1;
            continue;
          }
          if (h.watermark !== null) from = Math.max(from, h.watermark + 1);
        }
        const since = from - AUDIT_CLOCK_SKEW_MS;
        const [z, l] = [await zimSince(conv, since), await legacySince(conv, since)];
        heartbeatIfActivity();
        const { missing, gaps } = compareConversation(conv, z.messages, l.messages, { from, until: input.until });
        tally.conversations++;
        if (!z.complete || !l.complete) tally.truncated++;
        for (const g of gaps) {
          tally.gaps++;
          const msgId = `gap:${g.first}-${g.last}`;
          const at = l.messages.find((m) => m.seq === g.last + 1)?.sentAt ?? 0;
          await store.recordDivergence({ conv, origin: 'legacy', msgId, kind: 'gap', at });
        }
        // Read once, after both sides: a message its conversation still holds is on its way (a backlog at the
        // stop, a mirror waiting out a send lease), not lost.
        const held = missing.length > 0 ? new Set(await queued(conv)) : new Set<string>();
        for (const m of missing) {
          if (held.has(`${m.origin}:${m.msgId}`)) {
            tally.queued = (tally.queued ?? 0) + 1;
            continue;
          }
          tally.found++;
          await store.recordDivergence({ conv, origin: m.origin, msgId: m.msgId, kind: 'missing', at: m.at });
          const body =
            m.origin === 'zim'
              ? (z.messages.find((x) => x.msgId === m.msgId)?.msgBody ?? '')
              : (l.messages.find((x) => x.id === m.msgId)?.body ?? '');
          if (await repair(m, body, input.syncName)) tally.repaired++;
        }
      }
      return tally;
    },
  };
}

/** Outside an activity (a test calling the functions directly) there is nobody to heartbeat to. */
function heartbeatIfActivity(): void {
  try {
    heartbeat();
  } catch {
    // not in an activity
  }
}

export type AuditActivities = ReturnType<typeof createAuditActivities>;
