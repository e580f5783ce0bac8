/**
 * The migration's activities: each reads what it sends from staging, makes its ZIM call(s) through the shared call
 * schedule, and writes the outcome to the ledger. The exactly-once and batch rules live in message-import.ts,
 * batch-import.ts and group-setup.ts; this file binds them to staging, the scheduler and the ZIM client.
 */
import { randomUUID } from 'node:crypto';
import { cancellationSignal } from '@temporalio/activity';
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ZIM_ROLE, ZimAlreadyExistsError, ZimPermanentError, type ZimClient } from '../src/zim-client';
import { ZIM_PAGE_LIMITS } from '../src/zim-client/limits';
import { importBatchPage, type BatchAnswer, type BatchItem, type BatchPorts } from './batch-import';
import { ledgerKeys } from '../src/staging/ledger-keys';
import type {
  MigrationStore,
  PageStage,
  StagedGroupMessage,
  StagedPeerMessage,
  StagedUser,
} from '../src/staging/migration-store';
import type { MigrationActivities, Outcome } from './contract';
import { DEFERRED_STEP, waitForOpenGate } from './call-gate';
import { describeWorkflow } from './describe-workflow';
import { runGroupSetupStep, type GroupSetupPorts } from './group-setup';
import {
  CALL_LEASE_PER_TIMEOUT,
  importMessageExactlyOnce,
  type ImportAttempt,
  type MessageImportPorts,
} from './message-import';
import { groupMuteMode, muteGroupStep, muteRequest, type GroupMutePorts } from './group-mute';
import { markReadPage, type ReadStatePorts } from './read-state';
import { readAllPages, scheduledCall, scheduledRead } from './scheduled-call';
import { verifyPage } from './verify';
import { runRoundOpPage } from './round-ops';

export interface ActivityDeps {
  zim: ZimClient;
  scheduler: CallScheduler;
  /** Opens (and caches) the staging data of a migration (`openStaging`). */
  openStore(location: string): Promise<MigrationStore>;
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

type StagedImport = StagedPeerMessage | StagedGroupMessage;

const toPortMessage = (m: StagedImport) => ({
  sourceId: m.sourceId,
  conversation: 'peer' in m ? m.peer : m.groupId,
  from: m.from,
  sentTime: m.sentTime,
  type: m.type,
});

const importFields = (m: StagedImport) => ({
  FromUserId: m.from,
  MessageType: m.type,
  Priority: IMPORT_PRIORITY,
  MessageBody: m.body,
  SubMsgType: m.subType,
  ...(m.searchedContent !== undefined && { SearchedContent: m.searchedContent }),
  SendMessageTime: m.sentTime,
});

/** UserName and UserAvatar, as staged (absent when not). */
const profileFields = (u: StagedUser) => ({
  ...(u.nickname !== null && { UserName: u.nickname }),
  ...(u.avatarUrl !== null && { UserAvatar: u.avatarUrl }),
});

export function createMigrationActivities(deps: ActivityDeps): MigrationActivities {
  const { zim, scheduler } = deps;

  async function batchPorts(
    store: MigrationStore,
    stage: Exclude<PageStage, 'verify'>,
    page: number
  ): Promise<BatchPorts> {
    const ledgerPorts = {
      ledgerGet: async (keys: string[]) =>
        new Map([...(await store.ledgerGet(stage, keys))].map(([k, v]) => [k, v.status] as const)),
      ledgerPut: async (rows: Parameters<BatchPorts['ledgerPut']>[0]) => store.ledgerPut(stage, rows),
    };
    if (stage === 'accounts' || stage === 'profiles') {
      const users = await (stage === 'accounts' ? store.accountsPage(page) : store.profilesPage(page));
      const byId = new Map(users.map((u) => [u.id, u]));
      return {
        ...ledgerPorts,
        items: async () => users.map((u) => ({ id: u.id, ledgerKey: ledgerKeys.user(u.id), sourceId: u.id })),
        send: (items: BatchItem[]) => {
          const info = items.map((i) => byId.get(i.id)!);
          return stage === 'accounts'
            ? scheduledCall(scheduler, 'UserRegister', undefined, () =>
                answerOf(() => zim.userRegister({ UserInfo: info.map((u) => ({ UserId: u.id, ...profileFields(u) })) }))
              )
            : scheduledCall(scheduler, 'ModifyUserInfo', undefined, () =>
                answerOf(() =>
                  zim.modifyUserInfo({
                    UserInfo: info.map((u) => ({
                      UserId: u.id,
                      ...profileFields(u),
                      ...(u.extendedData !== null && { Extra: u.extendedData }),
                    })),
                  })
                )
              );
        },
      };
    }
    if (stage === 'blocks') {
      const blocks = await store.blocksPage(page);
      const owner = blocks[0]?.user ?? '';
      return {
        ...ledgerPorts,
        items: async () =>
          blocks.map((b) => {
            const key = ledgerKeys.relation(b.user, b.blocked);
            return { id: b.blocked, ledgerKey: key, sourceId: key };
          }),
        send: (items: BatchItem[]) =>
          scheduledCall(scheduler, 'AddUsersToBlacklist', undefined, () =>
            answerOf(() => zim.addUsersToBlacklist({ FromUserId: owner, UserIds: items.map((i) => i.id) }))
          ),
      };
    }
    const friends = await store.friendsPage(page);
    const owner = friends[0]?.user ?? '';
    const byFriend = new Map(friends.map((f) => [f.friend, f]));
    return {
      ...ledgerPorts,
      items: async () =>
        friends.map((f) => {
          const key = ledgerKeys.relation(f.user, f.friend);
          return { id: f.friend, ledgerKey: key, sourceId: key };
        }),
      send: (items: BatchItem[]) =>
        scheduledCall(scheduler, 'AddFriends', undefined, () =>
          answerOf(() =>
            zim.addFriends({
              FromUserId: owner,
              FriendInfos: items.map((i) => {
                const f = byFriend.get(i.id)!;
                const attributes = Object.entries(f.attributes ?? {});
                return {
                  UserId: f.friend,
                  ...(f.alias !== null && { FriendAlias: f.alias }),
                  ...(f.since !== null && { FriendTime: f.since }),
                  ...(attributes.length && { Attributes: attributes.map(([Key, Value]) => ({ Key, Value })) }),
                };
              }),
            })
          )
        ),
    };
  }

  /** Ports for one message import; `current` is this invocation's staged message, read once with its body. */
  function messagePorts(store: MigrationStore, kind: 'peer' | 'group', id: string, extraSteps = 0): MessageImportPorts {
    const stage = kind === 'peer' ? 'peer-messages' : 'group-messages';
    let current: StagedImport | null = null;
    return {
      stage,
      message: async (seq) => {
        current = await (kind === 'peer' ? store.ownerMessage(id, seq) : store.groupMessage(id, seq));
        return current && toPortMessage(current);
      },
      count: async () =>
        (kind === 'peer' ? await store.countOwnerMessages(id) : await store.countGroupMessages(id)) + extraSteps,
      ledgerKey: (m) => ledgerKeys.message(id, m.sourceId),
      claim: (k, _sourceId, token, leaseMs) => store.ledgerClaim(stage, k, token, leaseMs),
      renew: (k, token, leaseMs) => store.ledgerRenew(stage, k, token, leaseMs),
      release: (k, token) => store.ledgerRelease(stage, k, token),
      ledgerPut: (k, entry) => store.ledgerPut(stage, [{ key: k, ...entry }]),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      callLeaseMs: CALL_LEASE_PER_TIMEOUT * zim.requestTimeoutMs,
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
        return 'peer' in m
          ? scheduledCall(scheduler, 'ImportPeerMsg', undefined, async () =>
              (await mayCall())
                ? attemptOf(() => zim.importPeerMsg({ ...importFields(m), ToUserId: m.to, ImportedUserId: id }))
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

  /** ZIM's ConvType: 0 one-to-one, 2 group. */
  const CONV_TYPE = { peer: 0, group: 2 } as const;

  function readStatePorts(store: MigrationStore, page: number): ReadStatePorts {
    return {
      items: () => store.readStatePage(page),
      ledgerGet: async (keys) =>
        new Map([...(await store.ledgerGet('read-state', keys))].map(([k, v]) => [k, v.status] as const)),
      ledgerPut: (rows) => store.ledgerPut('read-state', rows),
      clear: (r) =>
        scheduledCall(scheduler, 'ClearConversationUnread', undefined, async () => {
          try {
            await zim.clearConversationUnread({ FromUserId: r.user, ConvId: r.conv, ConvType: CONV_TYPE[r.kind] });
            return { kind: 'cleared' as const };
          } catch (err) {
            if (err instanceof ZimPermanentError)
              return { kind: 'refused' as const, code: err.code, message: err.zimMessage };
            throw err;
          }
        }),
    };
  }

  function mutePorts(store: MigrationStore, groupId: string): GroupMutePorts {
    const mode = groupMuteMode();
    return {
      ledgerGet: async (key) => (await store.ledgerGet('group-messages', [key])).get(key),
      ledgerPut: (key, entry) => store.ledgerPut('group-messages', [{ key, ...entry }]),
      mute: async () => {
        const group = await store.group(groupId);
        if (!group)
          throw new ZimPermanentError({ action: 'MuteGroup', code: -1, zimMessage: `group ${groupId} is not staged` });
        return scheduledCall(scheduler, 'MuteGroup', undefined, async () => {
          try {
            await zim.muteGroup({ FromUserId: group.owner, GroupId: groupId, ...muteRequest(mode) });
            return { kind: 'muted' as const };
          } catch (err) {
            if (err instanceof ZimPermanentError)
              return { kind: 'refused' as const, code: err.code, message: err.zimMessage };
            throw err;
          }
        });
      },
    };
  }

  async function groupPorts(store: MigrationStore, groupId: string): Promise<GroupSetupPorts> {
    const group = await store.group(groupId);
    if (!group)
      throw new ZimPermanentError({ action: 'CreateGroup', code: -1, zimMessage: `group ${groupId} is not staged` });
    const members = async (offset: number, limit: number) =>
      (await store.groupMembers(groupId, offset, limit)).map((m) => ({
        userId: m.user,
        sourceId: ledgerKeys.member(groupId, m.user),
        ...(m.joinedAt !== null && { joinedTime: m.joinedAt }),
      }));
    const attributes = Object.entries(group.attributes ?? {});
    return {
      group: async () => ({
        groupId,
        owner: group.owner,
        memberCount: Math.max(0, group.memberCount - 1),
        admins: group.adminCount,
        nicknames: group.nicknameCount,
      }),
      members,
      ledgerGet: async (keys) =>
        new Map([...(await store.ledgerGet('groups', keys))].map(([k, v]) => [k, v.status] as const)),
      ledgerPut: (rows) => store.ledgerPut('groups', rows),
      create: (first) =>
        scheduledCall(scheduler, 'CreateGroup', groupId, () =>
          answerOf(() =>
            zim.createGroup({
              GroupId: groupId,
              GroupOwner: group.owner,
              UserId: first.map((m) => m.userId),
              ...(group.name !== null && { GroupName: group.name }),
              ...(group.notice !== null && { GroupNotice: group.notice }),
              ...(group.avatarUrl !== null && { GroupAvatar: group.avatarUrl }),
              ...(attributes.length && { Attributes: attributes.map(([Key, Value]) => ({ Key, Value })) }),
              ...(group.createdAt !== null && { CreateGroupTime: group.createdAt }),
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
          zim.queryGroupMemberList({ GroupId: groupId, Limit: ZIM_PAGE_LIMITS.QueryGroupMemberList.max, Next: next })
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
      admins: async (offset, limit) => (await store.groupAdmins(groupId, offset, limit)).map((m) => m.user),
      nicknames: async (offset, limit) =>
        (await store.groupNicknames(groupId, offset, limit)).map((m) => ({ userId: m.user, nickname: m.nickname! })),
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
      const store = await deps.openStore(ref.stagingPath);
      await store.recordMigration(ref.migrationId);
      return store.stageWork();
    },
    runPage: async (input): Promise<Outcome> => {
      const store = await deps.openStore(input.stagingPath);
      if (input.stage === 'verify') return verifyPage({ store, zim, scheduler }, input.page);
      if (input.stage === 'read-state') return markReadPage(readStatePorts(store, input.page));
      return importBatchPage(await batchPorts(store, input.stage, input.page));
    },
    listFanoutItems: async ({ stagingPath, stage, after, limit, round }) => {
      const store = await deps.openStore(stagingPath);
      const items = await (round === undefined
        ? store.fanoutItems(stage, after, limit)
        : store.roundFanoutItems(round, stage, after, limit));
      const last = items[items.length - 1];
      return { items, next: items.length === limit && last ? last.id : null };
    },
    ownerConversations: async ({ stagingPath, owner, round }) => {
      const store = await deps.openStore(stagingPath);
      return round === undefined ? store.ownerConversationRanges(owner) : store.roundConversationRanges(round, owner);
    },
    loadRound: async ({ stagingPath, round }) => {
      const store = await deps.openStore(stagingPath);
      const [work, stages] = await Promise.all([store.roundWork(round), store.stageWork()]);
      await store.setRoundState(round, 'running');
      return { work, verify: stages.verify };
    },
    runRoundPage: async ({ stagingPath, round, op, page }) =>
      runRoundOpPage(
        { store: await deps.openStore(stagingPath), zim, scheduler, answerOf: (call) => answerOf(call as never) },
        round,
        op,
        page
      ),
    finishRound: async ({ stagingPath, round, state }) =>
      (await deps.openStore(stagingPath)).setRoundState(round, state),
    importPeerMessage: async (input) => {
      const store = await deps.openStore(input.stagingPath);
      if (!(await waitForOpenGate(() => store.callGateOpen(), cancellationSignal()))) return { ...DEFERRED_STEP };
      return importMessageExactlyOnce(messagePorts(store, 'peer', input.owner), input.seq, input.prev, randomUUID());
    },
    importGroupMessage: async (input) => {
      const store = await deps.openStore(input.stagingPath);
      if (!(await waitForOpenGate(() => store.callGateOpen(), cancellationSignal()))) return { ...DEFERRED_STEP };
      // A muted group's history ends with one more step: MuteGroup (activities/group-mute.ts).
      const muted = await store.groupMuted(input.groupId);
      if (muted && input.seq === (await store.countGroupMessages(input.groupId)))
        return muteGroupStep(mutePorts(store, input.groupId), input.groupId);
      return importMessageExactlyOnce(
        messagePorts(store, 'group', input.groupId, muted ? 1 : 0),
        input.seq,
        input.prev,
        randomUUID()
      );
    },
    setupGroupStep: async (input) =>
      runGroupSetupStep(await groupPorts(await deps.openStore(input.stagingPath), input.groupId), input.step),
    setCallGate: async ({ stagingPath, open }) => (await deps.openStore(stagingPath)).setCallGate(open),
    readProgress: async ({ stagingPath, windowMs }) => ({
      at: Date.now(),
      ledger: await (await deps.openStore(stagingPath)).ledgerCounts(),
      sent: await scheduler.sentInWindow(windowMs),
      windowMs,
    }),
    applyBudget: async ({ action, rate }) => scheduler.setRate(action, rate),
    describeWorkflow,
  };
}
