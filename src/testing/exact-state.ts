/**
 * Compares what a migration should have produced (the staging file) with what the ZIM emulator holds: every
 * owner's copy of every conversation and every group's history in order with nothing lost or repeated, every
 * friendship and block, every group's members with their roles and nicknames. Used by the end-to-end and chaos tests and the chaos benchmark.
 */
import type { MigrationStore, StagedMessage } from '../staging/migration-store';
import { ZIM_ROLE } from '../zim-client/roles';
import type { ZimEmulator } from '../zim-emulator';

export interface ExactnessReport {
  messages: number;
  lost: number;
  duplicated: number;
  /** Conversations whose messages are all there but in another order. */
  reordered: number;
  users: { expected: number; found: number };
  missingRelations: number;
  memberMismatches: number;
  /** The first few differences, for a failing test's message. */
  examples: string[];
}

/** Whole histories: the inspector returns 10,000 messages unless told otherwise. */
const ALL = { limit: Infinity };
const keyOf = (sender: string, time: number, type: number, body: string) => JSON.stringify([sender, time, type, body]);

function compareSequence(
  where: string,
  expected: readonly StagedMessage[],
  actual: { sender: string; time: number; msgType: number; body: string }[],
  report: ExactnessReport
): void {
  report.messages += expected.length;
  const want = expected.map((m) => keyOf(m.from, m.sentTime, m.type, m.body.Message));
  const got = actual.map((m) => keyOf(m.sender, m.time, m.msgType, m.body));
  const counts = new Map<string, number>();
  for (const k of got) counts.set(k, (counts.get(k) ?? 0) + 1);
  let lost = 0;
  for (const k of want) {
    const n = counts.get(k) ?? 0;
    if (n === 0) lost++;
    else counts.set(k, n - 1);
  }
  const extra = [...counts.values()].reduce((a, b) => a + b, 0);
  report.lost += lost;
  report.duplicated += extra;
  if (lost === 0 && extra === 0 && want.join('\n') !== got.join('\n')) report.reordered++;
  if ((lost || extra || want.join('\n') !== got.join('\n')) && report.examples.length < 5)
    report.examples.push(`${where}: expected ${want.length}, found ${got.length} (lost ${lost}, extra ${extra})`);
}

export async function compareWithEmulator(store: MigrationStore, emulator: ZimEmulator): Promise<ExactnessReport> {
  const report: ExactnessReport = {
    messages: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    users: { expected: 0, found: emulator.inspect.summary().users },
    missingRelations: 0,
    memberMismatches: 0,
    examples: [],
  };
  report.users.expected = (await store.stageWork()).accounts.planned;

  for (let after: string | null = null; ;) {
    const owners = await store.fanoutItems('peer-messages', after, 500);
    for (const { id: owner } of owners) {
      for (const [peer, messages] of await store.ownerConversations(owner)) {
        const landed = emulator.inspect.conversation(owner, peer, ALL) ?? [];
        compareSequence(`${owner}→${peer}`, messages, landed, report);
      }
    }
    if (owners.length < 500) break;
    after = owners[owners.length - 1]!.id;
  }

  const relationMissing = (stage: 'friends' | 'blocks', user: string, target: string) => {
    const listed = emulator.inspect.user(user);
    if ((stage === 'friends' ? listed?.friends : listed?.blocked)?.some((r) => r.userId === target)) return;
    report.missingRelations++;
    if (report.examples.length < 5) report.examples.push(`${stage}: ${user}→${target} missing`);
  };
  for (let page = await store.readFriends(null, 500); page.length; page = await store.readFriends(page.at(-1)!, 500))
    for (const f of page) relationMissing('friends', f.user, f.friend);
  for (let page = await store.readBlocks(null, 500); page.length; page = await store.readBlocks(page.at(-1)!, 500))
    for (const b of page) relationMissing('blocks', b.user, b.blocked);

  for (let after: string | null = null; ;) {
    const groups = await store.fanoutItems('groups', after, 500);
    for (const { id } of groups) {
      const staged = (await store.group(id))!;
      const expected = new Set((await store.readGroupMembers(id, null, staged.memberCount)).map((m) => m.user));
      const members = emulator.inspect.group(id)?.members ?? [];
      const found = new Set(members.map((m) => m.userId));
      const setDiffers = expected.size !== found.size || [...expected].some((u) => !found.has(u));
      if (setDiffers && report.examples.length < 5)
        report.examples.push(`group ${id}: members ${found.size}/${expected.size}`);
      const admins = new Set((await store.groupAdmins(id, 0, staged.adminCount)).map((m) => m.user));
      const nicknames = new Map(
        (await store.groupNicknames(id, 0, staged.nicknameCount)).map((m) => [m.user, m.nickname] as const)
      );
      const wrong = members.filter(
        (m) =>
          m.role !==
            (m.userId === staged.owner ? ZIM_ROLE.owner : admins.has(m.userId) ? ZIM_ROLE.admin : ZIM_ROLE.member) ||
          m.nickname !== (nicknames.get(m.userId) ?? '')
      );
      if (wrong.length && report.examples.length < 5)
        report.examples.push(`group ${id}: role or nickname of ${wrong.map((m) => m.userId).join(',')}`);
      if (setDiffers || wrong.length) report.memberMismatches++; // groups, not differences
      compareSequence(
        `group ${id}`,
        await store.groupMessages(id),
        emulator.inspect.groupMessages(id, ALL) ?? [],
        report
      );
    }
    if (groups.length < 500) break;
    after = groups[groups.length - 1]!.id;
  }
  return report;
}

export function isExact(r: ExactnessReport): boolean {
  return (
    r.lost === 0 &&
    r.duplicated === 0 &&
    r.reordered === 0 &&
    r.users.found === r.users.expected &&
    r.missingRelations === 0 &&
    r.memberMismatches === 0
  );
}

/**
 * What a catch-up round must leave besides the migration's own checks (compareWithEmulator): the final state, not
 * only what was added. Profiles hold the staged fields; no friend or block is listed that staging no longer holds (a
 * friend removed is absent; ZIM's mutual AddFriends may list who befriended the user); every group ZIM holds is
 * staged (a dismissed one is gone) with the staged name, notice, avatar and attributes. Returns the differences found
 * (the first few of each kind), empty when exact.
 */
export async function compareFinalState(store: MigrationStore, emulator: ZimEmulator): Promise<string[]> {
  const found: string[] = [];
  const note = (kind: string, what: string) => {
    if (found.filter((f) => f.startsWith(kind)).length < 3) found.push(`${kind}: ${what}`);
  };
  let users = 0;
  for (let page = await store.readUsers(null, 500); page.length; page = await store.readUsers(page.at(-1)!.id, 500)) {
    users += page.length;
    const relations = await store.userRelations(page.map((u) => u.id));
    for (const u of page) {
      const z = emulator.inspect.user(u.id);
      if (!z) {
        note('profile', `${u.id} not registered`);
        continue;
      }
      const fields: [string, string, string | null][] = [
        ['UserName', z.userName, u.nickname],
        ['UserAvatar', z.userAvatar, u.avatarUrl],
        ['Extra', z.extra, u.extendedData],
      ];
      for (const [field, actual, staged] of fields)
        if (actual !== (staged ?? '')) note('profile', `${u.id} ${field} is ${JSON.stringify(actual)}`);
      const rel = relations.get(u.id)!;
      const mayList = new Set([...rel.friends, ...rel.friendOf]);
      for (const f of z.friends) if (!mayList.has(f.userId)) note('friends', `${u.id} still lists ${f.userId}`);
      const blocked = new Set(rel.blocked);
      for (const b of z.blocked) if (!blocked.has(b.userId)) note('blocks', `${u.id} still blocks ${b.userId}`);
    }
  }
  const registered = emulator.inspect.summary().users;
  if (registered !== users) note('users', `${registered} registered in ZIM, ${users} staged`);
  const staged = new Set<string>();
  for (let page = await store.readGroups(null, 500); page.length; page = await store.readGroups(page.at(-1)!.id, 500))
    for (const g of page) {
      staged.add(g.id);
      const z = emulator.inspect.group(g.id);
      if (!z) {
        note('groups', `${g.id} missing`);
        continue;
      }
      const data: [string, string, string | null][] = [
        ['GroupName', z.groupName, g.name],
        ['GroupNotice', z.groupNotice, g.notice],
        ['GroupAvatar', z.groupAvatar, g.avatarUrl],
      ];
      for (const [field, actual, want] of data)
        if ((actual ?? '') !== (want ?? '')) note('group data', `${g.id} ${field} is ${JSON.stringify(actual)}`);
      const actual = Object.fromEntries(z.attributes.map((a) => [a.Key, a.Value]));
      if (JSON.stringify(sorted(actual)) !== JSON.stringify(sorted(g.attributes ?? {})))
        note('group attributes', `${g.id} holds ${JSON.stringify(actual)}`);
    }
  for (const id of emulator.inspect.groupIds({ limit: Infinity }))
    if (!staged.has(id)) note('groups', `${id} is in ZIM but no longer staged (not dismissed)`);
  return found;
}

const sorted = (o: Record<string, string>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
