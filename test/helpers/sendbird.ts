/**
 * Checks an extracted export against the emulator's workspace, record by record, from the workspace's own data (not
 * through the connector's mapping code): every user under its mapped id, deactivated flags, each distinct DM's
 * messages, each group with its members and roles, each group message with its sender, blocks.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MESSAGE_KIND, type Workspace } from '../../src/sendbird-emulator/workspace';
import { ZIM_ROLE } from '../../src/zim-client/roles';
import type { ZimEmulator } from '../../src/zim-emulator';

const ZIM_ID = /^[0-9A-Za-z!#$%&()+\-:;<=.>?@[\]^_{}|~ ]{1,32}$/;

function lines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

interface Msg {
  id: string;
  from: string;
  to?: string;
  group?: string;
}

export interface ExtractedCounts {
  users: number;
  peerMessages: number;
  groupMessages: number;
  groups: number;
  blocks: number;
  readStates: number;
}

export function assertMatchesWorkspace(out: string, ws: Workspace, o: { blocks: boolean }): ExtractedCounts {
  const map = new Map<string, string>();
  for (const e of lines<{ kind: string; source: string; zim: string }>(path.join(out, 'id-map.ndjson'))) {
    assert.ok(ZIM_ID.test(e.zim), `mapped id ${e.zim} fits ZIM`);
    map.set(`${e.kind}:${e.source}`, e.zim);
  }
  const zimUser = (id: string) => {
    const mapped = map.get(`user:${id}`);
    if (mapped) return mapped;
    assert.ok(ZIM_ID.test(id), `user id ${id} does not fit ZIM but is not in the id map`);
    return id;
  };
  const zimGroup = (url: string) => map.get(`group:${url}`) ?? url;

  const users = new Map(
    lines<{ id: string; deactivated?: boolean }>(path.join(out, 'users.ndjson')).map((u) => [u.id, u])
  );
  for (const u of ws.users) {
    const got = users.get(zimUser(u.user_id));
    assert.ok(got, `user ${u.user_id} is exported as ${zimUser(u.user_id)}`);
    assert.equal(got.deactivated ?? false, !u.is_active, `deactivated flag of ${u.user_id}`);
  }

  const files = readdirSync(out);
  const read = (prefix: string) =>
    files.filter((f) => f.startsWith(prefix)).flatMap((f) => lines<Msg>(path.join(out, f)));
  const peer = new Map(read('peer_messages').map((m) => [m.id, m]));
  const group = new Map(read('group_messages').map((m) => [m.id, m]));
  assert.equal(
    peer.size + group.size,
    read('peer_messages').length + read('group_messages').length,
    'no message twice'
  );

  const groups = new Map(lines<{ id: string; owner: string }>(path.join(out, 'groups.ndjson')).map((g) => [g.id, g]));
  const members = lines<{ group: string; user: string; role: string }>(path.join(out, 'group_members.ndjson'));
  let expectedPeer = 0;
  let expectedGroup = 0;
  let expectedGroups = 0;
  const expectedReads: string[] = [];
  for (const ch of ws.channels) {
    const isDm = ch.is_distinct && ch.members.length === 2;
    // Each member's read position: the last exported message at or before their read_receipt time.
    const kept = [...ch.ts.keys()].filter(
      (i) => ch.kind[i] !== MESSAGE_KIND.removed && !(isDm && ch.kind[i] === MESSAGE_KIND.admin)
    );
    ch.readTs.forEach((t, m) => {
      const last = kept.filter((i) => ch.ts[i]! <= t).at(-1);
      if (last === undefined) return;
      const reader = zimUser(ws.users[ch.members[m]!]!.user_id);
      const conv = isDm ? zimUser(ws.users[ch.members[1 - m]!]!.user_id) : zimGroup(ch.channel_url);
      expectedReads.push(`${reader}|${conv}|${String(ch.ids[last])}`);
    });
    if (!isDm) {
      expectedGroups++;
      const gid = zimGroup(ch.channel_url);
      assert.ok(ZIM_ID.test(gid) && !gid.startsWith('#'), `group id ${gid} fits ZIM`);
      const g = groups.get(gid);
      assert.ok(g, `channel ${ch.channel_url} is group ${gid}`);
      const ownerSource = ch.operators.length ? ch.operators[0]! : ch.members[0]!;
      assert.equal(g.owner, zimUser(ws.users[ownerSource]!.user_id), `owner of ${ch.channel_url}`);
      const got = new Map(members.filter((m) => m.group === gid).map((m) => [m.user, m.role]));
      assert.equal(got.size, ch.members.length, `members of ${ch.channel_url}`);
      const ops = new Set(ch.operators);
      for (const m of ch.members) {
        const role = m === ownerSource ? 'owner' : ops.has(m) ? 'admin' : 'member';
        assert.equal(
          got.get(zimUser(ws.users[m]!.user_id)),
          role,
          `role of ${ws.users[m]!.user_id} in ${ch.channel_url}`
        );
      }
    }
    for (let i = 0; i < ch.ts.length; i++) {
      const id = String(ch.ids[i]);
      const kind = ch.kind[i]!;
      if (kind === MESSAGE_KIND.removed) {
        assert.ok(!peer.has(id) && !group.has(id), `removed message ${id} is left out`);
        continue;
      }
      const sender = kind === MESSAGE_KIND.admin ? 'sendbird_admin' : zimUser(ws.users[ch.sender[i]!]!.user_id);
      if (isDm) {
        const m = peer.get(id);
        assert.ok(m, `DM message ${id} of ${ch.channel_url} is exported`);
        const [a, b] = ch.members.map((x) => zimUser(ws.users[x]!.user_id)) as [string, string];
        assert.equal(m.from, sender);
        assert.equal(m.to, sender === a ? b : a);
        expectedPeer++;
      } else {
        const m = group.get(id);
        assert.ok(m, `group message ${id} of ${ch.channel_url} is exported`);
        assert.equal(m.from, sender);
        assert.equal(m.group, zimGroup(ch.channel_url));
        expectedGroup++;
      }
    }
  }
  assert.equal(peer.size, expectedPeer, 'no other one-to-one message');
  assert.equal(group.size, expectedGroup, 'no other group message');
  assert.equal(groups.size, expectedGroups, 'no other group');
  const reads = files
    .filter((f) => f.startsWith('read_states'))
    .flatMap((f) => lines<{ user: string; peer?: string; group?: string; lastReadMessage: string }>(path.join(out, f)))
    .map((r) => `${r.user}|${r.peer ?? r.group}|${r.lastReadMessage}`);
  assert.ok(expectedReads.length > 0);
  assert.deepEqual(reads.sort(), expectedReads.sort(), 'read states: every member at their last message read');
  const blocks = lines<{ user: string; blocked: string }>(path.join(out, 'blocks.ndjson'));
  if (o.blocks) {
    const expected = [...ws.blocks].flatMap(([a, bs]) =>
      bs.map((b) => `${zimUser(ws.users[a]!.user_id)}>${zimUser(ws.users[b]!.user_id)}`)
    );
    assert.deepEqual(blocks.map((b) => `${b.user}>${b.blocked}`).sort(), expected.sort(), 'blocks');
  }
  return {
    users: users.size,
    peerMessages: peer.size,
    groupMessages: group.size,
    groups: groups.size,
    blocks: blocks.length,
    readStates: reads.length,
  };
}

/**
 * Checks what the ZIM emulator holds after a migration of an extracted export against the Sendbird workspace itself:
 * every user registered under its ZIM id (mapped or not), each distinct DM in both active members' copies (sender and
 * time, in order), each group with its members and roles (deactivated users hold no membership but as owner) and its
 * history, and the blocks between active users. Returns how many messages were checked.
 */
export function assertZimMatchesWorkspace(
  emulator: ZimEmulator,
  out: string,
  ws: Workspace
): { users: number; dmCopies: number; groupMessages: number; groups: number; mutedGroups: number } {
  const map = new Map<string, string>();
  for (const e of lines<{ kind: string; source: string; zim: string }>(path.join(out, 'id-map.ndjson')))
    map.set(`${e.kind}:${e.source}`, e.zim);
  const zimUser = (i: number) => map.get(`user:${ws.users[i]!.user_id}`) ?? ws.users[i]!.user_id;
  const zimGroup = (url: string) => map.get(`group:${url}`) ?? url;
  const active = (i: number) => ws.users[i]!.is_active;
  const ALL = { limit: Infinity };
  for (let i = 0; i < ws.users.length; i++)
    assert.ok(emulator.inspect.user(zimUser(i)), `user ${ws.users[i]!.user_id} is registered as ${zimUser(i)}`);
  let dmCopies = 0;
  let groupMessages = 0;
  let groups = 0;
  let mutedGroups = 0;
  for (const ch of ws.channels) {
    const expected: string[] = [];
    const isDm = ch.is_distinct && ch.members.length === 2;
    for (let i = 0; i < ch.ts.length; i++) {
      const kind = ch.kind[i]!;
      if (kind === MESSAGE_KIND.removed || (isDm && kind === MESSAGE_KIND.admin)) continue;
      const sender = kind === MESSAGE_KIND.admin ? 'sendbird_admin' : zimUser(ch.sender[i]!);
      expected.push(`${sender}@${ch.ts[i]}`);
    }
    if (isDm) {
      const [a, b] = ch.members as [number, number];
      for (const [owner, peer] of [
        [a, b],
        [b, a],
      ] as const) {
        const copy = emulator.inspect.conversation(zimUser(owner), zimUser(peer), ALL) ?? [];
        if (!active(owner)) {
          assert.equal(copy.length, 0, `a deactivated user (${zimUser(owner)}) owns no copy`);
          continue;
        }
        assert.deepEqual(
          copy.map((m) => `${m.sender}@${m.time}`),
          expected,
          `${zimUser(owner)}'s copy of ${ch.channel_url}`
        );
        dmCopies++;
      }
      continue;
    }
    groups++;
    const gid = zimGroup(ch.channel_url);
    const g = emulator.inspect.group(gid);
    assert.ok(g, `channel ${ch.channel_url} is ZIM group ${gid}`);
    const owner = ch.operators.length ? ch.operators[0]! : ch.members[0]!;
    const ops = new Set(ch.operators);
    const roles = new Map(g.members.map((m) => [m.userId, m.role]));
    const want = new Map(
      ch.members
        .filter((m) => m === owner || active(m))
        .map((m) => [zimUser(m), m === owner ? ZIM_ROLE.owner : ops.has(m) ? ZIM_ROLE.admin : ZIM_ROLE.member])
    );
    assert.deepEqual(roles, want, `members and roles of ${gid}`);
    // A frozen channel is muted after its history: its plain members (role 3), with no end.
    assert.deepEqual(g.mute, ch.freeze ? { all: false, roles: [ZIM_ROLE.member], expireTime: -1 } : undefined);
    if (ch.freeze) mutedGroups++;
    const history = emulator.inspect.groupMessages(gid, ALL) ?? [];
    assert.deepEqual(
      history.map((m) => `${m.sender}@${m.time}`),
      expected,
      `history of ${gid}`
    );
    groupMessages += history.length;
  }
  for (const [a, bs] of ws.blocks)
    for (const b of bs) {
      const blocked = emulator.inspect.user(zimUser(a))?.blocked.some((x) => x.userId === zimUser(b)) ?? false;
      assert.equal(blocked, active(a) && active(b), `block ${zimUser(a)} → ${zimUser(b)}`);
    }
  return { users: ws.users.length, dmCopies, groupMessages, groups, mutedGroups };
}

export interface ReadStateCheck {
  /** Readers' conversations compared (active readers of channels with history; supergroups have no receipts). */
  compared: number;
  /** Conversations whose ZIM unread count equals Sendbird's. */
  exact: number;
  /** Of those, conversations ZIM shows fully read because the read-state stage cleared them. */
  cleared: number;
  /** Read positions ZIM cannot represent (read.partial): ZIM keeps every imported message from others unread. */
  inexact: number;
}

/**
 * Each reader's unread count in ZIM (emulator introspection, with imports raising unread counts) against Sendbird's,
 * computed from the workspace: messages from others after the member's read_receipt time. A conversation Sendbird
 * shows fully read must be fully read in ZIM; any other keeps what the import left (every message from others), since
 * ZIM cannot set a position inside a conversation; nothing else is allowed.
 */
export function assertReadStatesMatchWorkspace(emulator: ZimEmulator, out: string, ws: Workspace): ReadStateCheck {
  const map = new Map<string, string>();
  for (const e of lines<{ kind: string; source: string; zim: string }>(path.join(out, 'id-map.ndjson')))
    map.set(`${e.kind}:${e.source}`, e.zim);
  const zimUser = (i: number) => map.get(`user:${ws.users[i]!.user_id}`) ?? ws.users[i]!.user_id;
  const check: ReadStateCheck = { compared: 0, exact: 0, cleared: 0, inexact: 0 };
  for (const ch of ws.channels) {
    if (ch.is_super) continue;
    const isDm = ch.is_distinct && ch.members.length === 2;
    const kept: { sender: number; ts: number }[] = [];
    for (let i = 0; i < ch.ts.length; i++) {
      const kind = ch.kind[i]!;
      if (kind === MESSAGE_KIND.removed || (isDm && kind === MESSAGE_KIND.admin)) continue;
      kept.push({ sender: kind === MESSAGE_KIND.admin ? -1 : ch.sender[i]!, ts: ch.ts[i]! });
    }
    if (!kept.length) continue;
    ch.members.forEach((reader, m) => {
      if (!ws.users[reader]!.is_active) return;
      const readTs = ch.readTs[m]!;
      const fromOthers = kept.filter((k) => k.sender !== reader);
      const sendbird = fromOthers.filter((k) => k.ts > readTs).length;
      const peer = isDm ? ch.members[1 - m]! : -1;
      const zim = isDm
        ? emulator.inspect.conversations(zimUser(reader))?.find((c) => c.peer === zimUser(peer))?.unread
        : emulator.inspect.groupUnread(map.get(`group:${ch.channel_url}`) ?? ch.channel_url, zimUser(reader));
      const where = `${zimUser(reader)} in ${ch.channel_url}`;
      check.compared++;
      if (sendbird === 0) {
        assert.equal(zim, 0, `${where}: read everything in Sendbird, so in ZIM`);
        check.exact++;
        if (fromOthers.length > 0) check.cleared++;
      } else {
        assert.equal(
          zim,
          fromOthers.length,
          `${where}: ZIM keeps what the import left (${sendbird} unread in Sendbird)`
        );
        if (sendbird === fromOthers.length) check.exact++;
        else check.inexact++;
      }
    });
  }
  return check;
}

/**
 * Two extractions of one workspace hold the same records: each entity file line for line once sorted, and the
 * per-channel files (numbered by listing order, which differs between routes) as the union of their lines.
 */
export function assertSameExport(a: string, b: string): { records: number } {
  const sorted = (dir: string, pick: (f: string) => boolean) =>
    readdirSync(dir)
      .filter(pick)
      .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
      .sort();
  let records = 0;
  for (const name of ['users.ndjson', 'groups.ndjson', 'group_members.ndjson', 'blocks.ndjson', 'id-map.ndjson']) {
    const x = sorted(a, (f) => f === name);
    assert.deepEqual(
      sorted(b, (f) => f === name),
      x,
      name
    );
    records += x.length;
  }
  for (const prefix of ['peer_messages', 'group_messages', 'read_states']) {
    const x = sorted(a, (f) => f.startsWith(prefix));
    assert.ok(x.length > 0, `${prefix} files hold records`);
    assert.deepEqual(
      sorted(b, (f) => f.startsWith(prefix)),
      x,
      `${prefix}.*`
    );
    records += x.length;
  }
  return { records };
}
