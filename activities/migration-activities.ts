/**
 * The migration's activities: each reads what it sends from staging, makes its ZIM call(s) through the shared call
 * schedule, and writes the outcome to the ledger. The exactly-once and batch rules live in message-import.ts,
 * batch-import.ts and group-setup.ts; this file binds them to staging, the scheduler and the ZIM client.
 */
import { randomUUID } from 'node:crypto';
import { cancellationSignal } from '@temporalio/activity';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ZIM_ROLE, ZimAlreadyExistsError, ZimPermanentError, type ZimClient } from '../src/zim-client';
import { importBatchPage, type BatchAnswer, type BatchItem, type BatchPorts } from './batch-import';
import type { MigrationActivities, Outcome, PageStage } from './contract';
import { DEFERRED_STEP, waitForOpenGate } from './call-gate';
import { describeWorkflow } from './describe-workflow';
import { runGroupSetupStep, type GroupSetupPorts } from './group-setup';
import { importMessageExactlyOnce, type ImportAttempt, type MessageImportPorts } from './message-import';
import type { MigrationData, StagedImportMessage } from './migration-data';
import { readAllPages, scheduledCall, scheduledRead } from './scheduled-call';
import { verifyPage } from './verify';

export interface ActivityDeps {
  zim: ZimClient;
  scheduler: CallScheduler;
  /** Opens (and caches) the staging database of a migration. */
  openData(stagingPath: string): Promise<MigrationData>;
}

/** Imported history carries no live delivery; ZIM requires a priority all the same (1 low, 2 medium, 3 high). */
const IMPORT_PRIORITY = 2;

/** A batch call refused as a whole (bad parameters, unknown operator...) fails its items; transient errors throw. */
async function answerOf(
  call: () => Promise<{ failures: BatchAnswer extends infer _ ? unknown : never }>
): Promise<BatchAnswer> {
  try {
    const result = (await call()) as { failures: Extract<BatchAnswer, { kind: 'answered' }>['failures'] };
    return { kind: 'answered', failures: result.failures };
  } catch (err) {
    if (err instanceof ZimAlreadyExistsError) return { kind: 'answered', failures: [] };
    if (err instanceof ZimPermanentError) return { kind: 'refused', code: err.code, message: err.zimMessage };
    throw err;
  }
}

async function attemptOf(call: () => Promise<{ msgSeq: number; msgId?: string }>): Promise<ImportAttempt> {
  try {
    const { msgSeq, msgId } = await call();
    return { kind: 'landed', msgSeq, ...(msgId !== undefined && { msgId }) };
  } catch (err) {
    if (err instanceof ZimPermanentError) return { kind: 'refused', code: err.code, message: err.zimMessage };
    throw err;
  }
}

const toPortMessage = (m: StagedImportMessage) => ({
  sourceId: m.sourceId,
  conversation: m.conversation,
  from: m.from,
  sentTime: m.sentTime,
  type: m.type,
  ...(m.skipReason !== undefined && { skipReason: m.skipReason }),
});

const importFields = (m: StagedImportMessage) => ({
  FromUserId: m.from,
  MessageType: m.type,
  Priority: IMPORT_PRIORITY,
  MessageBody: m.body,
  ...(m.subType !== undefined && { SubMsgType: m.subType }),
  ...(m.searchedContent !== undefined && { SearchedContent: m.searchedContent }),
  SendMessageTime: m.sentTime,
});

export function createMigrationActivities(deps: ActivityDeps): MigrationActivities {
  const { zim, scheduler } = deps;

  async function batchPorts(
    data: MigrationData,
    stage: Exclude<PageStage, 'verify'>,
    page: number
  ): Promise<BatchPorts> {
    const ledgerPorts = {
      ledgerGet: async (keys: string[]) =>
        new Map([...(await data.ledgerGet(stage, keys))].map(([k, v]) => [k, v.status] as const)),
      ledgerPut: async (rows: Parameters<BatchPorts['ledgerPut']>[0]) => data.ledgerPut(stage, rows),
    };
    if (stage === 'accounts' || stage === 'profiles') {
      const users = await data.usersPage(page);
      const byId = new Map(users.map((u) => [u.userId, u]));
      return {
        ...ledgerPorts,
        items: async () => users.map((u) => ({ id: u.userId, ledgerKey: u.userId, sourceId: u.userId })),
        send: (items: BatchItem[]) => {
          const info = items.map((i) => byId.get(i.id)!);
          return stage === 'accounts'
            ? scheduledCall(scheduler, 'UserRegister', undefined, () =>
                answerOf(() =>
                  zim.userRegister({
                    UserInfo: info.map((u) => ({
                      UserId: u.userId,
                      ...(u.nickname !== undefined && { UserName: u.nickname }),
                      ...(u.avatarUrl !== undefined && { UserAvatar: u.avatarUrl }),
                    })),
                  })
                )
              )
            : scheduledCall(scheduler, 'ModifyUserInfo', undefined, () =>
                answerOf(() =>
                  zim.modifyUserInfo({
                    UserInfo: info.map((u) => ({
                      UserId: u.userId,
                      ...(u.nickname !== undefined && { UserName: u.nickname }),
                      ...(u.avatarUrl !== undefined && { UserAvatar: u.avatarUrl }),
                      ...(u.extendedData !== undefined && { Extra: u.extendedData }),
                    })),
                  })
                )
              );
        },
      };
    }
    const relations = await data.relationBatch(stage, page);
    const owner = relations[0]?.owner ?? '';
    const byTarget = new Map(relations.map((r) => [r.target, r]));
    return {
      ...ledgerPorts,
      items: async () =>
        relations.map((r) => ({
          id: r.target,
          ledgerKey: `${r.owner}/${r.target}`,
          sourceId: `${r.owner}/${r.target}`,
        })),
      send: (items: BatchItem[]) =>
        stage === 'friends'
          ? scheduledCall(scheduler, 'AddFriends', undefined, () =>
              answerOf(() =>
                zim.addFriends({
                  FromUserId: owner,
                  FriendInfos: items.map((i) => {
                    const r = byTarget.get(i.id)!;
                    return {
                      UserId: r.target,
                      ...(r.alias !== undefined && { FriendAlias: r.alias }),
                      ...(r.since !== undefined && { FriendTime: r.since }),
                      ...(r.attributes?.length && {
                        Attributes: r.attributes.map((a) => ({ Key: a.key, Value: a.value })),
                      }),
                    };
                  }),
                })
              )
            )
          : scheduledCall(scheduler, 'AddUsersToBlacklist', undefined, () =>
              answerOf(() => zim.addUsersToBlacklist({ FromUserId: owner, UserIds: items.map((i) => i.id) }))
            ),
    };
  }

  /** Ports for one message import; `current` is this invocation's staged message, read once with its body. */
  function messagePorts(data: MigrationData, kind: 'peer' | 'group', id: string): MessageImportPorts {
    const stage = kind === 'peer' ? 'peer-messages' : 'group-messages';
    let current: StagedImportMessage | null = null;
    return {
      stage,
      message: async (seq) => {
        current = await (kind === 'peer' ? data.ownerMessage(id, seq) : data.groupMessage(id, seq));
        return current && toPortMessage(current);
      },
      count: () => (kind === 'peer' ? data.ownerMessageCount(id) : data.groupMessageCount(id)),
      ledgerKey: (m) => `${id}/${m.sourceId}`,
      claim: (k, sourceId, token, leaseMs) => data.ledgerClaim(stage, k, sourceId, token, leaseMs),
      renew: (k, token, leaseMs) => data.ledgerRenew(stage, k, token, leaseMs),
      release: (k, token) => data.ledgerRelease(stage, k, token),
      ledgerPut: (k, entry) => data.ledgerPut(stage, [{ key: k, ...entry }]),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      newest: async (conversation) => {
        const page =
          kind === 'peer'
            ? await scheduledRead(scheduler, 'QueryPeerMsg', undefined, () =>
                zim.queryPeerMsg({ FromUserId: id, ToUserId: conversation, Limit: 1 })
              )
            : await scheduledRead(scheduler, 'QueryGroupMsg', undefined, () =>
                zim.queryGroupMsg({ GroupId: id, Limit: 1 })
              );
        const newest = page.messages[0];
        return newest
          ? { sender: newest.sender, msgType: newest.msgType, msgTime: newest.msgTime, msgSeq: newest.msgSeq }
          : null;
      },
      send: async (message, mayCall) => {
        const m = current;
        if (!m || m.sourceId !== message.sourceId) throw new Error(`staged message ${message.sourceId} was not read`);
        return kind === 'peer'
          ? scheduledCall(scheduler, 'ImportPeerMsg', undefined, async () =>
              (await mayCall())
                ? attemptOf(() => zim.importPeerMsg({ ...importFields(m), ToUserId: m.to ?? id, ImportedUserId: id }))
                : 'lease-lost'
            )
          : scheduledCall(scheduler, 'ImportGroupMsg', undefined, async () =>
              (await mayCall())
                ? attemptOf(() => zim.importGroupMsg({ ...importFields(m), GroupId: id }))
                : 'lease-lost'
            );
      },
    };
  }

  async function groupPorts(data: MigrationData, groupId: string): Promise<GroupSetupPorts> {
    const group = await data.group(groupId);
    if (!group)
      throw new ZimPermanentError({ action: 'CreateGroup', code: -1, zimMessage: `group ${groupId} is not staged` });
    const members = async (offset: number, limit: number) =>
      (await data.groupMembers(groupId, offset, limit)).map((m) => ({
        userId: m.userId,
        sourceId: `${groupId}/${m.userId}`,
        joinedTime: m.joinedTime,
      }));
    return {
      group: async () => ({
        groupId,
        owner: group.owner,
        memberCount: group.memberCount,
        admins: group.admins,
        nicknames: group.nicknames,
      }),
      members,
      ledgerGet: async (keys) =>
        new Map([...(await data.ledgerGet('groups', keys))].map(([k, v]) => [k, v.status] as const)),
      ledgerPut: (rows) => data.ledgerPut('groups', rows),
      create: (first) =>
        scheduledCall(scheduler, 'CreateGroup', groupId, () =>
          answerOf(() =>
            zim.createGroup({
              GroupId: groupId,
              GroupOwner: group.owner,
              UserId: first.map((m) => m.userId),
              ...(group.name !== undefined && { GroupName: group.name }),
              ...(group.notice !== undefined && { GroupNotice: group.notice }),
              ...(group.avatarUrl !== undefined && { GroupAvatar: group.avatarUrl }),
              ...(group.attributes?.length && {
                Attributes: group.attributes.map((a) => ({ Key: a.key, Value: a.value })),
              }),
              ...(group.createdTime !== undefined && { CreateGroupTime: group.createdTime }),
            })
          )
        ),
      invite: (batch) =>
        scheduledCall(scheduler, 'InviteUsersIntoGroup', groupId, () =>
          answerOf(() =>
            zim.inviteUsersIntoGroup({
              FromUserId: group.owner,
              GroupId: groupId,
              GroupMemberInfos: batch.map((m) => ({
                UserId: m.userId,
                ...(m.joinedTime !== undefined && { EnterGroupTime: m.joinedTime }),
              })),
            })
          )
        ),
      listMembers: async () => {
        const pages = await readAllPages(scheduler, 'QueryGroupMemberList', (next) =>
          zim.queryGroupMemberList({ GroupId: groupId, Limit: 1000, Next: next })
        );
        return {
          members: pages.flatMap((p) =>
            p.members.map((m) => ({ userId: m.userId, role: m.role, nickname: m.userNickName }))
          ),
          calls: pages.length,
        };
      },
      kick: (userIds) =>
        scheduledCall(scheduler, 'KickoutGroupUser', undefined, () =>
          answerOf(() => zim.kickoutGroupUser({ FromUserId: group.owner, GroupId: groupId, UserId: userIds }))
        ),
      admins: (offset, limit) => data.groupAdmins(groupId, offset, limit),
      nicknames: (offset, limit) => data.groupNicknames(groupId, offset, limit),
      // The owner acts: ZIM lets the owner or an admin set roles and nicknames.
      makeAdmin: (userId) =>
        scheduledCall(scheduler, 'SetGroupMemberRole', undefined, () =>
          answerOf(async () => {
            await zim.setGroupMemberRole({
              FromUserId: group.owner,
              GroupId: groupId,
              ToUserId: userId,
              Role: ZIM_ROLE.admin,
            });
            return { failures: [] };
          })
        ),
      setNicknames: (batch) =>
        scheduledCall(scheduler, 'SetGroupMembersNickname', groupId, () =>
          answerOf(() =>
            zim.setGroupMembersNickname({
              FromUserId: group.owner,
              GroupId: groupId,
              UserIds: batch.map((m) => ({ UserId: m.userId, Nickname: m.nickname })),
            })
          )
        ),
    };
  }

  return {
    // Every migration loads its plan once, at its start, however it was started (start, dev, a test, the Temporal
    // CLI): the one place to record in the staging file which migration runs from it.
    loadPlan: async (ref) => {
      const data = await deps.openData(ref.stagingPath);
      await data.recordMigration(ref.migrationId);
      return data.plan();
    },
    runPage: async (input): Promise<Outcome> => {
      const data = await deps.openData(input.stagingPath);
      if (input.stage === 'verify') return verifyPage({ data, zim, scheduler }, input.page);
      return importBatchPage(await batchPorts(data, input.stage, input.page));
    },
    listFanoutItems: async ({ stagingPath, stage, after, limit }) => {
      const items = await (await deps.openData(stagingPath)).fanoutItems(stage, after, limit);
      const last = items[items.length - 1];
      return { items, next: items.length === limit && last ? last.id : null };
    },
    ownerConversations: async ({ stagingPath, owner }) =>
      (await deps.openData(stagingPath)).ownerConversationRanges(owner),
    importPeerMessage: async (input) => {
      const data = await deps.openData(input.stagingPath);
      if (!(await waitForOpenGate(() => data.callGateOpen(), cancellationSignal()))) return { ...DEFERRED_STEP };
      return importMessageExactlyOnce(messagePorts(data, 'peer', input.owner), input.seq, input.prev, randomUUID());
    },
    importGroupMessage: async (input) => {
      const data = await deps.openData(input.stagingPath);
      if (!(await waitForOpenGate(() => data.callGateOpen(), cancellationSignal()))) return { ...DEFERRED_STEP };
      return importMessageExactlyOnce(messagePorts(data, 'group', input.groupId), input.seq, input.prev, randomUUID());
    },
    setupGroupStep: async (input) =>
      runGroupSetupStep(await groupPorts(await deps.openData(input.stagingPath), input.groupId), input.step),
    setCallGate: async ({ stagingPath, open }) => (await deps.openData(stagingPath)).setCallGate(open),
    readProgress: async ({ stagingPath, windowMs }) => ({
      at: Date.now(),
      ledger: await (await deps.openData(stagingPath)).ledgerCounts(),
      sent: await scheduler.sentInWindow(windowMs),
      windowMs,
    }),
    applyBudget: async ({ action, rate }) => scheduler.setRate(action, rate),
    describeWorkflow,
  };
}
