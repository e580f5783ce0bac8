/**
 * Deterministic synthetic exports in the import format: the same options give the same bytes.
 * Realistic in the ways that matter to a migration: power-law activity and conversation sizes, text in
 * many scripts with emoji, media and custom messages, messages deleted by one side, mutual and one-way
 * friendships, blocks (some of friends), groups from 3 to 200 members, deactivated accounts, and both
 * time formats. Optionally injects bad records, one reject each, for tests of the validator.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { RuleId } from '../import-format/rules';
import type { Entity } from '../import-format/schemas';
import { DAY_MS } from '../import-format/time';
import { NdjsonFileWriter } from './ndjson-writer';
import { Rng } from './random';
import { LOCALE_NAMES, personName, phrase } from './text';

export interface GenerateOptions {
  out: string;
  users: number;
  seed: number;
  /** One-to-one messages (default 20 per user). */
  peerMessages?: number;
  /** Groups (default one per 25 users). */
  groups?: number;
  /** Group messages (default a quarter of the one-to-one messages). */
  groupMessages?: number;
  gzip?: boolean;
  /** Bad records to inject into peer_messages (each family in turn); 0 for a clean export. */
  badRecords?: number;
  /** Messages are sent before this time (default: today 00:00 UTC). */
  endMs?: number;
  /** ... and within this many days of it (default 20, inside the Pro plan's 30-day retention). */
  days?: number;
}

export interface GenerateSummary {
  dir: string;
  files: Record<string, number>;
  /** Valid records written per entity. */
  records: Record<Entity, number>;
  /** Injected bad records per rule the validator must report. */
  injected: Partial<Record<RuleId, number>>;
}

export function startOfTodayUtc(now = Date.now()): number {
  return now - (now % DAY_MS);
}

const ASCII_NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'li.na', 'jose', 'omar', 'yuki', 'ivan'];
const OFFSETS = [0, 480, -300, 330, 540, -180, 120];

export function userId(i: number): string {
  return i % 7 === 3 ? `${ASCII_NAMES[i % ASCII_NAMES.length]}_${i}@app` : `u${i}`;
}

function localeOf(i: number): string {
  return LOCALE_NAMES[(Math.imul(i, 2654435761) >>> 0) % LOCALE_NAMES.length] ?? 'en';
}

/** An ISO-8601 time with the given offset in minutes: exporters in other time zones write these. */
export function isoWithOffset(ms: number, offsetMinutes: number): string {
  if (offsetMinutes === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export async function generateExport(opts: GenerateOptions): Promise<GenerateSummary> {
  return new ExportGenerator(opts).run();
}

class ExportGenerator {
  private readonly users: number;
  private readonly end: number;
  private readonly windowMs: number;
  private readonly root: Rng;
  private readonly files: Record<string, number> = {};
  private readonly records = {} as Record<Entity, number>;
  private readonly bad: BadRecords;
  /** Member user indexes per group, for choosing group message senders. */
  private readonly groupMembers: Int32Array[] = [];

  constructor(private readonly opts: GenerateOptions) {
    this.users = Math.max(2, opts.users);
    this.end = opts.endMs ?? startOfTodayUtc();
    this.windowMs = (opts.days ?? 20) * DAY_MS;
    this.root = new Rng(opts.seed);
    this.bad = new BadRecords(opts.badRecords ?? 0, this.peerTotal, this.end);
  }

  private get peerTotal(): number {
    return this.opts.peerMessages ?? this.users * 20;
  }

  async run(): Promise<GenerateSummary> {
    mkdirSync(this.opts.out, { recursive: true });
    await this.write('users', 1, (w, rng) => this.userRecords(w, rng));
    await this.write('friends', 2, (w, rng) => this.friendRecords(w, rng));
    await this.write('blocks', 3, (w, rng) => this.blockRecords(w, rng));
    const members = this.open('group_members');
    await this.write('groups', 4, (w, rng) => this.groupRecords(w, members, rng));
    await this.close('group_members', members, members.lines);
    await this.write('peer_messages', 5, (w, rng) => this.peerMessageRecords(w, rng));
    await this.write('group_messages', 6, (w, rng) => this.groupMessageRecords(w, rng));
    return { dir: this.opts.out, files: this.files, records: this.records, injected: this.bad.injected };
  }

  private open(entity: Entity): NdjsonFileWriter {
    const ext = this.opts.gzip ? '.ndjson.gz' : '.ndjson';
    return new NdjsonFileWriter(path.join(this.opts.out, entity + ext), this.opts.gzip ?? false);
  }

  /** Each entity draws from its own random stream, so that changing one leaves the others' bytes alone. */
  private async write(
    entity: Entity,
    stream: number,
    produce: (w: NdjsonFileWriter, rng: Rng) => Promise<number>
  ): Promise<void> {
    const w = this.open(entity);
    await this.close(entity, w, await produce(w, this.root.fork(stream)));
  }

  private async close(entity: Entity, w: NdjsonFileWriter, valid: number): Promise<void> {
    await w.close();
    this.records[entity] = valid;
    this.files[path.basename(w.path)] = w.lines;
  }

  private time(rng: Rng, ms: number): number | string {
    return rng.chance(0.1) ? isoWithOffset(ms, rng.pick(OFFSETS)) : ms;
  }

  /** 2% deactivated; profile fields sometimes missing; both time formats. */
  private async userRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    for (let i = 0; i < this.users; i++) {
      const locale = localeOf(i);
      const u: Record<string, unknown> = { id: userId(i), nickname: personName(rng, locale) };
      if (rng.chance(0.8)) u.avatarUrl = `https://cdn.example.com/avatars/${i}.jpg`;
      if (rng.chance(0.3)) u.extendedData = JSON.stringify({ locale, level: rng.int(1, 60) });
      u.createdAt = this.time(rng, this.end - this.windowMs - rng.int(0, 1000) * DAY_MS);
      if (rng.chance(0.02)) u.deactivated = true;
      w.write(u);
      if (i % 10_000 === 0) await w.settle();
    }
    return this.users;
  }

  /** i → j with j > i (so no pair repeats), about 60% also written back as j → i. */
  private async friendRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    let n = 0;
    for (let i = 0; i < this.users - 1; i++) {
      const picks = new Set<number>();
      const want = rng.powerLaw(1, 60, 1.3) - 1;
      for (let k = 0; k < want; k++) picks.add(rng.int(i + 1, this.users - 1));
      for (const j of picks) {
        const since = this.time(rng, this.end - rng.int(1, 700) * DAY_MS);
        const f: Record<string, unknown> = { user: userId(i), friend: userId(j), since };
        if (rng.chance(0.3)) f.alias = personName(rng, localeOf(i));
        if (rng.chance(0.1)) f.attributes = { k0: rng.pick(['family', 'work', 'school']) };
        w.write(f);
        n++;
        if (rng.chance(0.6)) {
          w.write({ user: userId(j), friend: userId(i), since });
          n++;
        }
      }
      if (i % 5_000 === 0) await w.settle();
    }
    return n;
  }

  /**
   * 3% of users block 1-3 others (sometimes a friend: friend and block are not exclusive). A small export whose
   * draw picked nobody gets two blockers drawn afterwards (so its blocks file is not empty and its blocklists get
   * migrated and verified); the draw before is unchanged, and with it every export that had blocks.
   */
  private blockRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    let n = 0;
    const block = (i: number) => {
      const picks = new Set<number>();
      for (let k = rng.int(1, 3); k > 0; k--) {
        const j = rng.int(0, this.users - 1);
        if (j !== i) picks.add(j);
      }
      for (const j of picks) {
        w.write({ user: userId(i), blocked: userId(j), since: this.end - rng.int(1, 300) * DAY_MS });
        n++;
      }
    };
    for (let i = 0; i < this.users; i++) if (rng.chance(0.03)) block(i);
    if (n === 0) {
      const blockers = new Set<number>();
      while ((n === 0 || blockers.size < 2) && blockers.size < this.users) {
        const i = rng.int(0, this.users - 1);
        if (blockers.has(i)) continue;
        blockers.add(i);
        block(i);
      }
    }
    return Promise.resolve(n);
  }

  /** Groups of 3 to 200 members (Pro's cap), a few above CreateGroup's 100 initial members. */
  private async groupRecords(w: NdjsonFileWriter, mw: NdjsonFileWriter, rng: Rng): Promise<number> {
    const count = this.opts.groups ?? Math.floor(this.users / 25);
    for (let g = 0; g < count; g++) {
      const size = Math.min(this.users, rng.powerLaw(3, 200, 1.2));
      const chosen = new Set<number>();
      while (chosen.size < size) chosen.add(rng.int(0, this.users - 1));
      const list = Int32Array.from(chosen);
      this.groupMembers.push(list);
      const owner = list[0]!;
      const createdAt = this.end - this.windowMs - rng.int(1, 500) * DAY_MS;
      const name = [...phrase(rng, localeOf(owner), 4)].slice(0, 40).join('');
      const group: Record<string, unknown> = { id: `g${g}`, name, owner: userId(owner), createdAt };
      if (rng.chance(0.5)) group.notice = phrase(rng, localeOf(owner), 10);
      if (rng.chance(0.2)) group.attributes = { topic: rng.pick(['sports', 'family', 'work']) };
      w.write(group);
      for (const [k, u] of list.entries()) {
        const role = k === 0 ? 'owner' : k <= 2 && rng.chance(0.5) ? 'admin' : 'member';
        const m: Record<string, unknown> = {
          group: `g${g}`,
          user: userId(u),
          role,
          joinedAt: this.time(rng, createdAt + k * 60_000),
        };
        if (rng.chance(0.2)) m.nickname = personName(rng, localeOf(u));
        mw.write(m);
      }
      await mw.settle();
    }
    return count;
  }

  /**
   * Conversations with power-law sizes between users of skewed activity; the file is grouped by
   * conversation, as exports usually are, not sorted by time.
   */
  private async peerMessageRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    let written = 0;
    while (written < this.peerTotal) {
      const size = Math.min(this.peerTotal - written, rng.powerLaw(1, 5000, 1.1));
      const a = Math.floor(this.users * Math.pow(rng.float(), 3));
      let b = rng.int(0, this.users - 2);
      if (b >= a) b++;
      for (const t of this.times(rng, size)) {
        const [from, to] = rng.chance(0.5) ? [a, b] : [b, a];
        const id = `pm${written}`;
        const m: Record<string, unknown> = {
          id,
          from: userId(from),
          to: userId(to),
          sentAt: this.time(rng, t),
          ...content(rng, localeOf(from), id),
        };
        const del = rng.float();
        if (del < 0.03) m.deletedBy = [userId(from)];
        else if (del < 0.05) m.deletedBy = [userId(to)];
        else if (del < 0.055) m.deletedBy = [userId(from), userId(to)];
        w.write(m);
        written++;
        this.bad.maybeInject(w, written, m);
      }
      await w.settle();
    }
    return written;
  }

  /** Power-law history sizes per group, senders among the members. */
  private async groupMessageRecords(w: NdjsonFileWriter, rng: Rng): Promise<number> {
    const total = this.opts.groupMessages ?? Math.floor(this.peerTotal / 4);
    let written = 0;
    for (let g = 0; this.groupMembers.length > 0 && written < total; g = (g + 1) % this.groupMembers.length) {
      const members = this.groupMembers[g]!;
      const size = Math.min(total - written, rng.powerLaw(1, 2000, 1.2));
      for (const t of this.times(rng, size)) {
        const from = members[rng.int(0, members.length - 1)]!;
        const id = `gm${written}`;
        w.write({
          id,
          group: `g${g}`,
          from: userId(from),
          sentAt: this.time(rng, t),
          ...content(rng, localeOf(from), id),
        });
        written++;
      }
      await w.settle();
    }
    return written;
  }

  /** Ascending send times of one conversation, inside the window and before its end. */
  private *times(rng: Rng, size: number): Generator<number> {
    let t = this.end - this.windowMs + rng.float() * this.windowMs * 0.5;
    const gap = (this.end - t) / (size + 1);
    for (let k = 0; k < size; k++) {
      t = Math.min(this.end - 1, t + rng.exponential(gap * 0.9));
      yield Math.floor(t);
    }
  }
}

/** type + body (+ extendedData): mostly text, some media and custom messages. */
export function content(rng: Rng, locale: string, id: string): Record<string, unknown> {
  const r = rng.float();
  const media = `https://cdn.example.com/media/${id}`;
  let c: Record<string, unknown>;
  if (r < 0.85) c = { type: 'text', body: { text: phrase(rng, locale, rng.chance(0.02) ? 60 : 14) } };
  else if (r < 0.89)
    c = {
      type: 'image',
      body: {
        url: `${media}.jpg`,
        fileName: `IMG_${id}.jpg`,
        width: 1280,
        height: 960,
        size: rng.int(20_000, 4_000_000),
        thumbnail: { url: `${media}_t.jpg`, width: 320, height: 240 },
      },
    };
  else if (r < 0.92)
    c = {
      type: 'file',
      body: { url: `${media}.pdf`, fileName: `${phrase(rng, locale, 3)}.pdf`, size: rng.int(1000, 9_000_000) },
    };
  else if (r < 0.94)
    c = {
      type: 'audio',
      body: {
        url: `${media}.m4a`,
        fileName: `voice_${id}.m4a`,
        size: rng.int(5000, 900_000),
        duration: rng.int(1, 120),
      },
    };
  else if (r < 0.96)
    c = {
      type: 'video',
      body: {
        url: `${media}.mp4`,
        fileName: `VID_${id}.mp4`,
        size: rng.int(100_000, 90_000_000),
        duration: rng.int(1, 600),
        thumbnail: { url: `${media}_v.jpg`, width: 640, height: 360 },
      },
    };
  else
    c = {
      type: 'custom',
      body: {
        subType: rng.int(1, 20),
        content: JSON.stringify({ kind: 'location', lat: rng.int(-90, 90), lng: rng.int(-180, 180) }),
        searchableContent: 'location',
      },
    };
  if (rng.chance(0.05)) c.extendedData = JSON.stringify({ replyTo: `pm${rng.int(0, 1000)}` });
  return c;
}

/** Bad one-to-one records, one family after another, spread evenly; each must yield one reject of its rule. */
class BadRecords {
  readonly injected: Partial<Record<RuleId, number>> = {};
  private next = 0;
  private readonly every: number;

  constructor(
    private readonly count: number,
    total: number,
    private readonly end: number
  ) {
    this.every = count > 0 ? Math.max(1, Math.floor(total / count)) : Infinity;
  }

  maybeInject(w: NdjsonFileWriter, written: number, last: Record<string, unknown>): void {
    if (this.next >= this.count || written % this.every !== 0) return;
    const family = FAMILIES[this.next % FAMILIES.length]!;
    const id = `bad${this.next++}`;
    const good = { id, from: last.from, to: last.to, sentAt: this.end - 1000, type: 'text', body: { text: 'x' } };
    w.raw(family.line(good, last));
    this.injected[family.rule] = (this.injected[family.rule] ?? 0) + 1;
  }
}

const json = (v: unknown) => JSON.stringify(v) + '\n';
const FAMILIES: {
  rule: RuleId;
  line(good: Record<string, unknown>, last: Record<string, unknown>): string | Buffer;
}[] = [
  { rule: 'line.invalid-json', line: (g) => json(g).slice(0, 25) + '\n' },
  { rule: 'line.forbidden-key', line: (g) => json(g).replace('{', '{"__proto__":{"polluted":true},') },
  { rule: 'ref.unknown-user', line: (g) => json({ ...g, from: 'ghost-user' }) },
  { rule: 'id.invalid', line: (g) => json({ ...g, to: 'bad/id' }) },
  { rule: 'time.future', line: (g) => json({ ...g, sentAt: (g.sentAt as number) + 365 * DAY_MS }) },
  { rule: 'time.seconds', line: (g) => json({ ...g, sentAt: 1_700_000_000 }) },
  { rule: 'size.message', line: (g) => json({ ...g, body: { text: 'x'.repeat(3000) } }) },
  { rule: 'record.schema', line: (g) => json({ ...g, sentAt: true }) },
  { rule: 'message.type', line: (g) => json({ ...g, type: 'signaling' }) },
  { rule: 'relation.self', line: (g) => json({ ...g, to: g.from }) },
  { rule: 'dup.id', line: (g, last) => json({ ...g, id: last.id }) },
  { rule: 'message.deleted-by', line: (g) => json({ ...g, deletedBy: ['someone-else'] }) },
  {
    rule: 'line.invalid-utf8',
    line: (g) => {
      const [head, tail] = json({ ...g, body: { text: '@@' } }).split('@@') as [string, string];
      return Buffer.concat([Buffer.from(head), Buffer.from([0xc3, 0x28]), Buffer.from(tail)]);
    },
  },
];
