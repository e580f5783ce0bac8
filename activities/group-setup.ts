/**
 * Creating one group in ZIM, as a sequence of steps the group's child workflow runs one at a time:
 *   step 0        CreateGroup with the owner and the first 100 other members (their join time = creation time);
 *   steps 1..k    InviteUsersIntoGroup, 100 members a call, each with its original join time (1 call/s per group);
 *   step k+1      member check: read the member list back, invite anyone missing, remove anyone who should not be
 *                 there (a group that already existed, or a retry that landed twice);
 *   then          one step per admin (SetGroupMemberRole, one member a call), then one step per 20 nicknames
 *                 (SetGroupMembersNickname, 1 call/s per group).
 * Every step is safe to repeat: ZIM answers "group exists" / "already a member", which count as done; a role or
 * nickname whose ledger entry was left pending (the call may have landed) is first compared with ZIM's member list.
 * The units of progress are a membership (the owner's included), an admin role and a nickname, each recorded in the
 * ledger per member.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ZIM_BATCH_LIMITS } from '../src/zim-client/limits';
import { ZIM_ROLE } from '../src/zim-client/roles';
import type { StepResult } from './contract';
import type { LedgerStatus } from '../src/staging/migration-store';
import { ledgerKeys } from '../src/staging/ledger-keys';
import type { BatchAnswer, BatchItemFailure } from './batch-import';

const CREATE_GROUP_MEMBERS = ZIM_BATCH_LIMITS.CreateGroup.max;
const INVITE_BATCH = ZIM_BATCH_LIMITS.InviteUsersIntoGroup.max;
const KICK_BATCH = ZIM_BATCH_LIMITS.KickoutGroupUser.max;
const NICKNAME_BATCH = ZIM_BATCH_LIMITS.SetGroupMembersNickname.max;

export interface GroupToSetUp {
  groupId: string;
  owner: string;
  /** Members other than the owner. */
  memberCount: number;
  /** Members staged as admins (never the owner). */
  admins: number;
  /** Members, the owner included, staged with a nickname. */
  nicknames: number;
}

/** A member as QueryGroupMemberList lists them. */
export interface ListedMember {
  userId: string;
  role: number;
  nickname: string;
}

export interface StagedNickname {
  userId: string;
  nickname: string;
}

export interface StagedMemberRef {
  userId: string;
  sourceId: string;
  /** When the member joined (ms): ZIM's EnterGroupTime on invite. */
  joinedTime?: number;
}

export interface GroupSetupPorts {
  group(): Promise<GroupToSetUp>;
  /** Members other than the owner, in a stable order. */
  members(offset: number, limit: number): Promise<StagedMemberRef[]>;
  ledgerGet(keys: string[]): Promise<Map<string, LedgerStatus>>;
  ledgerPut(
    rows: { key: string; status: LedgerStatus; sourceId: string; zimCode?: number; zimMessage?: string }[]
  ): Promise<void>;
  /** CreateGroup; a group that already exists is answered as `{ kind: 'answered', failures: [] }` by the adapter. */
  create(members: StagedMemberRef[]): Promise<BatchAnswer>;
  invite(members: StagedMemberRef[]): Promise<BatchAnswer>;
  /** Every member ZIM lists for the group (all pages). Each page is one call; returns how many were made. */
  listMembers(): Promise<{ members: ListedMember[]; calls: number }>;
  kick(userIds: string[]): Promise<BatchAnswer>;
  /** Staged admins' user ids, in a stable order. */
  admins(offset: number, limit: number): Promise<string[]>;
  /** Staged nicknames (the owner's too), in a stable order. */
  nicknames(offset: number, limit: number): Promise<StagedNickname[]>;
  /** SetGroupMemberRole(admin): `answered` with no failures when it landed. */
  makeAdmin(userId: string): Promise<BatchAnswer>;
  setNicknames(batch: StagedNickname[]): Promise<BatchAnswer>;
}

const { member: memberKey, role: roleKey, nickname: nicknameKey } = ledgerKeys;

function settle(
  groupId: string,
  members: StagedMemberRef[],
  answer: BatchAnswer,
  result: StepResult
): Parameters<GroupSetupPorts['ledgerPut']>[0] {
  const failures = new Map<string, BatchItemFailure>(
    answer.kind === 'answered' ? answer.failures.map((f) => [f.id, f]) : []
  );
  return members.map((m) => {
    const failure: BatchItemFailure | undefined =
      answer.kind === 'refused'
        ? { id: m.userId, code: answer.code, message: answer.message, outcome: 'permanent' }
        : failures.get(m.userId);
    if (!failure || failure.outcome === 'already-exists') {
      result.done++;
      return { key: memberKey(groupId, m.userId), status: 'done' as const, sourceId: m.sourceId };
    }
    // Transient per-member trouble is left to the member check step, which invites whoever is missing.
    if (failure.outcome === 'retryable')
      return { key: memberKey(groupId, m.userId), status: 'pending' as const, sourceId: m.sourceId };
    result.failed++;
    return {
      key: memberKey(groupId, m.userId),
      status: 'failed' as const,
      sourceId: m.sourceId,
      zimCode: failure.code,
      zimMessage: failure.message,
    };
  });
}

/** Steps of creating and filling the group (create, invites, member check); role and nickname steps follow. */
function membershipSteps(memberCount: number): number {
  const invited = Math.max(0, memberCount - CREATE_GROUP_MEMBERS);
  return 1 + Math.ceil(invited / INVITE_BATCH) + 1;
}

export function groupSetupSteps(group: Pick<GroupToSetUp, 'memberCount' | 'admins' | 'nicknames'>): number {
  return membershipSteps(group.memberCount) + group.admins + Math.ceil(group.nicknames / NICKNAME_BATCH);
}

export async function runGroupSetupStep(ports: GroupSetupPorts, step: number): Promise<StepResult> {
  const group = await ports.group();
  const steps = groupSetupSteps(group);
  const checkStep = membershipSteps(group.memberCount) - 1;
  const result: StepResult = { done: 0, failed: 0, skipped: 0, calls: 0, hasMore: step + 1 < steps };
  if (step >= steps) return { ...result, hasMore: false };

  if (step === 0) {
    const first = await ports.members(0, CREATE_GROUP_MEMBERS);
    const answer = await ports.create(first);
    result.calls++;
    if (answer.kind === 'refused') {
      // Without the group nothing else can land: fail the owner and every member, stop here.
      await ports.ledgerPut([
        {
          key: memberKey(group.groupId, group.owner),
          status: 'failed',
          sourceId: group.groupId,
          zimCode: answer.code,
          zimMessage: answer.message,
        },
      ]);
      // Roles and nicknames cannot be set in a group that does not exist.
      result.failed += 1 + group.memberCount + group.admins + group.nicknames;
      return { ...result, hasMore: false };
    }
    await ports.ledgerPut([
      { key: memberKey(group.groupId, group.owner), status: 'done', sourceId: group.groupId },
      ...settle(group.groupId, first, answer, result),
    ]);
    result.done++; // the owner
    return result;
  }

  if (step > checkStep) {
    const roleStep = step - checkStep - 1;
    if (roleStep < group.admins) return setAdminRole(ports, group, roleStep, result);
    return setNicknameBatch(ports, group, roleStep - group.admins, result);
  }

  if (step < checkStep) {
    const batch = await ports.members(CREATE_GROUP_MEMBERS + (step - 1) * INVITE_BATCH, INVITE_BATCH);
    const answer = await ports.invite(batch);
    result.calls++;
    await ports.ledgerPut(settle(group.groupId, batch, answer, result));
    return result;
  }

  // Member check: make ZIM's member list equal the staged one.
  const listed = await ports.listMembers();
  result.calls += listed.calls;
  const listedIds = listed.members.map((m) => m.userId);
  const present = new Set(listedIds);
  const staged = await ports.members(0, group.memberCount);
  const wanted = new Set([group.owner, ...staged.map((m) => m.userId)]);
  const missing = staged.filter((m) => !present.has(m.userId));
  const before = await ports.ledgerGet(missing.map((m) => memberKey(group.groupId, m.userId)));
  for (let i = 0; i < missing.length; i += INVITE_BATCH) {
    const batch = missing.slice(i, i + INVITE_BATCH);
    const answer = await ports.invite(batch);
    result.calls++;
    // Count only members not counted before (left pending by a transient refusal); the rest were counted already.
    const counted = { ...result, done: 0, failed: 0 };
    const rows = settle(group.groupId, batch, answer, counted);
    for (const row of rows) {
      const previous = before.get(row.key);
      if (previous && previous !== 'pending') continue;
      if (row.status === 'done') result.done++;
      if (row.status === 'failed') result.failed++;
    }
    await ports.ledgerPut(rows);
  }
  const extras = listedIds.filter((id) => !wanted.has(id));
  for (let i = 0; i < extras.length; i += KICK_BATCH) {
    await ports.kick(extras.slice(i, i + KICK_BATCH));
    result.calls++;
  }
  return result;
}

/** What a step reports for a unit: its final ledger status, however many attempts it took to get there. */
function count(result: StepResult, status: LedgerStatus): void {
  if (status === 'done') result.done++;
  else if (status === 'failed') result.failed++;
  else if (status === 'skipped') result.skipped++;
}

type LedgerRowOf = Parameters<GroupSetupPorts['ledgerPut']>[0][number];

/**
 * Members whose role or nickname cannot be set because they never joined (their membership failed): failed without
 * a call, since ZIM would answer "not in the group".
 */
async function withoutFailedMembers(ports: GroupSetupPorts, groupId: string, userIds: string[]) {
  const memberships = await ports.ledgerGet(userIds.map((u) => memberKey(groupId, u)));
  const absent = new Set(userIds.filter((u) => memberships.get(memberKey(groupId, u)) === 'failed'));
  return { absent, present: userIds.filter((u) => !absent.has(u)) };
}

/** Step: make one staged admin an admin (SetGroupMemberRole, one member a call). */
async function setAdminRole(
  ports: GroupSetupPorts,
  group: GroupToSetUp,
  index: number,
  result: StepResult
): Promise<StepResult> {
  const [userId] = await ports.admins(index, 1);
  if (userId === undefined) return result;
  const key = roleKey(group.groupId, userId);
  const sourceId = memberKey(group.groupId, userId);
  const before = (await ports.ledgerGet([key])).get(key);
  if (before && before !== 'pending') {
    count(result, before);
    return result;
  }
  const settleAs = async (row: Omit<LedgerRowOf, 'key' | 'sourceId'>) => {
    await ports.ledgerPut([{ key, sourceId, ...row }]);
    count(result, row.status);
    return result;
  };
  if ((await withoutFailedMembers(ports, group.groupId, [userId])).absent.size > 0)
    return settleAs({ status: 'failed', zimMessage: 'not a member: joining the group failed' });
  if (before === 'pending') {
    // An earlier attempt may have landed before its answer was lost: ZIM's member list says.
    const listed = await ports.listMembers();
    result.calls += listed.calls;
    if (listed.members.some((m) => m.userId === userId && m.role === ZIM_ROLE.admin))
      return settleAs({ status: 'done' });
  } else await ports.ledgerPut([{ key, sourceId, status: 'pending' }]);
  const answer = await ports.makeAdmin(userId);
  result.calls++;
  return settleAs(
    answer.kind === 'refused'
      ? { status: 'failed', zimCode: answer.code, zimMessage: answer.message }
      : { status: 'done' }
  );
}

/** Step: set up to 20 staged nicknames (SetGroupMembersNickname), after reconciling any left pending. */
async function setNicknameBatch(
  ports: GroupSetupPorts,
  group: GroupToSetUp,
  batchIndex: number,
  result: StepResult
): Promise<StepResult> {
  const { groupId } = group;
  const batch = await ports.nicknames(batchIndex * NICKNAME_BATCH, NICKNAME_BATCH);
  const before = await ports.ledgerGet(batch.map((m) => nicknameKey(groupId, m.userId)));
  const rows: LedgerRowOf[] = [];
  const settle = (m: StagedNickname, row: Omit<LedgerRowOf, 'key' | 'sourceId'>) =>
    rows.push({ key: nicknameKey(groupId, m.userId), sourceId: memberKey(groupId, m.userId), ...row });

  let todo = batch.filter((m) => {
    const status = before.get(nicknameKey(groupId, m.userId));
    if (status && status !== 'pending') count(result, status);
    return !status || status === 'pending';
  });
  const { absent } = await withoutFailedMembers(
    ports,
    groupId,
    todo.map((m) => m.userId)
  );
  for (const m of todo.filter((m) => absent.has(m.userId)))
    settle(m, { status: 'failed', zimMessage: 'not a member: joining the group failed' });
  todo = todo.filter((m) => !absent.has(m.userId));

  if (todo.some((m) => before.get(nicknameKey(groupId, m.userId)) === 'pending')) {
    const listed = await ports.listMembers();
    result.calls += listed.calls;
    const current = new Map(listed.members.map((m) => [m.userId, m.nickname]));
    for (const m of todo.filter((m) => current.get(m.userId) === m.nickname)) settle(m, { status: 'done' });
    todo = todo.filter((m) => current.get(m.userId) !== m.nickname);
  }

  if (todo.length > 0) {
    // Write-ahead: a lost answer leaves these pending, and the next attempt reconciles them.
    await ports.ledgerPut(
      todo.map((m) => ({
        key: nicknameKey(groupId, m.userId),
        sourceId: memberKey(groupId, m.userId),
        status: 'pending',
      }))
    );
    const answer = await ports.setNicknames(todo);
    result.calls++;
    const failures = new Map<string, BatchItemFailure>(
      answer.kind === 'answered' ? answer.failures.map((f) => [f.id, f]) : []
    );
    if ([...failures.values()].some((f) => f.outcome === 'retryable')) {
      // Nothing settled from this answer: the retry finds these pending and reads the member list first.
      await ports.ledgerPut(rows);
      throw ApplicationFailure.retryable(`ZIM asked to retry nicknames of group ${groupId}`, 'ZimItemsRetryable');
    }
    for (const m of todo) {
      const failure: BatchItemFailure | undefined =
        answer.kind === 'refused'
          ? { id: m.userId, code: answer.code, message: answer.message, outcome: 'permanent' }
          : failures.get(m.userId);
      if (!failure || failure.outcome === 'already-exists') settle(m, { status: 'done' });
      else settle(m, { status: 'failed', zimCode: failure.code, zimMessage: failure.message });
    }
  }
  await ports.ledgerPut(rows);
  for (const row of rows) count(result, row.status);
  return result;
}
