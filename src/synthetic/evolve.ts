/**
 * `gen --evolve`: a later export of the same app, for rehearsing catch-up rounds (issue #13). Reads an earlier
 * full export and writes what the legacy app holds some time later, with seeded changes of every kind a round must
 * carry: new accounts, changed profiles, accounts deactivated; friendships and blocks added and removed; groups
 * created and dismissed, their name, notice and attributes changed; members joined and left, roles and nicknames
 * changed, owners transferred; new one-to-one and group messages after each conversation's newest. Optionally
 * messages older than their conversation's newest (`late`), which a round must report as conflicts.
 *
 * Full output: every entity file, as a full export of the app at `until` (a dismissed group's members and history
 * are gone with it), with `export.json` {kind: full, until}. Incremental output: only the records created or changed
 * after the earlier export's watermark, tombstones in `deletions.ndjson` and `export.json` {kind: incremental,
 * since, until}. The earlier export plus the incremental one equals the full one (a test checks it).
 *
 * Memory: relations, groups and members are held (they are small next to history); messages are streamed, keeping
 * only each conversation's newest time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { noChanges, type ChangeKind } from '../catch-up/change-kinds';
import { scanExportDir } from '../import-format/export-dir';
import { readManifest, renderManifest } from '../import-format/manifest';
import { readNdjsonFile } from '../import-format/ndjson-reader';
import type { Entity } from '../import-format/schemas';
import { DAY_MS } from '../import-format/time';
import { emptyEvolveRecord, type EvolveRecord } from './evolve-record';
import { content } from './generate';
import { NdjsonFileWriter } from './ndjson-writer';
import { Rng } from './random';
import { personName, phrase } from './text';

export interface EvolveOptions {
  /** A full export (gen's, or an earlier evolve's full output). */
  from: string;
  out: string;
  seed: number;
  /** Write only the changes since the earlier export, with tombstones and the watermark. */
  incremental: boolean;
  /** The later export's watermark (ms); default the earlier one plus a day, or now if sooner. */
  untilMs?: number;
  /** Share of records changed per kind (default 0.05; at least one of each kind where the data allows). */
  change?: number;
  /** Messages older than their conversation's newest, to be reported as conflicts by the round (default 0). */
  late?: number;
  /** Return what changed record by record (`EvolveSummary.record`), for deriving the calls a round needs. */
  keepRecord?: boolean;
}

/** What changed, by kind: the test of a round compares ZIM with these. */
export interface EvolveSummary {
  dir: string;
  kind: 'full' | 'incremental';
  sinceMs: number;
  untilMs: number;
  changes: Record<ChangeKind, number>;
  /** With `keepRecord`. */
  record?: EvolveRecord;
}

type Rec = Record<string, unknown>;
const key2 = (a: unknown, b: unknown) => `${String(a)}\u0000${String(b)}`;
/** A one-to-one conversation, whichever side sent. */
const pairKey = (a: string, b: string) => (a < b ? key2(a, b) : key2(b, a));
const str = (v: unknown) => String(v);

export class EvolveError extends Error {
  override name = 'EvolveError';
}

/** Reads every record of one entity (all its parts); a bad line is an error: evolve takes a valid export. */
async function readEntity(dir: string, entity: Entity, each: (r: Rec) => void): Promise<void> {
  for (const f of scanExportDir(dir).files.filter((x) => x.entity === entity))
    await readNdjsonFile(f.path, {
      record: (_line, value) => each(value),
      reject: (line, rule, message) => {
        throw new EvolveError(`${f.path}${line ? `:${line}` : ''}: ${rule} ${message}; evolve takes a valid export`);
      },
    });
}

const timeMs = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : undefined;

export async function evolveExport(opts: EvolveOptions): Promise<EvolveSummary> {
  const manifest = readManifest(opts.from);
  if (manifest?.kind === 'incremental')
    throw new EvolveError(
      `${opts.from} is an incremental export; evolve a full one (an earlier --evolve without --incremental)`
    );
  const rng = new Rng(opts.seed);
  const share = opts.change ?? 0.05;
  const changes = noChanges();
  const record = emptyEvolveRecord();
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

  // The earlier app, as held records (messages: only each conversation's newest time).
  let newestSeen = 0;
  const seen = (v: unknown) => void (newestSeen = Math.max(newestSeen, timeMs(v) ?? 0));
  const users = new Map<string, Rec>();
  await readEntity(opts.from, 'users', (r) => (users.set(str(r.id), r), seen(r.createdAt)));
  const friends = new Map<string, Rec>();
  await readEntity(opts.from, 'friends', (r) => (friends.set(key2(r.user, r.friend), r), seen(r.since)));
  const blocks = new Map<string, Rec>();
  await readEntity(opts.from, 'blocks', (r) => (blocks.set(key2(r.user, r.blocked), r), seen(r.since)));
  const groups = new Map<string, Rec>();
  await readEntity(opts.from, 'groups', (r) => (groups.set(str(r.id), r), seen(r.createdAt)));
  const members = new Map<string, Rec>();
  await readEntity(opts.from, 'group_members', (r) => (members.set(key2(r.group, r.user), r), seen(r.joinedAt)));
  const peerNewest = new Map<string, number>();
  await readEntity(opts.from, 'peer_messages', (r) => {
    const t = timeMs(r.sentAt) ?? 0;
    seen(t);
    const k = pairKey(str(r.from), str(r.to));
    peerNewest.set(k, Math.max(peerNewest.get(k) ?? 0, t));
  });
  const groupNewest = new Map<string, number>();
  await readEntity(opts.from, 'group_messages', (r) => {
    const t = timeMs(r.sentAt) ?? 0;
    seen(t);
    groupNewest.set(str(r.group), Math.max(groupNewest.get(str(r.group)) ?? 0, t));
  });
  if (users.size < 2) throw new EvolveError(`${opts.from} holds fewer than 2 users: nothing to evolve`);

  const sinceMs = manifest?.untilMs ?? newestSeen + 1;
  const untilMs = opts.untilMs ?? Math.min(Date.now(), sinceMs + DAY_MS);
  if (untilMs <= sinceMs)
    throw new EvolveError(
      `the later export's watermark (${new Date(untilMs).toISOString()}) must be after the earlier one's ` +
        `(${new Date(sinceMs).toISOString()}); pass --until`
    );
  const tag = Math.floor(untilMs / 1000).toString(36);
  const when = () => sinceMs + 1 + rng.int(0, untilMs - sinceMs - 1);
  const howMany = (n: number, s = share) => (n === 0 ? 0 : Math.max(1, Math.round(n * s)));
  /** Records created or changed after `since` (the incremental output), by entity and key. */
  const touched = new Map<Entity, Set<string>>();
  const touch = (e: Entity, k: string) => (touched.get(e) ?? touched.set(e, new Set()).get(e)!).add(k);
  const tombstones: Rec[] = [];

  const active = () => [...users.values()].filter((u) => u.deactivated !== true).map((u) => str(u.id));
  const pickSome = <T>(items: T[], n: number): T[] => {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < n && pool.length) out.push(pool.splice(rng.int(0, pool.length - 1), 1)[0]!);
    return out;
  };

  // Accounts: new ones, changed profiles, some closed.
  for (let k = 0; k < howMany(users.size); k++) {
    const id = `n${tag}.${k}`;
    users.set(id, { id, nickname: personName(rng, 'en'), createdAt: when() });
    touch('users', id);
    changes['users.added']++;
    record.usersAdded.push(id);
  }
  const earlierActive = active().filter((id) => !touched.get('users')?.has(id));
  for (const id of pickSome(earlierActive, howMany(earlierActive.length))) {
    const before = users.get(id)!;
    const u: Rec = { ...before, nickname: personName(rng, 'en') };
    if (rng.chance(0.3)) u.avatarUrl = `https://cdn.example.com/avatars/${id}-${tag}.jpg`;
    users.set(id, u);
    if (u.nickname !== before.nickname || u.avatarUrl !== before.avatarUrl) record.profilesChanged.push(id);
    touch('users', id);
    changes['users.profile']++;
  }
  const closable = active().filter((id) => !touched.get('users')?.has(id));
  for (const id of pickSome(closable, howMany(closable.length, share / 5))) {
    users.set(id, { ...users.get(id)!, deactivated: true });
    touch('users', id);
    changes['users.deactivated']++;
    record.usersClosed.push(id);
  }
  const live = active();
  const liveSet = new Set(live);
  // A closed account owns no relations or memberships (an owner's aside): those it held end with it.
  const closedNow = new Set(record.usersClosed);
  const openBefore = (u: unknown) => liveSet.has(str(u)) || closedNow.has(str(u));
  for (const [map, removed, other] of [
    [friends, record.friendsRemoved, 'friend'],
    [blocks, record.blocksRemoved, 'blocked'],
  ] as const)
    for (const r of map.values())
      if ((closedNow.has(str(r.user)) || closedNow.has(str(r[other]))) && openBefore(r.user) && openBefore(r[other]))
        removed.push([str(r.user), str(r[other])]);
  for (const m of members.values())
    if (closedNow.has(str(m.user)) && groups.get(str(m.group))?.owner !== m.user)
      record.membersLeft.push({ group: str(m.group), user: str(m.user), why: 'closed' });

  // Friendships and blocks: some removed, some added between accounts that are open now.
  const relations = (
    map: Map<string, Rec>,
    entity: 'friends' | 'blocks',
    other: 'friend' | 'blocked',
    make: (a: string, b: string) => Rec
  ) => {
    // Between open accounts only: a closed account's relations were never staged, so removing one changes nothing.
    const removable = [...map.keys()].filter((k) => {
      const r = map.get(k)!;
      return liveSet.has(str(r.user)) && liveSet.has(str(r[other]));
    });
    for (const k of pickSome(removable, howMany(map.size))) {
      const r = map.get(k)!;
      map.delete(k);
      tombstones.push({ entity, user: r.user, [other]: r[other], at: when() });
      changes[`${entity}.removed`]++;
      record[entity === 'friends' ? 'friendsRemoved' : 'blocksRemoved'].push([str(r.user), str(r[other])]);
    }
    // Tries bounded by the share wanted, not a constant: at scale the share is met (1% of a million friendships).
    const wanted = howMany(map.size + 1);
    for (let n = 0, tries = 0; n < wanted && tries < 1000 + 20 * wanted; tries++) {
      const a = rng.pick(live);
      const b = rng.pick(live);
      const k = key2(a, b);
      if (a === b || map.has(k) || tombstones.some((t) => t.entity === entity && key2(t.user, t[other]) === k))
        continue;
      map.set(k, make(a, b));
      touch(entity, k);
      changes[`${entity}.added`]++;
      record[entity === 'friends' ? 'friendsAdded' : 'blocksAdded'].push([a, b]);
      n++;
    }
  };
  relations(friends, 'friends', 'friend', (a, b) => ({ user: a, friend: b, since: when() }));
  relations(blocks, 'blocks', 'blocked', (a, b) => ({ user: a, blocked: b, since: when() }));

  // Groups: some dismissed (members and history go with them), some changed, some created.
  const membersOf = (g: string) => [...members.values()].filter((m) => m.group === g);
  const dismissed = new Set<string>();
  for (const g of pickSome([...groups.keys()], groups.size >= 2 ? howMany(groups.size, share / 2) : 0)) {
    groups.delete(g);
    for (const m of membersOf(g)) members.delete(key2(g, m.user));
    dismissed.add(g);
    tombstones.push({ entity: 'groups', id: g, at: when() });
    changes['groups.dismissed']++;
    record.groupsDismissed.push(g);
  }
  for (const g of pickSome([...groups.keys()], howMany(groups.size))) {
    const before = groups.get(g)!;
    const r: Rec = { ...before, name: [...phrase(rng, 'en', 3)].slice(0, 40).join('') };
    if (rng.chance(0.5)) r.notice = phrase(rng, 'en', 8);
    if (rng.chance(0.3)) r.attributes = { topic: rng.pick(['news', 'games', 'travel']) };
    groups.set(g, r);
    if (!same([r.name, r.avatarUrl, r.notice], [before.name, before.avatarUrl, before.notice]))
      record.groupsDataChanged.push(g);
    if (!same(r.attributes, before.attributes)) record.groupsAttributesChanged.push(g);
    touch('groups', g);
    changes['groups.changed']++;
  }
  for (let k = 0; k < howMany(groups.size + 1, share / 2); k++) {
    const id = `g${tag}.${k}`;
    const chosen = pickSome(live, Math.min(live.length, rng.int(3, 12)));
    groups.set(id, { id, name: `New group ${k}`, owner: chosen[0], createdAt: when() });
    touch('groups', id);
    const created = { id, members: chosen.length, admins: 0, nicknames: 0 };
    for (const [i, u] of chosen.entries()) {
      // Some admins and nicknames: a round sets them once the members are in.
      const role = i === 0 ? 'owner' : i <= 2 && rng.chance(0.5) ? 'admin' : 'member';
      const m: Rec = { group: id, user: u, role, joinedAt: when() };
      if (rng.chance(0.2)) m.nickname = personName(rng, 'en');
      members.set(key2(id, u), m);
      touch('group_members', key2(id, u));
      if (role === 'admin') created.admins++;
      if (m.nickname !== undefined) created.nicknames++;
    }
    changes['groups.created']++;
    record.groupsCreated.push(created);
  }
  const earlierGroups = [...groups.keys()].filter((g) => !g.startsWith(`g${tag}.`));

  // Members of the earlier groups: owners transferred, joins, leaves, roles, nicknames.
  const setMember = (m: Rec) => {
    members.set(key2(m.group, m.user), m);
    touch('group_members', key2(m.group, m.user));
  };
  for (const g of pickSome(earlierGroups, howMany(earlierGroups.length, share / 2))) {
    const group = groups.get(g)!;
    const heir = membersOf(g).find((m) => m.user !== group.owner && users.get(str(m.user))?.deactivated !== true);
    if (!heir) continue;
    const old = members.get(key2(g, group.owner));
    if (old) setMember({ ...old, role: 'member' });
    setMember({ ...heir, role: 'owner' });
    groups.set(g, { ...group, owner: heir.user });
    touch('groups', g);
    changes['groups.owner']++;
    record.ownersTransferred.push(g);
    // No longer the owner, a closed account (or one without a membership record) is no longer a member.
    if (!old || users.get(str(group.owner))?.deactivated === true)
      record.membersLeft.push({ group: g, user: str(group.owner), why: 'owner-handed-over' });
  }
  const isOwner = (m: Rec) => groups.get(str(m.group))?.owner === m.user;
  // Closed accounts' memberships were never staged (the owner's aside): changes go to open members.
  const plain = () => [...members.values()].filter((m) => !isOwner(m) && liveSet.has(str(m.user)));
  // Leaves, roles and nicknames change members the earlier export held, untouched so far: a tombstone names a
  // record the migration staged, and a joiner's role and nickname are part of joining.
  const untouched = () => plain().filter((m) => !touched.get('group_members')?.has(key2(m.group, m.user)));
  const earlierMembers = untouched();
  const leftNow = new Set<string>();
  for (const m of pickSome(earlierMembers, howMany(earlierMembers.length))) {
    members.delete(key2(m.group, m.user));
    leftNow.add(key2(m.group, m.user));
    tombstones.push({ entity: 'group_members', group: m.group, user: m.user, at: when() });
    changes['members.left']++;
    record.membersLeft.push({ group: str(m.group), user: str(m.user), why: 'tombstone' });
  }
  const joins = howMany(members.size);
  for (let n = 0, tries = 0; n < joins && tries < 1000 + 20 * joins && earlierGroups.length; tries++) {
    const g = rng.pick(earlierGroups);
    const u = rng.pick(live);
    // One who left in this export does not come back in it (the two would cancel out).
    if (!groups.has(g) || members.has(key2(g, u)) || leftNow.has(key2(g, u))) continue;
    const m: Rec = { group: g, user: u, role: rng.chance(0.2) ? 'admin' : 'member', joinedAt: when() };
    if (rng.chance(0.2)) m.nickname = personName(rng, 'en');
    setMember(m);
    changes['members.joined']++;
    record.membersJoined.push({ group: g, user: u, admin: m.role === 'admin', nickname: m.nickname !== undefined });
    n++;
  }
  for (const m of pickSome(untouched(), howMany(members.size))) {
    const role = m.role === 'admin' ? 'member' : 'admin';
    setMember({ ...m, role });
    changes['members.role']++;
    record.rolesChanged.push({ group: str(m.group), user: str(m.user) });
  }
  for (const m of pickSome(untouched(), howMany(members.size))) {
    const nickname = personName(rng, 'en');
    setMember({ ...m, nickname });
    changes['members.nickname']++;
    if (nickname !== m.nickname) record.nicknamesChanged.push({ group: str(m.group), user: str(m.user) });
  }

  // New history after each conversation's newest, in some of the earlier conversations and some new ones.
  const newPeer: Rec[] = [];
  const pairs = [...peerNewest.keys()].map((k) => k.split('\u0000') as [string, string]);
  const open = (u: string) => users.get(u)?.deactivated !== true;
  const talking = pairs.filter(([a, b]) => open(a) && open(b));
  const talk = pickSome(talking, howMany(pairs.length));
  for (let k = 0; k < howMany(pairs.length + 1); k++) talk.push(pickSome(live, 2) as [string, string]);
  for (const [a, b] of talk) {
    if (a === undefined || b === undefined || a === b) continue;
    const after = Math.max(sinceMs, peerNewest.get(pairKey(a, b)) ?? 0);
    for (let t = after + 1 + rng.int(0, 1000), n = rng.int(1, 6); n > 0 && t <= untilMs; n--, t += rng.int(1, 60_000)) {
      const [from, to] = rng.chance(0.5) ? [a, b] : [b, a];
      const id = `${tag}.pm${newPeer.length}`;
      newPeer.push({ id, from, to, sentAt: t, ...content(rng, 'en', id) });
    }
  }
  const newGroup: Rec[] = [];
  for (const g of pickSome([...groups.keys()], howMany(groups.size))) {
    const senders = membersOf(g)
      .map((m) => str(m.user))
      .filter(open);
    if (!senders.length) continue;
    const after = Math.max(sinceMs, groupNewest.get(g) ?? 0);
    for (let t = after + 1 + rng.int(0, 1000), n = rng.int(1, 8); n > 0 && t <= untilMs; n--, t += rng.int(1, 60_000)) {
      const id = `${tag}.gm${newGroup.length}`;
      newGroup.push({ id, group: g, from: rng.pick(senders), sentAt: t, ...content(rng, 'en', id) });
    }
  }
  for (let k = 0; k < (opts.late ?? 0) && talking.length; k++) {
    const [a, b] = rng.pick(talking);
    const newest = peerNewest.get(key2(a, b))!;
    newPeer.push({ id: `${tag}.late${k}`, from: a, to: b, sentAt: newest - 1, type: 'text', body: { text: 'late' } });
    changes['messages.late']++;
  }
  changes['peer_messages.added'] = newPeer.length - changes['messages.late'];
  changes['group_messages.added'] = newGroup.length;
  for (const m of newPeer.slice(0, changes['peer_messages.added']))
    record.peerMessagesAdded.push({ from: str(m.from), to: str(m.to), deletedBy: (m.deletedBy as string[]) ?? [] });
  for (const m of newGroup) record.groupMessagesAdded.push({ group: str(m.group) });
  record.lateMessages = changes['messages.late'];

  // Write.
  mkdirSync(opts.out, { recursive: true });
  const held = { users, friends, blocks, groups, group_members: members } as const;
  for (const entity of Object.keys(held) as (keyof typeof held)[]) {
    const w = new NdjsonFileWriter(path.join(opts.out, `${entity}.ndjson`), false);
    for (const [k, r] of held[entity]) if (!opts.incremental || touched.get(entity)?.has(k)) w.write(r);
    await w.close();
  }
  for (const [entity, added] of [
    ['peer_messages', newPeer],
    ['group_messages', newGroup],
  ] as const) {
    const w = new NdjsonFileWriter(path.join(opts.out, `${entity}.ndjson`), false);
    if (!opts.incremental)
      await readEntity(opts.from, entity, (r) => {
        if (entity === 'peer_messages' || !dismissed.has(str(r.group))) w.write(r);
      });
    for (const r of added) w.write(r);
    await w.close();
  }
  if (opts.incremental) {
    const w = new NdjsonFileWriter(path.join(opts.out, 'deletions.ndjson'), false);
    for (const t of tombstones) w.write(t);
    await w.close();
  }
  writeFileSync(
    path.join(opts.out, 'export.json'),
    renderManifest(opts.incremental ? { kind: 'incremental', sinceMs, untilMs } : { kind: 'full', untilMs })
  );
  return {
    dir: opts.out,
    kind: opts.incremental ? 'incremental' : 'full',
    sinceMs,
    untilMs,
    changes,
    ...(opts.keepRecord && { record }),
  };
}
