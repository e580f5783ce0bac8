/**
 * Exactly-once import of one message (ImportPeerMsg / ImportGroupMsg), on an API with no idempotency key.
 *
 *   1. Claim the message's ledger entry for this attempt (a lease). An entry already done/failed/skipped means an
 *      earlier attempt finished: report it again, call nothing. An entry another attempt holds a live lease on
 *      means that attempt may be about to call or calling: wait until it settles or its lease runs out.
 *   2. The claimed entry was pending → an earlier attempt may have landed before it died: read the conversation's
 *      newest message from ZIM and compare (reconcile).
 *   3. Otherwise wait for a slot in the call schedule, renew the lease (an attempt that lost it does not call),
 *      call ZIM, record the outcome.
 *
 * Why the lease: two executions of one step can overlap, e.g. a local activity still waiting for its slot in a
 * workflow task that timed out under load, next to its re-execution in the task that replaced it. Without the
 * lease, the second one reconciled (nothing had landed yet) and sent, and then so did the first: a duplicate. A lease
 * is renewed right before the call and outlives the call's whole timeout, so no other attempt reconciles while a
 * call may be in flight.
 *
 * Reconciliation relies on what ZIM guarantees for one conversation copy: messages come back newest first and
 * MsgSeq grows with every import. A message landed iff the newest message is newer than the last one we know
 * landed (`prev`) and carries this message's sender, type and send time.
 */
import type { Claim, LedgerEntry } from '../src/staging/migration-store';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../src/zim-client/client';
import type { LandedMark, StepResult } from './contract';

/** One staged message, as the import needs it (the body stays out of workflow history). */
export interface MessageToImport {
  sourceId: string;
  /** Peer user id (1:1, from the owner's side) or group id. */
  conversation: string;
  from: string;
  sentTime: number;
  type: number;
  /** Set when planning found ZIM will refuse it (e.g. older than the plan's retention window). */
  skipReason?: string;
}

export interface NewestMessage {
  sender: string;
  msgType: number;
  msgTime: number;
  msgSeq: number;
}

export type ImportAttempt =
  { kind: 'landed'; msgSeq: number; msgId?: string } | { kind: 'refused'; code: number; message: string };

/**
 * How long the lease holds once the call may be in flight: longer than a ZIM call may take (the client's request
 * timeout) with room for a stall. `mayCall` extends the lease to this right before the call.
 */
export const CALL_LEASE_PER_TIMEOUT = 3;
/** The call lease at the client's default 15-s request timeout; ports with a shorter timeout give `callLeaseMs`. */
export const LEASE_MS = CALL_LEASE_PER_TIMEOUT * DEFAULT_REQUEST_TIMEOUT_MS;
/**
 * How long the lease holds while the attempt only waits (for its slot, or reconciling): short, renewed every
 * RENEW_EVERY_MS. Nothing of a waiting attempt is in flight, and it cannot call without first renewing (which fails
 * once another attempt took over), so a short lease is as safe as a long one; it only decides how soon the retry of
 * a worker that was SIGKILLed while its imports waited may go on. With the whole call lease here, every import the
 * dead worker had waiting held its conversation for up to 45 s (issue #17: stalls of 30-45 s after a kill).
 */
export const WAIT_LEASE_MS = 6_000;
const RENEW_EVERY_MS = 2_000;
const WAIT_POLL_MS = 250;

/** What one message import needs; adapters bind it to staging, the ledger, the scheduler and the ZIM client. */
export interface MessageImportPorts {
  stage: 'peer-messages' | 'group-messages';
  message(seq: number): Promise<MessageToImport | null>;
  count(): Promise<number>;
  ledgerKey(message: MessageToImport): string;
  /**
   * Writes `pending` with this attempt's lease (`token`, for `leaseMs`), unless the entry is settled or another
   * attempt's lease on it is live; says what was there.
   */
  claim(key: string, sourceId: string, token: string, leaseMs: number): Promise<Claim>;
  /** Extends this attempt's lease; false if it no longer holds it. */
  renew(key: string, token: string, leaseMs: number): Promise<boolean>;
  /** Ends this attempt's lease without an outcome: no call of it is in flight, the next attempt need not wait. */
  release(key: string, token: string): Promise<void>;
  /** Records an outcome (and ends any lease). */
  ledgerPut(key: string, entry: LedgerEntry & { sourceId: string }): Promise<void>;
  /** Newest message of this conversation copy in ZIM, or null when it is empty. Spends one query call. */
  newest(conversation: string): Promise<NewestMessage | null>;
  /**
   * Waits for a call slot, then imports if `mayCall` still says so (it renews the lease). Throws only for retryable
   * trouble (network, 5xx, too frequent).
   */
  send(message: MessageToImport, mayCall: () => Promise<boolean>): Promise<ImportAttempt | 'lease-lost'>;
  /** Waits while another attempt holds the message's lease. */
  sleep(ms: number): Promise<void>;
  /**
   * The call lease (LEASE_MS when absent): CALL_LEASE_PER_TIMEOUT times the ZIM client's request timeout, so it
   * outlives any call that may be in flight. What a SIGKILLed worker's call holds its conversation for.
   */
  callLeaseMs?: number;
}

function matches(newest: NewestMessage, message: MessageToImport): boolean {
  return newest.sender === message.from && newest.msgTime === message.sentTime && newest.msgType === message.type;
}

/** Whether a pending import already landed, judged from the conversation's newest message in ZIM. */
export function landedAlready(
  newest: NewestMessage | null,
  message: MessageToImport,
  prev: LandedMark | null
): boolean {
  if (!newest) return false;
  const prevSeq = prev && prev.conversation === message.conversation ? prev.msgSeq : undefined;
  if (prevSeq !== undefined && newest.msgSeq <= prevSeq) return false;
  return matches(newest, message);
}

const none = { done: 0, failed: 0, skipped: 0, calls: 0 };

/** Thrown so that Temporal retries the step, which then finds the entry as the other attempt left it. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** `token` names this attempt (unique per execution); the caller makes it. */
export async function importMessageExactlyOnce(
  ports: MessageImportPorts,
  seq: number,
  prev: LandedMark | null,
  token: string
): Promise<StepResult> {
  const message = await ports.message(seq);
  if (!message) return { ...none, hasMore: false };
  const hasMore = seq + 1 < (await ports.count());
  const key = ports.ledgerKey(message);
  const landedMark = (msgSeq: number): LandedMark => ({ conversation: message.conversation, msgSeq });

  const callLeaseMs = ports.callLeaseMs ?? LEASE_MS;
  let previous: LedgerEntry | null;
  for (let waited = 0; ; waited += WAIT_POLL_MS) {
    const claim = await ports.claim(key, message.sourceId, token, WAIT_LEASE_MS);
    if (claim.claimed) {
      previous = claim.previous;
      break;
    }
    const { current } = claim;
    if (current.status === 'done')
      return { ...none, done: 1, hasMore, ...(current.msgSeq !== undefined && { landed: landedMark(current.msgSeq) }) };
    if (current.status === 'failed') return { ...none, failed: 1, hasMore };
    if (current.status === 'skipped') return { ...none, skipped: 1, hasMore };
    // Another attempt holds a live lease: it settles the entry, or its lease runs out.
    if (waited > 2 * callLeaseMs)
      throw new LeaseLostError(`${key}: another attempt held its lease for over ${waited} ms`);
    await ports.sleep(WAIT_POLL_MS);
  }

  if (message.skipReason) {
    await ports.ledgerPut(key, { status: 'skipped', zimMessage: message.skipReason, sourceId: message.sourceId });
    return { ...none, skipped: 1, hasMore };
  }

  // Renewals run one after another, so a waiting renewal can never shorten the call lease set after it.
  let calling = false;
  let renewals: Promise<boolean> = Promise.resolve(true);
  const renew = () =>
    (renewals = renewals.catch(() => false).then(() => ports.renew(key, token, calling ? callLeaseMs : WAIT_LEASE_MS)));
  const keepAlive = setInterval(() => void renew().catch(() => undefined), RENEW_EVERY_MS);
  keepAlive.unref(); // never what keeps a process alive
  const importClaimed = async (): Promise<StepResult> => {
    let calls = 0;
    if (previous?.status === 'pending') {
      const newest = await ports.newest(message.conversation);
      calls++;
      if (newest && landedAlready(newest, message, prev)) {
        await ports.ledgerPut(key, { status: 'done', msgSeq: newest.msgSeq, sourceId: message.sourceId });
        return { ...none, done: 1, calls, hasMore, landed: landedMark(newest.msgSeq) };
      }
    }

    let attempt: ImportAttempt | 'lease-lost';
    try {
      attempt = await ports.send(message, () => {
        calling = true;
        return renew();
      });
    } catch (err) {
      // The call failed or never started: none of this attempt is in flight, so the next need not wait out the lease
      // (released after the last renewal, which would otherwise extend it again).
      clearInterval(keepAlive);
      await renewals.catch(() => false);
      await ports.release(key, token).catch(() => undefined);
      throw err;
    }
    if (attempt === 'lease-lost') throw new LeaseLostError(`${key}: the lease ran out before the call; not sent`);
    calls++;
    if (attempt.kind === 'refused') {
      await ports.ledgerPut(key, {
        status: 'failed',
        zimCode: attempt.code,
        zimMessage: attempt.message,
        sourceId: message.sourceId,
      });
      return { ...none, failed: 1, calls, hasMore };
    }
    await ports.ledgerPut(key, {
      status: 'done',
      msgSeq: attempt.msgSeq,
      msgId: attempt.msgId,
      sourceId: message.sourceId,
    });
    return { ...none, done: 1, calls, hasMore, landed: landedMark(attempt.msgSeq) };
  };
  try {
    return await importClaimed();
  } finally {
    clearInterval(keepAlive);
  }
}
