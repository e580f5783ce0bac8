/**
 * The reconciliation audit's comparison (docs/coexistence.md §9), pure: given what one conversation holds on each
 * side over a time window, which messages are on one side with no counterpart on the other. A lost callback or
 * routing event leaves exactly that behind, and nothing else recovers it.
 *
 * Counterparts are found by the ids our mirrors carry: a ZIM mirror of legacy message L has ExtendedData
 * `_mig.lid` = L; a legacy mirror of ZIM message Z has clientMsgId `zim:Z` or originTag `zim-migrate:Z`. A message
 * carrying our tag is our mirror: it is never "missing on the origin side" (its origin may have been deleted, or
 * be older than the window). Only messages older than the grace period count (`until`), so a mirror still in
 * flight is not reported.
 */
import type { Origin } from './coexist-store';
import type { LegacyMessage } from './legacy-contract';
import { CLIENT_MSG_ID_PREFIX, legacyIdInPayload, ORIGIN_TAG_PREFIX } from './sync-event';

/** A ZIM message as QueryPeerMsg / QueryGroupMsg list it (the ZIM client's shape). */
export interface ZimListedMessage {
  msgId: string;
  sender: string;
  msgType: number;
  msgSeq: number;
  msgTime: number;
  msgBody?: string | undefined;
  payload?: string | undefined;
  isEmpty: number;
}

/** ZIM message types that never produce a send_msg callback and are not mirrored: command, revoked, tips. */
const NOT_MIRRORED_TYPES = new Set([2, 31, 32]);

/** Origin messages with times in [from, until] are audited (ms, each side's own clock). */
export interface AuditWindow {
  from: number;
  until: number;
}

/** A message on `origin` with no counterpart on the other side. */
export interface MissingMessage {
  conv: string;
  origin: Origin;
  msgId: string;
  /** Its time and sequence on its side. */
  at: number;
  order: number;
  from: string;
  /** One-to-one: the receiver. */
  to?: string;
  groupId?: string;
}

/** Sequence numbers the legacy read API skipped: the contract says a conversation's seqs have no gaps. */
export interface SequenceGap {
  conv: string;
  first: number;
  last: number;
}

export interface ConversationAudit {
  missing: MissingMessage[];
  gaps: SequenceGap[];
}

export type Conversation = { kind: 'peer'; users: [string, string] } | { kind: 'group'; groupId: string };

/** `peer:<a>:<b>` or `group:<id>` (the workflow ids' tail); undefined for anything else. */
export function parseConversation(conv: string): Conversation | undefined {
  const group = /^group:(.+)$/.exec(conv);
  if (group) return { kind: 'group', groupId: group[1]! };
  const peer = /^peer:([^:]+):([^:]+)$/.exec(conv);
  return peer ? { kind: 'peer', users: [peer[1]!, peer[2]!] } : undefined;
}

/** The ZIM message id a legacy message mirrors, when it is one of our mirrors. */
export function mirroredZimId(m: Pick<LegacyMessage, 'clientMsgId' | 'originTag'>): string | undefined {
  if (m.clientMsgId?.startsWith(CLIENT_MSG_ID_PREFIX)) return m.clientMsgId.slice(CLIENT_MSG_ID_PREFIX.length);
  if (m.originTag?.startsWith(ORIGIN_TAG_PREFIX)) return m.originTag.slice(ORIGIN_TAG_PREFIX.length);
  return undefined;
}

/**
 * Compares one conversation. `zim` and `legacy` are what each side holds from a little before the window's start
 * to now (a mirror lands after its origin, so its counterpart may be newer than `until`); order does not matter.
 */
export function compareConversation(
  conv: string,
  zim: readonly ZimListedMessage[],
  legacy: readonly LegacyMessage[],
  window: AuditWindow
): ConversationAudit {
  const c = parseConversation(conv);
  if (!c) return { missing: [], gaps: [] };
  const inWindow = (t: number) => t >= window.from && t <= window.until;
  const other = (from: string) => (c.kind === 'peer' ? c.users.find((u) => u !== from) : undefined);
  const where = (from: string) =>
    c.kind === 'group' ? { groupId: c.groupId } : other(from) !== undefined ? { to: other(from)! } : {};

  // What each side holds of the other's messages, by the ids our mirrors carry.
  const legacyIdsInZim = new Set<string>();
  for (const m of zim) {
    const lid = legacyIdInPayload(m.payload);
    if (lid !== undefined) legacyIdsInZim.add(lid);
  }
  const zimIdsInLegacy = new Set<string>();
  for (const m of legacy) {
    const zid = mirroredZimId(m);
    if (zid !== undefined) zimIdsInLegacy.add(zid);
  }

  const missing: MissingMessage[] = [];
  for (const m of zim) {
    if (m.isEmpty || NOT_MIRRORED_TYPES.has(m.msgType) || !inWindow(m.msgTime)) continue;
    if (legacyIdInPayload(m.payload) !== undefined || zimIdsInLegacy.has(m.msgId)) continue;
    missing.push({
      conv,
      origin: 'zim',
      msgId: m.msgId,
      at: m.msgTime,
      order: m.msgSeq,
      from: m.sender,
      ...where(m.sender),
    });
  }
  for (const m of legacy) {
    if (!inWindow(m.sentAt)) continue;
    if (mirroredZimId(m) !== undefined || legacyIdsInZim.has(m.id)) continue;
    missing.push({ conv, origin: 'legacy', msgId: m.id, at: m.sentAt, order: m.seq, from: m.from, ...where(m.from) });
  }
  missing.sort((a, b) => a.at - b.at || a.order - b.order);
  return { missing, gaps: sequenceGaps(conv, legacy) };
}

/** Runs of sequence numbers missing between the lowest and highest the legacy side returned. */
export function sequenceGaps(conv: string, legacy: readonly Pick<LegacyMessage, 'seq'>[]): SequenceGap[] {
  const seqs = [...new Set(legacy.map((m) => m.seq))].sort((a, b) => a - b);
  const gaps: SequenceGap[] = [];
  for (let i = 1; i < seqs.length; i++)
    if (seqs[i]! > seqs[i - 1]! + 1) gaps.push({ conv, first: seqs[i - 1]! + 1, last: seqs[i]! - 1 });
  return gaps;
}

/**
 * The event key a repair is handed to its conversation under: apart from the receiver's (`zim:msg:…`, `lg:msg:…`),
 * so the conversation's dedup does not drop it as the delivery that was lost, yet the same for every audit that
 * finds the same message, so two audits queue it once. The mirror ledger, not the key, keeps it from doubling.
 */
export const repairKey = (m: Pick<MissingMessage, 'origin' | 'msgId'>) =>
  `audit:${m.origin === 'zim' ? 'zim' : 'lg'}:msg:${m.msgId}`;
