/**
 * Creating one group in ZIM, as a sequence of steps the group's child workflow runs one at a time:
 *   step 0        CreateGroup with the owner and the first 100 other members (their join time = creation time);
 *   steps 1..k    InviteUsersIntoGroup, 100 members a call, each with its original join time (1 call/s per group);
 *   step k+1      member check: read the member list back, invite anyone missing, remove anyone who should not be
 *                 there (a group that already existed, or a retry that landed twice).
 * Every step is safe to repeat: ZIM answers "group exists" / "already a member", which count as done.
 * The unit of progress is a membership (the owner's included), recorded in the ledger per member.
 */
import type { StepResult } from './contract';
import type { BatchAnswer, BatchItemFailure, LedgerStatus } from './batch-import';

export const CREATE_GROUP_MEMBERS = 100;
export const INVITE_BATCH = 100;
export const KICK_BATCH = 50;

export interface StagedGroupInfo {
  groupId: string;
  owner: string;
  /** Members other than the owner. */
  memberCount: number;
}

export interface StagedMemberRef {
  userId: string;
  sourceId: string;
  /** When the member joined (ms): ZIM's EnterGroupTime on invite. */
  joinedTime?: number;
}

export interface GroupSetupPorts {
  group(): Promise<StagedGroupInfo>;
  /** Members other than the owner, in a stable order. */
  members(offset: number, limit: number): Promise<StagedMemberRef[]>;
  ledgerGet(keys: string[]): Promise<Map<string, LedgerStatus>>;
  ledgerPut(
    rows: { key: string; status: LedgerStatus; sourceId: string; zimCode?: number; zimMessage?: string }[]
  ): Promise<void>;
  /** CreateGroup; a group that already exists is answered as `{ kind: 'answered', failures: [] }` by the adapter. */
  create(members: StagedMemberRef[]): Promise<BatchAnswer>;
  invite(members: StagedMemberRef[]): Promise<BatchAnswer>;
  /** Every member id ZIM lists for the group (all pages). Each page is one call; returns how many were made. */
  listMembers(): Promise<{ userIds: string[]; calls: number }>;
  kick(userIds: string[]): Promise<BatchAnswer>;
}

export const memberKey = (groupId: string, userId: string) => `${groupId}/${userId}`;

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

export function groupSetupSteps(memberCount: number): number {
  const invited = Math.max(0, memberCount - CREATE_GROUP_MEMBERS);
  return 1 + Math.ceil(invited / INVITE_BATCH) + 1;
}

export async function runGroupSetupStep(ports: GroupSetupPorts, step: number): Promise<StepResult> {
  const group = await ports.group();
  const steps = groupSetupSteps(group.memberCount);
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
      result.failed += 1 + group.memberCount;
      return { ...result, hasMore: false };
    }
    await ports.ledgerPut([
      { key: memberKey(group.groupId, group.owner), status: 'done', sourceId: group.groupId },
      ...settle(group.groupId, first, answer, result),
    ]);
    result.done++; // the owner
    return result;
  }

  if (step < steps - 1) {
    const batch = await ports.members(CREATE_GROUP_MEMBERS + (step - 1) * INVITE_BATCH, INVITE_BATCH);
    const answer = await ports.invite(batch);
    result.calls++;
    await ports.ledgerPut(settle(group.groupId, batch, answer, result));
    return result;
  }

  // Member check: make ZIM's member list equal the staged one.
  const listed = await ports.listMembers();
  result.calls += listed.calls;
  const present = new Set(listed.userIds);
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
  const extras = listed.userIds.filter((id) => !wanted.has(id));
  for (let i = 0; i < extras.length; i += KICK_BATCH) {
    await ports.kick(extras.slice(i, i + KICK_BATCH));
    result.calls++;
  }
  return result;
}
