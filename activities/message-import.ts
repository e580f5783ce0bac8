/**
 * Exactly-once import of one message (ImportPeerMsg / ImportGroupMsg), on an API with no idempotency key.
 *
 *   1. The ledger says done/failed/skipped  → the earlier attempt finished; report it again, call nothing.
 *   2. The ledger says pending              → an earlier attempt may have landed before it died: read the
 *                                             conversation's newest message from ZIM and compare (reconcile).
 *   3. Otherwise mark pending (write-ahead), wait for a slot in the call schedule, call ZIM, record the outcome.
 *
 * Reconciliation relies on what ZIM guarantees for one conversation copy: messages come back newest first and
 * MsgSeq grows with every import. A message landed iff the newest message is newer than the last one we know
 * landed (`prev`) and carries this message's sender, type and send time.
 */
import type { LandedMark, StepResult } from './contract';

/** One staged message, as the import needs it (the body stays out of workflow history). */
export interface StagedMessage {
  sourceId: string;
  /** Peer user id (1:1, from the owner's side) or group id. */
  conversation: string;
  from: string;
  sentTime: number;
  type: number;
  /** Set when planning found ZIM will refuse it (e.g. older than the plan's retention window). */
  skipReason?: string;
}

export interface LedgerEntry {
  status: 'pending' | 'done' | 'failed' | 'skipped';
  msgSeq?: number;
  zimCode?: number;
}

export interface NewestMessage {
  sender: string;
  msgType: number;
  msgTime: number;
  msgSeq: number;
}

export type ImportAttempt =
  { kind: 'landed'; msgSeq: number; msgId?: string } | { kind: 'refused'; code: number; message: string };

/** What one message import needs; adapters bind it to staging, the ledger, the scheduler and the ZIM client. */
export interface MessageImportPorts {
  stage: 'peer-messages' | 'group-messages';
  message(seq: number): Promise<StagedMessage | null>;
  count(): Promise<number>;
  ledgerKey(message: StagedMessage): string;
  ledgerGet(key: string): Promise<LedgerEntry | null>;
  ledgerPut(key: string, entry: LedgerEntry & { msgId?: string; zimMessage?: string; sourceId: string }): Promise<void>;
  /** Newest message of this conversation copy in ZIM, or null when it is empty. Spends one query call. */
  newest(conversation: string): Promise<NewestMessage | null>;
  /** Waits for a call slot, then imports. Throws only for retryable trouble (network, 5xx, too frequent). */
  send(message: StagedMessage): Promise<ImportAttempt>;
}

function matches(newest: NewestMessage, message: StagedMessage): boolean {
  return newest.sender === message.from && newest.msgTime === message.sentTime && newest.msgType === message.type;
}

/** Whether a pending import already landed, judged from the conversation's newest message in ZIM. */
export function landedAlready(newest: NewestMessage | null, message: StagedMessage, prev: LandedMark | null): boolean {
  if (!newest) return false;
  const prevSeq = prev && prev.conversation === message.conversation ? prev.msgSeq : undefined;
  if (prevSeq !== undefined && newest.msgSeq <= prevSeq) return false;
  return matches(newest, message);
}

const none = { done: 0, failed: 0, skipped: 0, calls: 0 };

export async function importMessageExactlyOnce(
  ports: MessageImportPorts,
  seq: number,
  prev: LandedMark | null
): Promise<StepResult> {
  const message = await ports.message(seq);
  if (!message) return { ...none, hasMore: false };
  const hasMore = seq + 1 < (await ports.count());
  const key = ports.ledgerKey(message);
  const entry = await ports.ledgerGet(key);
  const landedMark = (msgSeq: number): LandedMark => ({ conversation: message.conversation, msgSeq });

  if (entry?.status === 'done') {
    return { ...none, done: 1, hasMore, ...(entry.msgSeq !== undefined && { landed: landedMark(entry.msgSeq) }) };
  }
  if (entry?.status === 'failed') return { ...none, failed: 1, hasMore };
  if (entry?.status === 'skipped') return { ...none, skipped: 1, hasMore };

  if (message.skipReason) {
    await ports.ledgerPut(key, { status: 'skipped', zimMessage: message.skipReason, sourceId: message.sourceId });
    return { ...none, skipped: 1, hasMore };
  }

  let calls = 0;
  if (entry?.status === 'pending') {
    const newest = await ports.newest(message.conversation);
    calls++;
    if (newest && landedAlready(newest, message, prev)) {
      await ports.ledgerPut(key, { status: 'done', msgSeq: newest.msgSeq, sourceId: message.sourceId });
      return { ...none, done: 1, calls, hasMore, landed: landedMark(newest.msgSeq) };
    }
  } else {
    await ports.ledgerPut(key, { status: 'pending', sourceId: message.sourceId });
  }

  const attempt = await ports.send(message);
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
}
