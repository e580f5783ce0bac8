/**
 * Compact storage for millions of imported messages. All messages live in one columnar store (typed arrays indexed by
 * a global message number); a conversation is only an ordered list of those numbers. Per message this costs about
 * 20 bytes of columns, two array slots and the body string, which one-to-one imports share between the two
 * owners' copies (see EmulatorState.shareBody).
 *
 * MsgId = MSG_ID_BASE + global number: unique, 64-bit and beyond 2^53, so clients must keep it exact.
 */

export const MSG_ID_BASE = 1n << 62n;

export interface NewMessage {
  /** Interned user number of the sender. */
  sender: number;
  time: number;
  msgType: number;
  subMsgType: number;
  priority: number;
  body: string;
  extendedData?: string | undefined;
  searchedContent?: string | undefined;
}

export interface StoredMessage extends NewMessage {
  index: number;
  seq: number;
}

/** One conversation's messages: global numbers ordered by (time, seq), oldest first. */
export interface ConversationLog {
  entries: number[];
  /** Highest MsgSeq given out; MsgSeq grows by one per import, in arrival order. */
  lastSeq: number;
}

export function newConversationLog(): ConversationLog {
  return { entries: [], lastSeq: 0 };
}

const INITIAL_CAPACITY = 1 << 12;

export class MessageStore {
  #count = 0;
  #sender = new Int32Array(INITIAL_CAPACITY);
  #time = new Float64Array(INITIAL_CAPACITY);
  #seq = new Uint32Array(INITIAL_CAPACITY);
  #msgType = new Uint8Array(INITIAL_CAPACITY);
  #subMsgType = new Uint8Array(INITIAL_CAPACITY);
  #priority = new Uint8Array(INITIAL_CAPACITY);
  #bodies: string[] = [];
  // Rare fields stay out of the columns.
  #extendedData = new Map<number, string>();
  #searchedContent = new Map<number, string>();
  /** A live one-to-one send stores one copy per owner under one MsgId: the sender's copy borrows the receiver's. */
  #msgIdAlias = new Map<number, bigint>();
  #aliasesOf = new Map<number, number[]>();
  /** Live sends without SendMsgOptions.NoUnread: they raise the receiver's unread count whatever imports do. */
  #raisesUnread = new Set<number>();

  get count(): number {
    return this.#count;
  }

  /** Appends a message to a conversation, keeping the log ordered by time; returns its global number and seq. */
  append(log: ConversationLog, message: NewMessage): { index: number; seq: number } {
    const index = this.#add(message, log.lastSeq + 1);
    log.lastSeq += 1;
    const entries = log.entries;
    const last = entries[entries.length - 1];
    if (last === undefined || this.#time[last]! <= message.time) entries.push(index);
    else entries.splice(this.#upperBound(entries, message.time), 0, index);
    return { index, seq: log.lastSeq };
  }

  /** Time of the newest message of a conversation, or -Infinity when empty. */
  newestTime(log: ConversationLog): number {
    const last = log.entries[log.entries.length - 1];
    return last === undefined ? -Infinity : this.#time[last]!;
  }

  get(index: number): StoredMessage {
    if (!(index >= 0 && index < this.#count)) throw new RangeError(`no message ${index}`);
    return {
      index,
      seq: this.#seq[index]!,
      sender: this.#sender[index]!,
      time: this.#time[index]!,
      msgType: this.#msgType[index]!,
      subMsgType: this.#subMsgType[index]!,
      priority: this.#priority[index]!,
      body: this.#bodies[index]!,
      extendedData: this.#extendedData.get(index),
      searchedContent: this.#searchedContent.get(index),
    };
  }

  time(index: number): number {
    return this.#time[index]!;
  }
  sender(index: number): number {
    return this.#sender[index]!;
  }
  seq(index: number): number {
    return this.#seq[index]!;
  }
  body(index: number): string {
    return this.#bodies[index]!;
  }

  msgId(index: number): bigint {
    return this.#msgIdAlias.get(index) ?? MSG_ID_BASE + BigInt(index);
  }

  /** Makes `copy` answer with `original`'s MsgId (the other owner's copy of the same live message). */
  shareMsgId(copy: number, original: number): void {
    this.#msgIdAlias.set(copy, this.msgId(original));
    const list = this.#aliasesOf.get(original);
    if (list) list.push(copy);
    else this.#aliasesOf.set(original, [copy]);
  }

  markRaisesUnread(index: number): void {
    this.#raisesUnread.add(index);
  }
  raisesUnread(index: number): boolean {
    return this.#raisesUnread.has(index);
  }

  /** The global number behind a MsgId this store gave out (not an alias), or undefined. */
  indexOfMsgId(msgId: bigint): number | undefined {
    const index = msgId - MSG_ID_BASE;
    return index >= 0n && index < BigInt(this.#count) ? Number(index) : undefined;
  }

  /** Replaces a message's body (an edit), in every copy sharing its MsgId. */
  editBody(index: number, body: string, extendedData?: string): void {
    for (const i of [index, ...(this.#aliasesOf.get(index) ?? [])]) {
      this.#bodies[i] = body;
      if (extendedData !== undefined) this.#extendedData.set(i, extendedData);
    }
  }

  /** Position of a message in a log (binary search on (time, seq)), or -1 if it is not in that log. */
  positionOf(log: ConversationLog, index: number): number {
    if (!(index >= 0 && index < this.#count)) return -1;
    const entries = log.entries;
    const time = this.#time[index]!;
    const seq = this.#seq[index]!;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = entries[mid]!;
      const t = this.#time[e]!;
      if (t < time || (t === time && this.#seq[e]! < seq)) lo = mid + 1;
      else hi = mid;
    }
    return entries[lo] === index ? lo : -1;
  }

  /**
   * A page of a log, newest first, starting just below `beforePosition` (exclusive; the log's length for the first
   * page). `keep` filters messages out (expired, for instance). `more` says whether older entries remain.
   */
  pageNewestFirst(
    log: ConversationLog,
    beforePosition: number,
    limit: number,
    keep: (index: number) => boolean
  ): { indices: number[]; more: boolean } {
    const indices: number[] = [];
    let p = beforePosition - 1;
    for (; p >= 0 && indices.length < limit; p--) {
      const index = log.entries[p]!;
      if (keep(index)) indices.push(index);
    }
    return { indices, more: p >= 0 };
  }

  /** Position of the first message of a log at or after `time`. */
  firstAtOrAfter(log: ConversationLog, time: number): number {
    return this.#bound(log.entries, (t) => t < time);
  }

  #upperBound(entries: number[], time: number): number {
    return this.#bound(entries, (t) => t <= time);
  }

  /** The first position whose time does not satisfy `before` (entries are ordered by time). */
  #bound(entries: number[], before: (time: number) => boolean): number {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.#time[entries[mid]!]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #add(m: NewMessage, seq: number): number {
    const i = this.#count;
    if (i === this.#sender.length) this.#grow();
    this.#sender[i] = m.sender;
    this.#time[i] = m.time;
    this.#seq[i] = seq;
    this.#msgType[i] = m.msgType;
    this.#subMsgType[i] = m.subMsgType;
    this.#priority[i] = m.priority;
    this.#bodies.push(m.body);
    if (m.extendedData) this.#extendedData.set(i, m.extendedData);
    if (m.searchedContent) this.#searchedContent.set(i, m.searchedContent);
    this.#count = i + 1;
    return i;
  }

  #grow(): void {
    const capacity = this.#sender.length * 2;
    const grow = <T extends Int32Array | Float64Array | Uint32Array | Uint8Array>(
      old: T,
      make: (n: number) => T
    ): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.#sender = grow(this.#sender, (n) => new Int32Array(n));
    this.#time = grow(this.#time, (n) => new Float64Array(n));
    this.#seq = grow(this.#seq, (n) => new Uint32Array(n));
    this.#msgType = grow(this.#msgType, (n) => new Uint8Array(n));
    this.#subMsgType = grow(this.#subMsgType, (n) => new Uint8Array(n));
    this.#priority = grow(this.#priority, (n) => new Uint8Array(n));
  }
}
