/**
 * Coexistence activities: mirror one message to the other side exactly once, and record echoes.
 * Neither send API is idempotent, so each mirror writes its intent to the coexistence ledger first. A later attempt
 * that finds the intent (the worker died, or the call timed out, after the request left) never resends blindly: it
 * first looks for the message in the target conversation's tail, back to the intent's time, by the id it carries
 * (ZIM: ExtendedData `_mig.lid`; legacy: clientMsgId / originTag), and only when the tail does not hold it sends
 * again. The echo of a send also settles its intent (confirmEcho), usually before any retry runs.
 * The activities heartbeat, so Temporal retries a dead worker's attempt within the heartbeat timeout; that retry
 * can start while the dead attempt's send is still in flight, so each send takes a lease in the ledger first, and an
 * attempt that finds a lease waits it out (a send lands or fails within SEND_MAY_TAKE_MS) before its tail check.
 * Bodies are read from the store here; nothing these activities take or return holds message text.
 */
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, sleep } from '@temporalio/activity';
import type { CoexistStore, Origin } from '../src/coexist/coexist-store';
import { LegacyApiError, type LegacyClient } from '../src/coexist/legacy-client';
import {
  CLIENT_MSG_ID_PREFIX,
  legacyIdInPayload,
  ORIGIN_TAG_PREFIX,
  zimExtendedData,
  type SyncEvent,
} from '../src/coexist/sync-event';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ZimError, ZimPermanentError, type ZimClient } from '../src/zim-client';
import { legacyPagesBack, zimPagesBack } from '../src/coexist/read-back';
import { createGroupActivities, type GroupOutcome } from './coexist-groups';
import { keepingAlive, scheduledCall } from './scheduled-call';

export interface CoexistDeps {
  store: CoexistStore;
  zim: ZimClient;
  legacy: LegacyClient;
  /** Messages per page of the tail check (default 100, ZIM's largest page). */
  tailSize?: number;
  /** Most pages one tail check reads, newest first (default 50). */
  tailPages?: number;
  /** The shared call schedule that keeps ZIM calls within each Action's budget (as the migration's activities). */
  scheduler?: CallScheduler;
  /**
   * The registered ZIM account our InviteUsersIntoGroup / KickoutGroupUser / DismissGroup calls name as operator
   * (coexistence.md §2.4: any registered user may; ZIM drops an invitee equal to the operator, so the legacy
   * operator cannot be used for a user who joined by themselves). Default `__migration_bot`.
   */
  zimGroupOperator?: string;
}

/**
 * The tail check reads back to the first intent's time less this: an ambiguous send cannot have landed before its
 * intent was written, and this covers the clocks of our machine and the target's disagreeing.
 */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Longer than one call to either side may take (both clients' whole-request timeouts are 15 s or less). */
const SEND_MAY_TAKE_MS = 20_000;
/** Added to a send lease, for timers and the store's clock reads to disagree a little. */
const LEASE_MARGIN_MS = 2_000;

/** Waits `ms`; in an activity, throws as soon as Temporal cancels the attempt (it was taken for dead). */
async function pause(ms: number): Promise<void> {
  try {
    activityInfo();
  } catch {
    return new Promise((r) => setTimeout(r, ms));
  }
  await sleep(ms);
}

/**
 * Refuses to start a send that could outlive this attempt: Temporal starts the retry when the attempt times out,
 * and a send still in flight then could land after the retry's tail check found nothing, and both would land.
 * Outside an activity (tests calling the functions directly) there is no attempt to outlive.
 */
function guardSend(what: string): void {
  let info;
  try {
    info = activityInfo();
  } catch {
    return;
  }
  const deadline = info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs;
  if (info.startToCloseTimeoutMs > 0 && Date.now() > deadline - SEND_MAY_TAKE_MS)
    throw ApplicationFailure.retryable(`${what}: too close to this attempt's timeout to send safely`);
}

/**
 * This activity execution, the same in each of its attempts (a workflow run and its activity id), or undefined
 * outside one: what the ledger records as the writer of SENT.
 */
function thisExecution(): string | undefined {
  try {
    const { workflowExecution, activityId } = activityInfo();
    return workflowExecution ? `${workflowExecution.runId}/${activityId}` : undefined;
  } catch {
    return undefined;
  }
}

/** sent: written now; already: written before; resolved: an earlier attempt's write was found in the tail. */
export type MirrorOutcome = 'sent' | 'already' | 'resolved';
/**
 * One message of a batch (mirrorBatch): how it was mirrored and when (epoch ms, for its lag), or why the other side
 * refused it for good (as the single mirror's non-retryable failure says).
 */
export type BatchOutcome = { outcome: MirrorOutcome; at: number } | { refused: string };
/** resolved: the echo settled an intent; known: it was settled already; unknown: no write of ours matches. */
export type EchoOutcome = 'resolved' | 'known' | 'unknown';

const refused = (side: string, detail: string) =>
  ApplicationFailure.nonRetryable(`${side} refused the mirrored message: ${detail}`, 'MirrorRefused');

export function createCoexistActivities(deps: CoexistDeps) {
  const { store, zim, legacy } = deps;
  const tailSize = deps.tailSize ?? 100;
  const tailPages = deps.tailPages ?? 50;
  /** A ZIM call, in its Action's slot of the call schedule when there is one (scheduledCall guards the timeout). */
  const zimCall = <T>(action: string, key: string | undefined, call: () => Promise<T>): Promise<T> => {
    // Live: a user is waiting for this message or change, so it goes ahead of an import's or audit's backlog.
    if (deps.scheduler) return scheduledCall(deps.scheduler, action, key, call, 'live');
    guardSend(action);
    return call();
  };

  /**
   * Done already (SENT, or found in the tail), or the lease this attempt may send under: the sending_at it saw, after
   * waiting out any earlier attempt's send still in flight and checking the tail behind it. `adopt`: the executions
   * whose SENT counts as this mirror's own (below).
   */
  async function settled(
    origin: Origin,
    id: string,
    e: SyncEvent,
    findInTail: (since: number) => Promise<string | undefined>,
    adopt: readonly string[]
  ): Promise<{ done: MirrorOutcome } | { lease: number | null }> {
    let lookedWhileLeased = false;
    const me = thisExecution();
    for (;;) {
      const record = await store.record(origin, id);
      // Written by an earlier attempt of this same execution that died before reporting it, or by a batch execution
      // that failed for good after it (the workflow names those: nothing counted their sends): this mirror's own send
      // (or tail find), to be counted as such, not a repeat of a message mirrored before.
      if (record?.state === 'SENT')
        return {
          done: record.sentBy !== null && (record.sentBy === me || adopt.includes(record.sentBy)) ? 'sent' : 'already',
        };
      // An earlier attempt took the lease lately (it may have been taken for dead while alive, or its worker died
      // with the request on its way): its send has landed or failed by the lease's end, then the tail is the truth.
      // A negative one was released: that attempt had its answer, nothing of it is in flight.
      const leasedAt = record?.sendingAt ?? 0;
      const leaseEnds = leasedAt > 0 ? leasedAt + SEND_MAY_TAKE_MS + LEASE_MARGIN_MS : 0;
      if (Date.now() < leaseEnds) {
        // Most often the send landed and only its answer was lost: then it is in the tail already, and finding it
        // settles the mirror without waiting (not finding it proves nothing while the lease runs).
        if (record?.state === 'INTENT' && !lookedWhileLeased) {
          lookedWhileLeased = true;
          const found = await findInTail((record.intentAt ?? 0) - CLOCK_SKEW_MS);
          if (found !== undefined) {
            await store.markSent(origin, id, e.conv, found, me);
            return { done: 'resolved' };
          }
          continue;
        }
        await pause(leaseEnds - Date.now());
        continue;
      }
      if (record?.state === 'INTENT') {
        const found = await findInTail((record.intentAt ?? 0) - CLOCK_SKEW_MS);
        if (found !== undefined) {
          await store.markSent(origin, id, e.conv, found, me);
          return { done: 'resolved' };
        }
      }
      return { lease: record?.sendingAt ?? null };
    }
  }

  /**
   * Sends under the lease, taken right before the request leaves (another attempt that took it since our tail
   * check wins). A failure the other side answered leaves nothing in flight, so the lease is released and the retry
   * checks the tail at once; a timeout, a dropped connection or a bare HTTP 5xx (a gateway's) may have left the
   * request on its way, and the retry waits the lease out.
   */
  async function leased<T>(origin: Origin, id: string, seen: number | null, send: () => Promise<T>): Promise<T> {
    const at = Date.now();
    if (!(await store.markSending(origin, id, at, seen)))
      throw ApplicationFailure.retryable(`${origin} message ${id}: another attempt took the send lease`);
    try {
      return await send();
    } catch (err) {
      const answered =
        (err instanceof ZimError && err.code >= 0) || (err instanceof LegacyApiError && err.status < 500);
      // Not released (the store failing too): the retry only waits longer.
      if (answered) await store.releaseSending(origin, id, at).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The refusal of `e`'s mirror, which is settled for good (not retried, not parked): its body need not stay for it
   * (a park or a later put of the message takes that back). Not recorded when the store fails: the body stays.
   */
  async function refusedFor(e: SyncEvent, side: string, detail: string): Promise<ApplicationFailure> {
    if (e.msgId !== undefined) await store.settleBodies(e.origin, [e.msgId]).catch(() => undefined);
    return refused(side, detail);
  }

  /** The ZIM message carrying this legacy id, looked for newest first back to `since`. */
  async function zimTail(e: SyncEvent, lid: string, since: number): Promise<string | undefined> {
    const read = (cursor: { Next?: string }) =>
      e.groupId !== undefined
        ? zimCall('QueryGroupMsg', undefined, () =>
            zim.queryGroupMsg({ GroupId: e.groupId!, Limit: tailSize, ...cursor })
          )
        : zimCall('QueryPeerMsg', undefined, () =>
            zim.queryPeerMsg({ FromUserId: e.from!, ToUserId: e.to!, Limit: tailSize, ...cursor })
          );
    for await (const { messages } of zimPagesBack(read, since, tailPages)) {
      const found = messages.find((m) => legacyIdInPayload(m.payload) === lid);
      if (found) return found.msgId;
    }
    return undefined;
  }

  /** The legacy message carrying this ZIM msg_id, looked for newest first back to `since`. */
  async function legacyTail(e: SyncEvent, zimMsgId: string, since: number): Promise<string | undefined> {
    for await (const { messages } of legacyPagesBack(legacy, e.conv, since, tailSize, tailPages)) {
      const found = messages.find(
        (m) => m.clientMsgId === CLIENT_MSG_ID_PREFIX + zimMsgId || m.originTag === ORIGIN_TAG_PREFIX + zimMsgId
      );
      if (found) return found.id;
    }
    return undefined;
  }

  /** A legacy message into ZIM, as its sender, through SendPeerMessage / SendGroupMessage. */
  async function mirrorToZim(e: SyncEvent, adopt: readonly string[] = []): Promise<MirrorOutcome> {
    const lid = e.msgId!;
    const settle = await settled('legacy', lid, e, (since) => zimTail(e, lid, since), adopt);
    if ('done' in settle) return settle.done;
    await store.recordIntent('legacy', lid, e.conv);
    const message = {
      FromUserId: e.from!,
      MessageType: 1,
      Priority: 1,
      MessageBody: { Message: await store.body(e.bodyRef!), ExtendedData: zimExtendedData(lid) },
    };
    // The lease is taken in the call's slot, right before the request leaves.
    const underLease =
      <T>(send: () => Promise<T>) =>
      () =>
        leased('legacy', lid, settle.lease, send);
    let msgId: string;
    try {
      if (e.groupId !== undefined) {
        const groupId = e.groupId;
        msgId = (
          await zimCall(
            'SendGroupMessage',
            undefined,
            underLease(() => zim.sendGroupMessage({ ...message, GroupId: groupId }))
          )
        ).msgId;
      } else {
        const r = await zimCall(
          'SendPeerMessage',
          undefined,
          underLease(() => zim.sendPeerMessage({ ...message, ToUserId: [e.to!] }))
        );
        const sent = r.sent[0];
        if (!sent) throw await refusedFor(e, 'ZIM', `code ${r.failures[0]?.code ?? 'unknown'}`);
        msgId = sent.msgId;
      }
    } catch (err) {
      if (err instanceof ZimPermanentError) throw await refusedFor(e, 'ZIM', `code ${err.code}`);
      throw err;
    }
    await store.markSent('legacy', lid, e.conv, msgId, thisExecution());
    return 'sent';
  }

  /** A ZIM message into the legacy system, as its sender, carrying our origin tag and client message id. */
  async function mirrorToLegacy(e: SyncEvent, adopt: readonly string[] = []): Promise<MirrorOutcome> {
    const zid = e.msgId!;
    const settle = await settled('zim', zid, e, (since) => legacyTail(e, zid, since), adopt);
    if ('done' in settle) return settle.done;
    await store.recordIntent('zim', zid, e.conv);
    const body = await store.body(e.bodyRef!);
    let legacyId: string;
    try {
      guardSend('legacy send');
      const r = await leased('zim', zid, settle.lease, () =>
        legacy.send({
          from: e.from!,
          ...(e.groupId !== undefined ? { groupId: e.groupId } : { to: e.to! }),
          body,
          originTag: ORIGIN_TAG_PREFIX + zid,
          clientMsgId: CLIENT_MSG_ID_PREFIX + zid,
        })
      );
      legacyId = r.message.id;
    } catch (err) {
      if (err instanceof LegacyApiError && err.permanent)
        throw await refusedFor(e, 'the legacy API', `HTTP ${err.status}`);
      throw err;
    }
    await store.markSent('zim', zid, e.conv, legacyId, thisExecution());
    return 'sent';
  }

  return {
    ...createGroupActivities(deps, zimCall),
    // They run heartbeating: the workflow's heartbeat timeout notices a dead worker in seconds. `adopt` (absent from
    // workflows of before it): the executions (`<runId>/<activityId>`) of batches that failed for good, whose sends
    // of these messages no outcome reported; what they recorded SENT is this mirror's own send.
    mirrorToZim: (e: SyncEvent, adopt?: string[]): Promise<MirrorOutcome> => keepingAlive(() => mirrorToZim(e, adopt)),
    mirrorToLegacy: (e: SyncEvent, adopt?: string[]): Promise<MirrorOutcome> =>
      keepingAlive(() => mirrorToLegacy(e, adopt)),
    mirrorBatch: (events: SyncEvent[], adopt?: string[]): Promise<BatchOutcome[]> =>
      keepingAlive(() =>
        mirrorInTurn(events, (e) => (e.origin === 'legacy' ? mirrorToZim(e, adopt) : mirrorToLegacy(e, adopt)))
      ),

    /**
     * Records a mirror the workflow gave up on after its retries (`reason` is the last error's message, which
     * never holds message text), with what an operator should do.
     */
    async park(e: SyncEvent, reason: string): Promise<void> {
      const target = e.origin === 'legacy' ? 'ZIM' : 'the legacy system';
      const action = reason.startsWith(HANDOFF_PARK)
        ? `once ${e.conv}'s history import has settled: "zim-migrate coexist parked --retry ${e.eventKey}" ` +
          '(the retry is held or checked against the history like any live legacy message)'
        : e.kind === 'group'
          ? `check group ${e.groupId ?? ''} in ${target} and make it match (${e.groupEvent ?? ''} ${(e.users ?? []).join(',')})`
          : `look for ${e.origin} message ${e.msgId ?? ''} in ${e.conv} in ${target}: if absent, resend it; ` +
            'if present, nothing (the ledger row stays INTENT until an echo or a later tail check settles it)';
      await store.park({
        conv: e.conv,
        eventKey: e.eventKey,
        origin: e.origin,
        subject: e.kind === 'group' ? `group ${e.groupEvent ?? ''}` : (e.msgId ?? ''),
        reason: reason.slice(0, 500),
        action,
        event: e,
      });
    },

    /** An echo of our own write: it proves the write landed, which settles an intent left by an ambiguous send. */
    async confirmEcho(e: SyncEvent): Promise<EchoOutcome> {
      // A ZIM echo is of a legacy message we sent; a legacy echo is of a ZIM message we sent.
      const origin: Origin = e.origin === 'zim' ? 'legacy' : 'zim';
      const record = await store.record(origin, e.echoOf!);
      if (!record) return 'unknown';
      if (record.state === 'SENT') return 'known';
      await store.markSent(origin, e.echoOf!, e.conv, e.msgId!);
      return 'resolved';
    },
  };
}

/**
 * A batch (mirrorBatch): several messages of one conversation (either side's) mirrored one after the other, in
 * order, each by `mirror` exactly as alone (ledger intent, lease, send, record), in one activity instead of one each. A retry
 * resumes where the ledger says (what an earlier attempt of this execution sent comes back as 'sent'). A refusal is
 * that message's outcome and the batch goes on. A message failing retryably after others were done in this attempt
 * ends the batch there: the outcomes so far come back (fewer than the events) and the workflow gives the rest a batch
 * of their own, so a message that keeps failing is always its batch's first. When the retries run out the workflow
 * mirrors that one alone (the last attempt may have sent it, and more, before it timed out) and names this execution
 * to the mirrors of the rest (`adopt`).
 */
export async function mirrorInTurn(
  events: SyncEvent[],
  mirror: (e: SyncEvent) => Promise<MirrorOutcome>
): Promise<BatchOutcome[]> {
  let cancelled: AbortSignal | undefined;
  try {
    cancelled = cancellationSignal();
  } catch {
    // Outside an activity (tests calling it directly): nothing to heartbeat or be cancelled by.
  }
  const outcomes: BatchOutcome[] = [];
  for (const e of events) {
    // Taken for dead (or cancelled): its retry owns the rest of the batch, this attempt starts no more sends.
    cancelled?.throwIfAborted();
    try {
      outcomes.push({ outcome: await mirror(e), at: Date.now() });
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) outcomes.push({ refused: err.message });
      else if (outcomes.length > 0) return outcomes;
      else throw err;
    }
    // Between messages too (keepingAlive also beats every 2 s): the attempt shows progress whatever a send took.
    if (cancelled) heartbeat();
  }
  return outcomes;
}

/** The reason of every park by the historical-import handoff starts so (workflows/coexist-handoff.ts). */
export const HANDOFF_PARK = 'handoff:';

export type CoexistActivities = ReturnType<typeof createCoexistActivities>;
export type { GroupOutcome };
