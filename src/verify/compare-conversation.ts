/**
 * Compares one conversation copy as staged (what should be in ZIM) with what ZIM returns, and names every lost,
 * duplicated, unexpected or out-of-order message by its source id. Messages are matched on what ZIM gives back
 * unchanged: sender, send time, type, and the text of text/custom messages (media bodies come back transformed,
 * zim-api.md §7.3, so they are not compared byte for byte).
 */
import { createHash } from 'node:crypto';

export interface ExpectedMessage {
  sourceId: string;
  from: string;
  sentTime: number;
  type: number;
  /** The MessageBody.Message of text (1) and custom (200) messages. */
  text?: string;
}

export interface ActualMessage {
  sender: string;
  msgTime: number;
  msgType: number;
  msgBody: string;
}

export interface ConversationCheck {
  expected: number;
  actual: number;
  match: boolean;
  /** Source ids staged as landed that ZIM does not have. */
  missing: string[];
  /** Source ids ZIM has more than once. */
  duplicated: string[];
  /** Messages in ZIM that no staged message explains. */
  unexpected: number;
  /** True when every message is present once but the order differs. */
  outOfOrder: boolean;
  /** SHA-256 of the ordered contents, equal on both sides when the copy is exact. */
  expectedHash: string;
  actualHash: string;
}

const TEXT_TYPES = new Set([1, 200]);

function keyOf(sender: string, time: number, type: number, body: string | undefined): string {
  return JSON.stringify([sender, time, type, TEXT_TYPES.has(type) ? (body ?? '') : '']);
}

function hashOf(keys: string[]): string {
  const hash = createHash('sha256');
  for (const key of keys) hash.update(key).update('\n');
  return hash.digest('hex');
}

/** `actualNewestFirst` is what QueryPeerMsg/QueryGroupMsg return, page after page (newest first). */
export function compareConversation(
  expected: ExpectedMessage[],
  actualNewestFirst: ActualMessage[]
): ConversationCheck {
  const expectedKeys = expected.map((m) => keyOf(m.from, m.sentTime, m.type, m.text));
  const actualKeys = [...actualNewestFirst].reverse().map((m) => keyOf(m.sender, m.msgTime, m.msgType, m.msgBody));

  // Several staged messages can share a key (same sender, time, type, text): match them as a multiset.
  const sourcesByKey = new Map<string, string[]>();
  expected.forEach((m, i) =>
    sourcesByKey.set(expectedKeys[i]!, [...(sourcesByKey.get(expectedKeys[i]!) ?? []), m.sourceId])
  );
  const actualCount = new Map<string, number>();
  for (const key of actualKeys) actualCount.set(key, (actualCount.get(key) ?? 0) + 1);

  const missing: string[] = [];
  const duplicated: string[] = [];
  let unexpected = 0;
  for (const [key, sources] of sourcesByKey) {
    const have = actualCount.get(key) ?? 0;
    if (have < sources.length) missing.push(...sources.slice(have));
    if (have > sources.length) duplicated.push(...sources.slice(0, have - sources.length));
  }
  for (const [key, have] of actualCount) if (!sourcesByKey.has(key)) unexpected += have;

  const expectedHash = hashOf(expectedKeys);
  const actualHash = hashOf(actualKeys);
  const sameSet = missing.length === 0 && duplicated.length === 0 && unexpected === 0;
  return {
    expected: expected.length,
    actual: actualKeys.length,
    match: expectedHash === actualHash,
    missing,
    duplicated,
    unexpected,
    outOfOrder: sameSet && expectedHash !== actualHash,
    expectedHash,
    actualHash,
  };
}
