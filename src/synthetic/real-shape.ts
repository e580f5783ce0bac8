/**
 * `zim-migrate gen --shape real`: a deterministic export shaped like the real, messy chat export of issue #16
 * (about 12,700 users, 520 rooms and 270,000 messages that the product had never seen), scaled by the same options
 * as the synthetic shape. The same options give the same bytes.
 *
 * Valid but unusual, and all of it must migrate exactly:
 * - user and group ids with the characters ZIM accepts that ids rarely use (`| [ ] { } ~ # ! % & ( ) + : ; < = > ? @ ^`
 *   and spaces), some exactly 32 bytes; message ids with backquotes, quotes, pipes, slashes, backslashes and spaces;
 * - history from 2015 to 2019 only, so a plan's default retention refuses all of it (`--retention-days 10000`);
 * - power-law room sizes, the largest with min(700, users) members (above Pro's 200: `--max-group-members 2000`),
 *   admins and nicknames; one very long one-to-one conversation next to many of one or two messages;
 * - many messages with the same send time in one conversation (second-resolution times, bursts, one run of equal
 *   times in the longest conversation and in the largest room), which must land in the order of the file;
 * - deactivated users (one a room's owner), whose relations and memberships the validator skips by policy.
 *
 * Records that ZIM cannot take as they are, as the real export had them; each is one reject, declared in the summary:
 * - users whose id has a backquote (`id.invalid`), and every message, membership and friendship naming one (`id.invalid`);
 * - messages with an empty text (`record.schema`);
 * - messages without a sender: room notices with no `from`, one-to-one messages with `"from": null` (`record.schema`).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { RuleId } from '../import-format/rules';
import { ENTITIES, type Entity } from '../import-format/schemas';
import { DAY_MS } from '../import-format/time';
import { content, isoWithOffset, type GenerateSummary } from './generate';
import { NdjsonFileWriter } from './ndjson-writer';
import { Rng } from './random';
import { LOCALE_NAMES, personName, phrase } from './text';

export interface RealShapeOptions {
  out: string;
  /** Users with valid ids; the users whose ids ZIM refuses come on top (one per 250 started). */
  users: number;
  seed: number;
  /** Valid one-to-one messages (default 20 per user); the unimportable ones come on top. */
  peerMessages?: number;
  /** Rooms (default one per 25 users). */
  groups?: number;
  /** Valid room messages (default a quarter of the one-to-one messages); the unimportable ones come on top. */
  groupMessages?: number;
  gzip?: boolean;
}

/** Records written on purpose that ZIM cannot take as they are: `validate` rejects each once, under `rule`. */
export interface Unimportable {
  entity: Entity;
  kind: string;
  rule: RuleId;
  count: number;
}

export interface RealShapeSummary extends GenerateSummary {
  shape: 'real';
  /** Valid records that validation leaves out by policy (relations and memberships of deactivated users). */
  skipped: Record<Entity, number>;
  unimportable: Unimportable[];
  facts: {
    /** Users whose id ZIM refuses (a backquote), on top of `records.users`. */
    invalidUsers: number;
    deactivatedUsers: number;
    /** Member records of the largest room (valid ones), and how many of them validation stages. */
    largestGroup: { id: string; members: number; stagedMembers: number };
    longestConversation: { users: [string, string]; messages: number };
    /** The most valid messages of one conversation (or room) that share one send time. */
    longestTie: { conversation: string; messages: number };
    history: { from: string; to: string };
  };
}

/** Every message is sent in [from, to): 2015 to 2019. */
export const REAL_HISTORY = { fromMs: Date.UTC(2015, 0, 1), toMs: Date.UTC(2020, 0, 1) };
/** The largest room's members (when there are that many users): the real export's largest room. */
export const LARGEST_ROOM = 700;
/** The ZIM plan limits the shape needs: years of history, and rooms above Pro's 200 members. */
export const REAL_SHAPE_LIMITS = { retentionDays: 10_000, maxGroupMembers: 2000 } as const;
/** The plan settings for REAL_SHAPE_LIMITS. */
export const REAL_SHAPE_PLAN_FLAGS = [
  '--retention-days',
  String(REAL_SHAPE_LIMITS.retentionDays),
  '--max-group-members',
  String(REAL_SHAPE_LIMITS.maxGroupMembers),
] as const;

const RANGE = REAL_HISTORY.toMs - REAL_HISTORY.fromMs;
const HOUR_MS = 3_600_000;
const OFFSETS = [0, 480, -300, 330, 540, -180, 120, 345];
const FIRST = ['Mary', 'Jose', 'Li', 'Omar', 'Anna', 'Raj', 'Yuki', 'Ivan', 'Zoe', 'Ali'];
const LAST = ['Smith', 'Garcia', 'Wang', 'Khan', 'Ito', 'Novak'];

/** Valid user `i`'s id: every character ZIM accepts appears in some ids; case 8 is exactly 32 bytes. */
export function realUserId(i: number): string {
  const name = FIRST[i % FIRST.length]!;
  switch ((Math.imul(i + 1, 2654435761) >>> 0) % 12) {
    case 0:
      return `slack|U${String(i).padStart(8, '0')}`;
    case 1:
      return `[bot] helper ${i}`;
    case 2:
      return `${name} ${LAST[i % LAST.length]!} ${i}`;
    case 3:
      return `{guest}~${i}`;
    case 4:
      return `${name.toLowerCase()}+${i}@mail.example.com`;
    case 5:
      return `#${i}!`;
    case 6:
      return `(old) 50%=${i};ok`;
    case 7:
      return `a^b<c>d ${i} ?$&`;
    case 8:
      return `id:${i}.`.padEnd(32, '_');
    default:
      return `u${i}`;
  }
}

/** The id of unimportable user `j`: a backquote, which ZIM's id charset lacks (id.invalid). */
export function backquotedUserId(j: number): string {
  return j % 2 === 0 ? `\`legacy\` ${j}` : `o\`brien.${j}`;
}

/** Room `g`'s id (never starting with `#`, which ZIM reserves); case 6 is exactly 32 bytes. */
export function realGroupId(g: number): string {
  switch (g % 8) {
    case 0:
      return `room|general ${g}`;
    case 1:
      return `[team] ops ${g}`;
    case 2:
      return `{proj}~${g}`;
    case 3:
      return `chan:${g}#x`;
    case 4:
      return `q&a=${g}?`;
    case 5:
      return `!${g} (archived)`;
    case 6:
      return `grp.${g}.`.padEnd(32, '-');
    default:
      return `g${g}`;
  }
}

/** Message `n`'s source id: free strings, so that their order as strings is not the order of the file. */
function messageId(kind: 'p' | 'g', n: number): string {
  switch (n % 7) {
    case 0:
      return kind === 'p' ? `${n}` : `${n}@room`;
    case 1:
      return `\`${kind}msg\` ${n}`;
    case 2:
      return `'${n}'|"quoted ${kind}"`;
    case 3:
      return `thread [${n}] re: "hi"`;
    case 4:
      return `a/b\\c ${kind} ${n}`;
    case 5:
      return `${(Math.imul(n + 7, 2246822519) >>> 0).toString(16)}-${kind}-${n}`;
    default:
      return `${kind}|${n}|${n % 13}`;
  }
}

const isDeactivated = (i: number) => i % 40 === 17;

function localeOf(i: number): string {
  return LOCALE_NAMES[(Math.imul(i, 2654435761) >>> 0) % LOCALE_NAMES.length] ?? 'en';
}

/** `count` positions spread evenly over 1..total: after which valid record an extra one goes. */
function spread(total: number, count: number): number[] {
  return Array.from({ length: count }, (_, k) => Math.max(1, Math.floor(((k + 1) * total) / (count + 1))));
}

/** Texts that are valid and must arrive unchanged, however odd. */
const ODD_TEXTS = [' ', '\u200b', '```\ncode()\n```', 'line one\nline two', '"quoted" `ticks` |pipes|', '😀'];

export async function generateRealShapeExport(opts: RealShapeOptions): Promise<RealShapeSummary> {
  return new RealShapeGenerator(opts).run();
}

class RealShapeGenerator {
  private readonly n: number;
  private readonly invalidUsers: number;
  private readonly peerTotal: number;
  private readonly groupCount: number;
  private readonly groupTotal: number;
  private readonly root: Rng;
  private readonly files: Record<string, number> = {};
  // Every entity, written or not (no read states in this shape): a summary lists each one.
  private readonly records = Object.fromEntries(ENTITIES.map((e) => [e, 0])) as Record<Entity, number>;
  private readonly skipped = Object.fromEntries(ENTITIES.map((e) => [e, 0])) as Record<Entity, number>;
  private readonly unimportable: Unimportable[] = [];
  private readonly groupMembers: Int32Array[] = [];
  private readonly facts: RealShapeSummary['facts'];

  constructor(private readonly opts: RealShapeOptions) {
    this.n = Math.max(2, opts.users);
    this.invalidUsers = Math.ceil(this.n / 250);
    this.peerTotal = opts.peerMessages ?? this.n * 20;
    this.groupCount = opts.groups ?? Math.floor(this.n / 25);
    this.groupTotal = this.groupCount === 0 ? 0 : (opts.groupMessages ?? Math.floor(this.peerTotal / 4));
    this.root = new Rng(opts.seed);
    this.facts = {
      invalidUsers: this.invalidUsers,
      deactivatedUsers: Array.from({ length: this.n }, (_, i) => i).filter(isDeactivated).length,
      largestGroup: { id: '', members: 0, stagedMembers: 0 },
      longestConversation: { users: ['', ''], messages: 0 },
      longestTie: { conversation: '', messages: 0 },
      history: { from: new Date(REAL_HISTORY.fromMs).toISOString(), to: new Date(REAL_HISTORY.toMs).toISOString() },
    };
  }

  async run(): Promise<RealShapeSummary> {
    mkdirSync(this.opts.out, { recursive: true });
    await this.write('users', 1, (w, rng) => this.userRecords(w, rng));
    await this.write('friends', 2, (w, rng) => this.friendRecords(w, rng));
    await this.write('blocks', 3, (w, rng) => this.blockRecords(w, rng));
    const members = this.open('group_members');
    await this.write('groups', 4, (w, rng) => this.groupRecords(w, members, rng));
    await this.close('group_members', members, members.lines - this.unimportableOf('group_members'));
    await this.write('peer_messages', 5, (w, rng) => this.peerMessageRecords(w, rng));
    await this.write('group_messages', 6, (w, rng) => this.groupMessageRecords(w, rng));
    const injected: Partial<Record<RuleId, number>> = {};
    for (const u of this.unimportable) injected[u.rule] = (injected[u.rule] ?? 0) + u.count;
    return {
      shape: 'real',
      dir: this.opts.out,
      files: this.files,
      records: this.records,
      injected,
      skipped: this.skipped,
      unimportable: this.unimportable,
      facts: this.facts,
    };
  }

  private open(entity: Entity): NdjsonFileWriter {
    const ext = this.opts.gzip ? '.ndjson.gz' : '.ndjson';
    return new NdjsonFileWriter(path.join(this.opts.out, entity + ext), this.opts.gzip ?? false);
  }

  /** Each entity draws from its own random stream, as in the synthetic shape. */
  private async write(
    entity: Entity,
    stream: number,
    produce: (w: NdjsonFileWriter, rng: Rng) => Promise<number>
  ): Promise<void> {
    const w = this.open(entity);
    await this.close(entity, w, await produce(w, this.root.fork(stream)));
  }

  /** A file with nothing to write is left out (validation would warn that it is empty). */
  private async close(entity: Entity, w: NdjsonFileWriter, valid: number): Promise<void> {
    await w.close();
    this.records[entity] = valid;
    if (w.lines > 0) this.files[path.basename(w.path)] = w.lines;
    else rmSync(w.path);
  }

  private declare(entity: Entity, kind: string, rule: RuleId, count: number): void {
    if (count > 0) this.unimportable.push({ entity, kind, rule, count });
  }

  private unimportableOf(entity: Entity): number {
    return this.unimportable.filter((u) => u.entity === entity).reduce((a, u) => a + u.count, 0);
  }

  private time(rng: Rng, ms: number): number | string {
    return rng.chance(0.1) ? isoWithOffset(ms, rng.pick(OFFSETS)) : ms;
  }

  /** A time in the history range, in whole seconds. */
  private someTime(rng: Rng): number {
    return REAL_HISTORY.fromMs + Math.floor((rng.float() * RANGE) / 1000) * 1000;
  }

  /** Invalid user `j` is written after valid user `invalidAfter[j]`, spread over the file. */
  private invalidAfter(): number[] {
    return spread(this.n, this.invalidUsers).map((p) => p - 1);
  }

  /** Valid users, 1 in 40 deactivated; the backquoted ones spread among them. */
  private async userRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    const after = this.invalidAfter();
    let j = 0;
    for (let i = 0; i < this.n; i++) {
      const locale = localeOf(i);
      let nickname = personName(rng, locale);
      if (rng.chance(0.1)) nickname = `"${nickname}" | ${phrase(rng, locale, 3)}`;
      const u: Record<string, unknown> = { id: realUserId(i), nickname };
      if (rng.chance(0.7)) u.avatarUrl = `https://cdn.example.com/avatars/${encodeURIComponent(realUserId(i))}.png`;
      if (rng.chance(0.2)) u.extendedData = JSON.stringify({ title: phrase(rng, locale, 3), tz: rng.pick(OFFSETS) });
      u.createdAt = this.time(rng, REAL_HISTORY.fromMs - rng.int(1, 700) * DAY_MS);
      if (isDeactivated(i)) u.deactivated = true;
      w.write(u);
      for (; j < after.length && after[j] === i; j++)
        w.write({ id: backquotedUserId(j), nickname: personName(rng, 'en'), createdAt: REAL_HISTORY.fromMs });
      if (i % 10_000 === 0) await w.settle();
    }
    this.declare('users', 'user id with a backquote', 'id.invalid', this.invalidUsers);
    return this.n;
  }

  /** A tenth of the users list 1-4 friends (60% mutual); each backquoted user has one friend. */
  private async friendRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    const after = this.invalidAfter();
    let n = 0;
    let j = 0;
    const add = (a: number, b: number, record: Record<string, unknown>) => {
      w.write(record);
      n++;
      if (isDeactivated(a) || isDeactivated(b)) this.skipped.friends++;
    };
    for (let i = 0; i < this.n; i++) {
      if (i < this.n - 1 && rng.chance(0.1)) {
        const picks = new Set<number>();
        for (let k = rng.int(1, 4); k > 0; k--) picks.add(rng.int(i + 1, this.n - 1));
        for (const f of picks) {
          const since = this.time(rng, this.someTime(rng));
          const record: Record<string, unknown> = { user: realUserId(i), friend: realUserId(f), since };
          if (rng.chance(0.3)) record.alias = `${personName(rng, localeOf(i))} [${rng.pick(['work', 'gym', '🏠'])}]`;
          if (rng.chance(0.1)) record.attributes = { k0: rng.pick(['family', 'work | ops', 'school']) };
          add(i, f, record);
          if (rng.chance(0.6)) add(f, i, { user: realUserId(f), friend: realUserId(i), since });
        }
      }
      for (; j < after.length && after[j] === i; j++)
        w.write({ user: backquotedUserId(j), friend: realUserId((j * 31) % this.n) });
      if (i % 5_000 === 0) await w.settle();
    }
    this.declare('friends', 'friendship of a user whose id has a backquote', 'id.invalid', this.invalidUsers);
    return n;
  }

  /** 2% of users block one or two others (at least one block in all). */
  private blockRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    let n = 0;
    const add = (a: number, b: number) => {
      w.write({ user: realUserId(a), blocked: realUserId(b), since: this.someTime(rng) });
      n++;
      if (isDeactivated(a) || isDeactivated(b)) this.skipped.blocks++;
    };
    for (let i = 0; i < this.n; i++) {
      if (!rng.chance(0.02)) continue;
      const picks = new Set<number>();
      for (let k = rng.int(1, 2); k > 0; k--) {
        const b = rng.int(0, this.n - 1);
        if (b !== i) picks.add(b);
      }
      for (const b of picks) add(i, b);
    }
    if (n === 0) add(0, 1);
    return Promise.resolve(n);
  }

  /**
   * Room 0 is the largest: min(700, users) members, active users first; the others have power-law sizes from 2 up.
   * Room 1's owner is a deactivated user. Every backquoted user is a member of room 0 (rejected, id.invalid).
   */
  private async groupRecords(w: NdjsonFileWriter, mw: NdjsonFileWriter, rng: Rng): Promise<number> {
    const all = Array.from({ length: this.n }, (_, i) => i);
    const active = all.filter((i) => !isDeactivated(i));
    const deactivated = all.filter(isDeactivated);
    for (let g = 0; g < this.groupCount; g++) {
      let list: number[];
      if (g === 0) {
        const size = Math.min(LARGEST_ROOM, this.n);
        list = [...partialShuffle(rng, active, size), ...partialShuffle(rng, deactivated, size)].slice(0, size);
      } else {
        const size = Math.min(this.n, rng.powerLaw(2, Math.min(this.n, LARGEST_ROOM), 1.0));
        const chosen = new Set<number>();
        while (chosen.size < size) chosen.add(rng.int(0, this.n - 1));
        list = [...chosen];
      }
      if (g === 1 && deactivated.length > 0) list = [deactivated[0]!, ...list.filter((u) => u !== deactivated[0])];
      this.groupMembers.push(Int32Array.from(list));
      const id = realGroupId(g);
      const owner = list[0]!;
      const createdAt = REAL_HISTORY.fromMs - rng.int(1, 365) * DAY_MS;
      const name = [...`${rng.chance(0.3) ? '#' : ''}${phrase(rng, localeOf(owner), 4)}`].slice(0, 40).join('');
      const group: Record<string, unknown> = { id, name, owner: realUserId(owner), createdAt };
      if (rng.chance(0.4)) group.notice = `${phrase(rng, localeOf(owner), 8)} | rules: "be nice" \`always\``;
      if (rng.chance(0.2)) group.attributes = { topic: rng.pick(['sports', 'family', 'work [ops]']) };
      w.write(group);

      const admins = list.length < 3 ? 0 : Math.min(12, 1 + Math.floor(list.length / 60));
      const invalidAt = g === 0 ? spread(list.length, this.invalidUsers) : [];
      let staged = 0;
      for (const [k, u] of list.entries()) {
        for (const [j, at] of invalidAt.entries())
          if (at === k) mw.write({ group: id, user: backquotedUserId(j), role: 'member', joinedAt: createdAt });
        if (k === 0 && g % 10 === 9) continue; // the owner is a member whether or not a line lists them
        const m: Record<string, unknown> = {
          group: id,
          user: realUserId(u),
          role: k === 0 ? 'owner' : k <= admins ? 'admin' : 'member',
          joinedAt: this.time(rng, createdAt + k * 60_000),
        };
        if (rng.chance(0.2)) m.nickname = `${personName(rng, localeOf(u))}${rng.chance(0.3) ? ' 🎉 "the boss"' : ''}`;
        mw.write(m);
        if (k > 0 && isDeactivated(u)) this.skipped.group_members++;
        else staged++;
      }
      if (g === 0) this.facts.largestGroup = { id, members: list.length, stagedMembers: staged };
      await mw.settle();
    }
    if (this.groupCount > 0)
      this.declare('group_members', 'member whose user id has a backquote', 'id.invalid', this.invalidUsers);
    return this.groupCount;
  }

  /**
   * Conversation 0 (the two most active users) holds a fifth of the one-to-one messages over all five years;
   * the others have power-law sizes, most of one or two messages. Grouped by conversation, oldest first.
   */
  private async peerMessageRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    const total = this.peerTotal;
    if (total === 0) return 0;
    const empty = spread(total, Math.max(1, Math.round(total * 0.004)));
    const senderless = spread(total, Math.max(1, Math.round(total * 0.001)));
    const invalidDue = spread(total, this.invalidUsers);
    let written = 0;
    let next = 0;
    let invalidMessages = 0;
    let j = 0;
    for (let conv = 0; written < total; conv++) {
      const size = Math.min(
        total - written,
        conv === 0 ? Math.max(1, Math.floor(total / 5)) : rng.powerLaw(1, 3000, 1.2)
      );
      const a = conv === 0 ? 0 : Math.floor(this.n * Math.pow(rng.float(), 3));
      let b = conv === 0 ? 1 : rng.int(0, this.n - 2);
      if (conv !== 0 && b >= a) b++;
      const span = conv === 0 ? RANGE : Math.min(RANGE * 0.9, size * rng.exponential(3 * HOUR_MS) + 60_000);
      const times = this.times(rng, size, span, conv === 0 ? Math.min(50, Math.floor(size / 4)) : 0);
      this.noteConversation(`${realUserId(a)} ↔ ${realUserId(b)}`, times);
      if (size > this.facts.longestConversation.messages)
        this.facts.longestConversation = { users: [realUserId(a), realUserId(b)], messages: size };
      for (const t of times) {
        const [from, to] = rng.chance(0.5) ? [a, b] : [b, a];
        const m: Record<string, unknown> = {
          id: messageId('p', next++),
          from: realUserId(from),
          to: realUserId(to),
          sentAt: this.time(rng, t),
          ...this.body(rng, from, next),
        };
        const del = rng.float();
        if (del < 0.03) m.deletedBy = [realUserId(from)];
        else if (del < 0.05) m.deletedBy = [realUserId(to)];
        else if (del < 0.055) m.deletedBy = [realUserId(from), realUserId(to)];
        w.write(m);
        written++;
        for (; empty[0] === written; empty.shift())
          w.write({ ...m, id: messageId('p', next++), body: { text: '' }, type: 'text', deletedBy: undefined });
        for (; senderless[0] === written; senderless.shift())
          w.write({ ...m, id: messageId('p', next++), from: null, deletedBy: undefined });
      }
      // A backquoted user's conversation with a valid one: 1-4 messages, each rejected (id.invalid).
      for (; j < invalidDue.length && invalidDue[j]! <= written; j++) {
        const peer = (j * 7919 + 3) % this.n;
        for (const t of this.times(rng, rng.int(1, 4), 10 * 60_000, 0)) {
          const out = rng.chance(0.5);
          w.write({
            id: messageId('p', next++),
            from: out ? backquotedUserId(j) : realUserId(peer),
            to: out ? realUserId(peer) : backquotedUserId(j),
            sentAt: t,
            type: 'text',
            body: { text: phrase(rng, 'en', 6) },
          });
          invalidMessages++;
        }
      }
      await w.settle();
    }
    this.declare('peer_messages', 'message from or to a user whose id has a backquote', 'id.invalid', invalidMessages);
    this.declare('peer_messages', 'empty text', 'record.schema', Math.max(1, Math.round(total * 0.004)));
    this.declare('peer_messages', 'no sender ("from": null)', 'record.schema', Math.max(1, Math.round(total * 0.001)));
    return written;
  }

  /**
   * Room 0 holds 30% of the room messages (with a run of equal send times); the other rooms power-law shares, many
   * of them nothing or a few. Some senders have left the room. Room notices have no sender; the backquoted users
   * each posted once in room 0.
   */
  private async groupMessageRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    const total = this.groupTotal;
    if (total === 0) return 0;
    const sizes = new Array<number>(this.groupCount).fill(0);
    sizes[0] = this.groupCount === 1 ? total : Math.max(1, Math.floor(total * 0.3));
    for (let left = total - sizes[0], g = 1; left > 0; g = (g % (this.groupCount - 1)) + 1) {
      const add = Math.min(left, rng.powerLaw(1, 2000, 1.2));
      sizes[g]! += add;
      left -= add;
    }
    const empty = spread(total, Math.max(1, Math.round(total * 0.004)));
    const notices = spread(total, Math.max(1, Math.round(total * 0.01)));
    const invalidAt = spread(sizes[0], this.invalidUsers);
    let written = 0;
    let next = 0;
    for (const [g, size] of sizes.entries()) {
      if (size === 0) continue;
      const id = realGroupId(g);
      const members = this.groupMembers[g]!;
      const times = this.times(
        rng,
        size,
        g === 0 ? RANGE : Math.min(RANGE * 0.9, size * rng.exponential(12 * HOUR_MS)),
        g === 0 ? Math.min(50, Math.floor(size / 4)) : 0
      );
      this.noteConversation(`room ${id}`, times);
      for (const [k, t] of times.entries()) {
        const from = rng.chance(0.03) ? rng.int(0, this.n - 1) : members[rng.int(0, members.length - 1)]!;
        const m: Record<string, unknown> = {
          id: messageId('g', next++),
          group: id,
          from: realUserId(from),
          sentAt: this.time(rng, t),
          ...this.body(rng, from, next),
        };
        w.write(m);
        written++;
        for (; empty[0] === written; empty.shift())
          w.write({ ...m, id: messageId('g', next++), type: 'text', body: { text: '' } });
        for (; notices[0] === written; notices.shift())
          w.write({
            id: messageId('g', next++),
            group: id,
            sentAt: t,
            type: 'text',
            body: { text: `${personName(rng, 'en')} ${rng.pick(['joined', 'left', 'renamed the room'])}` },
          });
        if (g === 0)
          for (const [j, at] of invalidAt.entries())
            if (at === k + 1)
              w.write({
                id: messageId('g', next++),
                group: id,
                from: backquotedUserId(j),
                sentAt: t,
                type: 'text',
                body: { text: 'hello all' },
              });
      }
      await w.settle();
    }
    this.declare('group_messages', 'message from a user whose id has a backquote', 'id.invalid', this.invalidUsers);
    this.declare('group_messages', 'empty text', 'record.schema', Math.max(1, Math.round(total * 0.004)));
    this.declare(
      'group_messages',
      'room notice without a sender',
      'record.schema',
      Math.max(1, Math.round(total * 0.01))
    );
    return written;
  }

  /** Mostly the synthetic shape's content (text in many scripts, media, custom), some odd texts that stay valid. */
  private body(rng: Rng, from: number, n: number): Record<string, unknown> {
    if (rng.chance(0.02)) return { type: 'text', body: { text: rng.pick(ODD_TEXTS) } };
    return content(rng, localeOf(from), `m${n}`);
  }

  /**
   * Ascending send times of one conversation over `span` ms: whole seconds, 15% of messages at the same time as the
   * one before, and a run of `tieRun` messages sharing one time.
   */
  private times(rng: Rng, size: number, span: number, tieRun: number): number[] {
    const start = REAL_HISTORY.fromMs + rng.float() * (RANGE - span);
    const gap = span / (size + 1);
    const runFrom = tieRun > 1 ? rng.int(0, size - tieRun) : -1;
    const out: number[] = [];
    let t = start;
    for (let k = 0; k < size; k++) {
      const inRun = runFrom >= 0 && k > runFrom && k < runFrom + tieRun;
      if (k > 0 && !inRun && !rng.chance(0.15)) t += rng.exponential(gap);
      t = Math.min(t, REAL_HISTORY.toMs - 1);
      out.push(Math.floor(t / 1000) * 1000);
    }
    return out;
  }

  private noteConversation(name: string, times: readonly number[]): void {
    for (let k = 0, run = 1; k < times.length; k++) {
      run = k > 0 && times[k] === times[k - 1] ? run + 1 : 1;
      if (run > this.facts.longestTie.messages) this.facts.longestTie = { conversation: name, messages: run };
    }
  }
}

/** The first `count` items of a seeded Fisher-Yates shuffle of `items` (a copy). */
function partialShuffle(rng: Rng, items: readonly number[], count: number): number[] {
  const a = [...items];
  const end = Math.min(count, a.length);
  for (let i = 0; i < end; i++) {
    const k = rng.int(i, a.length - 1);
    [a[i], a[k]] = [a[k]!, a[i]!];
  }
  return a.slice(0, end);
}
