/**
 * The reconciliation audit's activities (docs/coexistence.md §9): list the conversations to audit, and audit a
 * page of them. Auditing reads both sides over the window (ZIM through QueryPeerMsg / QueryGroupMsg in the call
 * schedule, the legacy side through its read API), compares them (src/coexist/audit.ts), records each divergence
 * in the store and repairs it by handing the missing message to its conversation's workflow as an ordinary event
 * (signal-with-start, as the receiver does) under its own key: the mirror path (ledger intent, tail check) makes
 * the write, exactly once. The audit itself never writes to either side. Bodies go to the store; what these
 * activities take and return holds ids and counts only.
 */
import { createHash } from 'node:crypto';
import { activityInfo, getClient, heartbeat } from '@temporalio/activity';
import {
  compareConversation,
  parseConversation,
  repairKey,
  type AuditWindow,
  type MissingMessage,
  type ZimListedMessage,
} from '../src/coexist/audit';
import type { CoexistStore, DivergenceKey, GroupRecord } from '../src/coexist/coexist-store';
import { LegacyApiError, type LegacyClient } from '../src/coexist/legacy-client';
import type { LegacyCapabilities, LegacyGroupState, LegacyMessage } from '../src/coexist/legacy-contract';
import { temporalHandoff } from '../src/coexist/receiver/handoff';
import { workflowIdFor, type SyncEvent } from '../src/coexist/sync-event';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ZIM_COEXIST_SYNC } from '../src/shared/search-attributes';
import { ZimCode, ZimPermanentError, type ZimClient } from '../src/zim-client';
import { ZIM_PAGE_LIMITS } from '../src/zim-client/limits';
import { ZIM_ROLE } from '../src/zim-client/roles';
import { compareGroup, type GroupSide } from '../src/coexist/group-audit';
import { compareProfile, mergeProfile, parseAgreed, profileFields, type Profile } from '../src/coexist/group-profile';
import { scheduledCall } from './scheduled-call';
import { legacyPagesBack, zimPagesBack } from '../src/coexist/read-back';
import type { HistoryCheck } from '../src/coexist/handoff-history';
import {
  legacyConversationsSince,
  zimConversationsSince,
  ZIM_CONVERSATION_PAGE,
  type Listed,
} from '../src/coexist/discovery';
import { queuedEventsQuery } from '../workflows/coexist';

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
  /**
   * Most pages read of one user's conversation listing per side (default 20: ZIM's 1000 newest take 2 of 500, the
   * legacy side's pages are of 100); a listing cut short is counted (`listingsCut`).
   */
  maxListingPages?: number;
  /** The historical-import handoff's question to the staging ledger (activities/coexist-handoff.ts). */
  history?: (staging: string, conv: string) => Promise<HistoryCheck>;
  /**
   * The messages a conversation's workflow still holds (`<origin>:<id>`; default: its queuedEvents query through
   * the worker's Temporal client, none when it is closed or unreachable).
   */
  queued?: (conv: string) => Promise<string[]>;
}

/** Each side is read back this much before the window: the two sides' clocks may disagree. */
export const AUDIT_CLOCK_SKEW_MS = 5 * 60_000;

/** Conversation keys added to the store per write while the sync's workflows are listed. */
const NOTE_BATCH = 500;
/** Conversations per page of the legacy side's listing. */
const LEGACY_LISTING_PAGE = 100;
/** What ZIM may answer for a user it does not know (zim-api.md §2). */
const NOT_REGISTERED = new Set<number>([
  ZimCode.SENDER_NOT_REGISTERED,
  ZimCode.USER_NOT_REGISTERED,
  ZimCode.FROM_USER_NOT_REGISTERED,
]);

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
  /** Messages on one side only that the sync leaves there by policy (the app backend's own ZIM sends). */
  notMirrored?: number;
  /** Conversations the store did not know, found by listing its users' conversations on each side, and audited. */
  discovered?: number;
  /** Users' listings that may have left out conversations (ZIM's newest 1000 all in the window, pages ran out). */
  listingsCut?: number;
}

export const emptyTally = (): AuditTally => ({
  conversations: 0,
  found: 0,
  repaired: 0,
  gaps: 0,
  truncated: 0,
  waiting: 0,
  queued: 0,
  notMirrored: 0,
  discovered: 0,
  listingsCut: 0,
});

export function createAuditActivities(deps: AuditDeps) {
  const { store, zim, legacy } = deps;
  const pageSize = deps.pageSize ?? 100;
  const maxPages = deps.maxPages ?? 50;
  const maxListingPages = deps.maxListingPages ?? 20;
  const zimCall = <T>(action: string, call: () => Promise<T>): Promise<T> =>
    deps.scheduler ? scheduledCall(deps.scheduler, action, undefined, call) : call();
  const queued =
    deps.queued ??
    (async (conv: string): Promise<string[]> => {
      try {
        return await getClient().workflow.getHandle(workflowIdFor(conv)).query(queuedEventsQuery);
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
      bodyRef: await store.putBody(body, [{ origin: m.origin, originId: m.msgId }]),
      msgId: m.msgId,
    };
    await handoff(event, syncName);
    await store.markRepaired(key, `handed to ${workflowIdFor(m.conv)} as ${event.eventKey}`);
    return true;
  }

  /** ZIM's listing of the user's conversations since `since` (none for a user ZIM does not know). */
  async function zimListing(user: string, since: number): Promise<Listed> {
    const read = (cursor: { Next?: string }) =>
      zimCall('QueryConversationList', () =>
        zim.queryConversationList({ FromUserId: user, Limit: ZIM_CONVERSATION_PAGE, ...cursor })
      );
    try {
      return await zimConversationsSince(read, user, since, maxListingPages);
    } catch (err) {
      if (err instanceof ZimPermanentError && NOT_REGISTERED.has(err.code)) return { keys: [], cut: false };
      throw err;
    }
  }

  let caps: Promise<LegacyCapabilities> | undefined;
  /** The legacy adapter's capabilities (asked once; a failed answer is asked again later). */
  const capabilities = () =>
    (caps ??= legacy.capabilities().catch((err: unknown) => {
      caps = undefined;
      throw err;
    }));
  /** Whether the legacy adapter offers GET /v1/groups/{id}. */
  const groupStateOffered = async () => (await capabilities()).groupState === true;

  /** ZIM's group now: its owner and members, and its profile (null: no such group). */
  async function zimGroup(groupId: string): Promise<(GroupSide & { profile: Profile }) | null> {
    const members: { userId: string; role: number }[] = [];
    try {
      // ZIM's member list pages: the first cursor is "0", and "0" comes back after the last page.
      let next = '0';
      do {
        const page = await zimCall('QueryGroupMemberList', () =>
          zim.queryGroupMemberList({ GroupId: groupId, Limit: ZIM_PAGE_LIMITS.QueryGroupMemberList.max, Next: next })
        );
        members.push(...page.members);
        next = page.members.length > 0 ? page.next : '0';
      } while (next !== '0');
    } catch (err) {
      if (err instanceof ZimPermanentError && err.code === ZimCode.GROUP_NOT_FOUND) return null;
      throw err;
    }
    if (members.length === 0) return null;
    const owner = members.find((m) => m.role === ZIM_ROLE.owner)?.userId ?? members[0]!.userId;
    const side: GroupSide = { owner, members: members.map((m) => m.userId) };
    const info = await zimCall('QueryGroupInfo', () => zim.queryGroupInfo({ FromUserId: owner, GroupId: groupId }));
    return {
      ...side,
      ...(info.groupName ? { name: info.groupName } : {}),
      ...(info.createTime ? { createdAt: info.createTime } : {}),
      // ZIM has no callback for a profile change: the audit's comparison is how one made there is found.
      profile: { name: info.groupName ?? '', notice: info.groupNotice ?? '', avatar: info.groupAvatar ?? '' },
    };
  }

  /** A group finding (its id at most 500 characters), recorded with why it is left for an operator. */
  async function leaveGroupFinding(key: DivergenceKey, at: number, why: string): Promise<void> {
    const k = { ...key, msgId: key.msgId.slice(0, 500) };
    await store.recordDivergence({ ...k, kind: 'group', at });
    await store.markRepaired(k, `not repaired: ${why}`);
  }

  /** A group finding, recorded and handed back to its conversation as `event` (applied as convergent state). */
  async function handBackGroupFinding(
    key: DivergenceKey,
    at: number,
    event: SyncEvent,
    syncName: string | undefined
  ): Promise<void> {
    const k = { ...key, msgId: key.msgId.slice(0, 500) };
    await store.recordDivergence({ ...k, kind: 'group', at });
    await handoff(event, syncName);
    await store.markRepaired(k, `handed to ${workflowIdFor(k.conv)} as ${event.eventKey}`);
  }

  /**
   * Compares a group's existence and members on both sides with what the store saw them agree on (pure:
   * src/coexist/group-audit.ts), records the baseline both agree on, and hands each change found on one side only
   * to the conversation as that side's group event, which applies it as convergent state. Ambiguous differences
   * are recorded for an operator, not repaired.
   */
  async function auditGroup(conv: string, groupId: string, from: number, syncName: string | undefined) {
    const out = { found: 0, repaired: 0 };
    // The agreed state is read before both sides: read after, it could hold a change the worker applied to one
    // side after that side was read, and the audit would take the other side's older value for a change there.
    const readAt = Date.now();
    const record = await store.group(groupId);
    const legacyGroup = await legacy.group(groupId);
    const zimSide = await zimGroup(groupId);
    const legacySide: GroupSide | null = legacyGroup && {
      owner: legacyGroup.owner,
      members: legacyGroup.members,
      name: legacyGroup.name,
      ...(legacyGroup.createdAt !== undefined ? { createdAt: legacyGroup.createdAt } : {}),
    };
    const users = new Set([...(zimSide?.members ?? []), ...(legacySide?.members ?? [])]);
    const known = new Map<string, boolean>();
    for (const u of users) {
      const m = await store.member(groupId, u);
      if (m) known.set(u, m.member);
    }
    const audit = compareGroup(zimSide, legacySide, { live: record?.live ?? null, members: known }, from);
    // The baseline: stamped at time 0, so it never makes a real event of either side look stale.
    const baseline = { origin: 'legacy' as const, changedAt: 0 };
    if (audit.agreedLive) await store.setGroup(groupId, { live: true, ...baseline });
    if (audit.agreed.length) await store.setMembers(groupId, audit.agreed, { member: true, ...baseline });
    const now = Date.now();
    for (const a of audit.ambiguous) {
      out.found++;
      await leaveGroupFinding(
        { conv, origin: a.has, msgId: `${a.about === 'group' ? 'exists' : 'members'}:${a.users.join(',')}` },
        now,
        a.about === 'group'
          ? `the group is on the ${a.has} side only and the store cannot tell a lost creation from a lost ` +
              'dismissal; create or dismiss it by hand'
          : `these members are on the ${a.has} side only and no audit saw both sides agree on them before (a ` +
              'join there or a leave on the other side); make the group match by hand'
      );
    }
    for (const r of audit.repairs) {
      out.found++;
      const names = 'users' in r ? r.users : [];
      // The owner of the side the change is applied to acts for it there (ZIM writes go as the migration's bot).
      const target = r.origin === 'zim' ? legacySide : zimSide;
      const event: SyncEvent = {
        eventKey: `audit:group:${groupId}:${r.origin}:${r.change}:${createHash('sha256').update(names.join(',')).digest('hex').slice(0, 16)}`,
        origin: r.origin,
        conv,
        kind: 'group',
        // A creation at its own time: the group's messages the audit hands back with it are handled after it (a
        // group found this way, its creation lost too, has them).
        occurredAt: r.change === 'created' ? r.createdAt : now,
        order: 0,
        groupId,
        groupEvent: r.change,
        ...(names.length ? { users: names } : {}),
        ...(r.change === 'created'
          ? { operator: r.owner, bodyRef: await store.putBody(JSON.stringify({ owner: r.owner, name: r.name })) }
          : target
            ? { operator: target.owner }
            : {}),
      };
      await handBackGroupFinding(
        { conv, origin: r.origin, msgId: `${r.change}:${names.join(',')}` },
        now,
        event,
        syncName
      );
      out.repaired++;
    }
    if (zimSide && legacySide && legacyGroup && record?.live !== false) {
      const p = await auditProfile(conv, groupId, zimSide, legacyGroup, record, readAt, syncName);
      out.found += p.found;
      out.repaired += p.repaired;
    }
    return out;
  }

  /**
   * Compares the group's profile on both sides with the one the store saw them agree on (pure:
   * src/coexist/group-profile.ts), records what both agree on as the baseline, and hands each side's change to the
   * conversation as that side's `changed` event (the fields by body reference). This is how a change made in ZIM,
   * which fires no callback for it, reaches the legacy side.
   */
  async function auditProfile(
    conv: string,
    groupId: string,
    zimSide: { owner: string; profile: Profile },
    legacyGroup: LegacyGroupState,
    record: GroupRecord | null,
    /** Before either side was read: a change found was made before it. */
    readAt: number,
    syncName: string | undefined
  ) {
    const out = { found: 0, repaired: 0 };
    const agreed = parseAgreed(record?.profile);
    const p = compareProfile(zimSide.profile, profileFields(legacyGroup), agreed);
    if (p.agreed) {
      // Over the state as it is now (the worker may have applied a change since it was read), keeping its stamp
      // (or time 0), so the baseline never makes a real event look stale.
      // (A group the worker dismissed meanwhile is left dismissed.)
      const current = await store.group(groupId);
      if (current?.live !== false)
        await store.setGroup(groupId, {
          live: true,
          origin: current?.origin ?? 'legacy',
          changedAt: current?.changedAt ?? 0,
          profile: mergeProfile(parseAgreed(current?.profile), p.agreed),
        });
    }
    const now = Date.now();
    if (p.ambiguous.length) {
      out.found++;
      // Recorded on the ZIM side, the one whose changes are seen only by comparison.
      await leaveGroupFinding(
        { conv, origin: 'zim', msgId: `profile:${p.ambiguous.join(',')}` },
        now,
        `the group's ${p.ambiguous.join(', ')} differ between the sides and no audit saw them agree since both ` +
          'last changed; set them by hand'
      );
    }
    const writable = (await capabilities()).groupProfile === true;
    for (const c of p.changes) {
      out.found++;
      const bodyRef = await store.putBody(JSON.stringify(c.fields));
      // Keyed by the change and the agreed state it was found against: every audit finding it hands the same key,
      // and a later change to the same value (after others) a new one. The body reference is a keyed hash.
      const digest = createHash('sha256')
        .update([bodyRef, record?.origin, record?.changedAt, record?.profile].join('|'))
        .digest('hex')
        .slice(0, 16);
      const key = { conv, origin: c.origin, msgId: `changed:${Object.keys(c.fields).join(',')}:${digest}` };
      if (c.origin === 'zim' && !writable) {
        await leaveGroupFinding(key, now, 'the legacy adapter offers no profile write; set it by hand');
        continue;
      }
      const event: SyncEvent = {
        eventKey: `audit:group:${groupId}:${c.origin}:changed:${digest}`,
        origin: c.origin,
        conv,
        kind: 'group',
        // Not later than the change: a same-side event made after the read (a dismissal) is not stale against it.
        occurredAt: readAt,
        order: 0,
        groupId,
        groupEvent: 'changed',
        bodyRef,
        // The owner of the side it is applied to acts for it there (ZIM wants the owner or an admin).
        operator: c.origin === 'zim' ? legacyGroup.owner : zimSide.owner,
      };
      await handBackGroupFinding(key, now, event, syncName);
      out.repaired++;
    }
    return out;
  }

  /**
   * Adds the sync's conversation workflows to the store's conversations (which includes conversations whose events
   * left no row there: echoes only, events refused or held for a handoff): one visibility listing, heartbeating.
   */
  async function noteSyncWorkflows(syncName: string): Promise<void> {
    const query = `${ZIM_COEXIST_SYNC.name} = "${syncName}" AND WorkflowType = "conversationSyncWorkflow"`;
    let batch: string[] = [];
    for await (const w of getClient().workflow.list({ query })) {
      if (w.workflowId.startsWith('coexist:')) batch.push(w.workflowId.slice('coexist:'.length));
      if (batch.length >= NOTE_BATCH) {
        await store.noteConversations(batch);
        batch = [];
        heartbeatIfActivity();
      }
    }
    await store.noteConversations(batch);
  }

  /** One page of `items` in key order after `after` (the few conversations found for a page of users). */
  const pageAfter = (items: Iterable<string>, after: string | undefined, limit: number) => {
    const sorted = [...items].filter((c) => after === undefined || c > after).sort();
    return { items: sorted.slice(0, limit), more: sorted.length > limit };
  };

  return {
    /**
     * One page of the conversations the sync knows, in key order after `after`: those the store knows (mirrors,
     * group state, parked, earlier divergences) and, with a sync name, those with a workflow in the sync, which the
     * audit's first page (no `after`) adds to the store, so each page costs one indexed range of the store.
     */
    async listAuditConversations(input: {
      after?: string;
      limit: number;
      syncName?: string;
    }): Promise<{ conversations: string[]; more: boolean }> {
      if (input.after === undefined && input.syncName !== undefined) await noteSyncWorkflows(input.syncName);
      // One more than the page, to tell whether there are more; keys that name no conversation are passed over.
      const want = input.limit + 1;
      const out: string[] = [];
      for (let after = input.after; ;) {
        const keys = await store.conversationsAfter(after, want);
        out.push(...keys.filter((c) => parseConversation(c)));
        if (out.length >= want || keys.length < want) break;
        after = keys.at(-1);
      }
      return { conversations: out.slice(0, input.limit), more: out.length > input.limit };
    },

    /** One page of the users the store has seen (its one-to-one conversations, its groups' members), in order. */
    async listAuditUsers(input: { after?: string; limit: number }): Promise<{ users: string[]; more: boolean }> {
      const users = await store.usersAfter(input.after, input.limit + 1);
      return { users: users.slice(0, input.limit), more: users.length > input.limit };
    },

    /**
     * The conversations `users` were active in since the window's start (less the clock skew) that the sync does
     * not know, as each side lists them: ZIM's QueryConversationList (in the call schedule) and, when the adapter
     * offers it, the legacy GET /v1/users/{id}/conversations. A page of them in key order after `after`; `cut`
     * counts the users whose listing may have left some out (on the first page only).
     */
    async discoverAuditConversations(input: {
      users: string[];
      from: number;
      after?: string;
      limit: number;
      syncName?: string;
    }): Promise<{ conversations: string[]; more: boolean; cut: number }> {
      const since = input.from - AUDIT_CLOCK_SKEW_MS;
      const legacyLists = (await capabilities()).conversationList === true;
      const found = new Set<string>();
      let cut = 0;
      for (const user of input.users) {
        const lists = [await zimListing(user, since)];
        if (legacyLists)
          lists.push(await legacyConversationsSince(legacy, user, since, LEGACY_LISTING_PAGE, maxListingPages));
        for (const l of lists) {
          for (const k of l.keys) found.add(k);
          if (l.cut) cut++;
        }
        heartbeatIfActivity();
      }
      // Only the keys found are looked up (the sync's workflows were added to the store by the audit's first page).
      const known = await store.knownOf([...found]);
      const { items, more } = pageAfter(
        [...found].filter((c) => !known.has(c)),
        input.after,
        input.limit
      );
      return { conversations: items, more, cut: input.after === undefined ? cut : 0 };
    },

    /** Audits each conversation over the window; records and repairs what it finds. */
    async auditConversations(input: AuditPageInput): Promise<AuditTally> {
      const tally = emptyTally();
      for (const conv of input.conversations) {
        const c = parseConversation(conv);
        if (!c) continue;
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
        const auditsGroup = c.kind === 'group' && (await groupStateOffered());
        const held = missing.length > 0 || auditsGroup ? new Set(await queued(conv)) : new Set<string>();
        // A group's state is compared only while its conversation holds no group event (one on its way would
        // show as a difference); the next audit compares it.
        if (auditsGroup && ![...held].some((k) => k.startsWith('group:'))) {
          const g = await auditGroup(conv, c.groupId, from, input.syncName);
          tally.found += g.found;
          tally.repaired += g.repaired;
        }
        for (const m of missing) {
          if (held.has(`${m.origin}:${m.msgId}`)) {
            tally.queued = (tally.queued ?? 0) + 1;
            continue;
          }
          // Left on its side by policy (the app backend's own server-API send): not mirrored live, not repaired.
          if ((await store.notMirrored(m.origin, m.msgId)) !== null) {
            tally.notMirrored = (tally.notMirrored ?? 0) + 1;
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
