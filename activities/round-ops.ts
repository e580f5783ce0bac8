/**
 * One page of a catch-up round op (src/shared/rounds.ts): one ZIM call for the page's items the ledger has not
 * settled, through the batch protocol of batch-import.ts (ledger read, call, outcome per item; a transient
 * per-item refusal retries only what is unsettled). Every op is safe to repeat: ZIM's "already there" (or, for a
 * removal, "already gone") counts as done.
 *
 * Round ops are keyed by round (ledger stage `round`, ledgerKeys.roundOp); what an op lands is also marked under the
 * key the migration's own stage uses for that record (a new account under `accounts`, a joined member under
 * `groups`...), so verify checks the final state the way it checks a migration's.
 */
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ledgerKeys } from '../src/staging/ledger-keys';
import type { LedgerStage, LedgerWrite, MigrationStore, RoundOpItem } from '../src/staging/migration-store';
import { ROUND_OP_ACTION, ROUND_LEDGER_STAGE, type RoundOp } from '../src/shared/rounds';
import { ZIM_ROLE, ZimPermanentError, type ZimClient } from '../src/zim-client';
import { ZimCode } from '../src/zim-client/codes';
import { defaultBudget } from '../src/zim-client/limits';
import { importBatchPage, type BatchAnswer, type BatchItem, type BatchPorts } from './batch-import';
import type { Outcome } from './contract';
import { scheduledCall } from './scheduled-call';

export interface RoundOpDeps {
  store: MigrationStore;
  zim: ZimClient;
  scheduler: CallScheduler;
  /** A call's answer as the batch protocol reads it (migration-activities.ts answerOf). */
  answerOf(call: () => Promise<unknown>): Promise<BatchAnswer>;
}

type Data = Record<string, unknown>;
/** The fields of `data` that are set (null: unchanged), as strings. */
const present = (data: Data) =>
  Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null && v !== undefined)) as Record<string, string>;

/** What an op's done item stands for under the migration's own ledger keys (verify reads those). */
function canonicalMark(op: RoundOp, round: number, item: RoundOpItem): { stage: LedgerStage; row: LedgerWrite } | null {
  const { target, key, data } = item;
  const done = (stage: LedgerStage, k: string): { stage: LedgerStage; row: LedgerWrite } => ({
    stage,
    row: { key: k, status: 'done' },
  });
  switch (op) {
    case 'register':
      return done('accounts', ledgerKeys.user(key));
    case 'profile':
      return data.Extra !== null && data.Extra !== undefined ? done('profiles', ledgerKeys.user(key)) : null;
    case 'friend':
      return done('friends', ledgerKeys.relation(target, key));
    case 'block':
      return done('blocks', ledgerKeys.relation(target, key));
    case 'invite':
      return done('groups', ledgerKeys.member(target, key));
    case 'role':
      // A member no longer admin: its admin role is no longer what the group should hold.
      return data.role === 'admin'
        ? done('groups', ledgerKeys.role(target, key))
        : {
            stage: 'groups',
            row: {
              key: ledgerKeys.role(target, key),
              status: 'skipped',
              zimMessage: `not an admin since round ${round}`,
            },
          };
    case 'nickname':
      return data.nickname ? done('groups', ledgerKeys.nickname(target, key)) : null;
    default:
      return null;
  }
}

/** A per-item code that means the op's effect is already there. */
const ALREADY_BY_OP: Partial<Record<RoundOp, number[]>> = {
  kick: [ZimCode.NOT_A_GROUP_MEMBER_TO_REMOVE],
};

export async function runRoundOpPage(deps: RoundOpDeps, round: number, op: RoundOp, page: number): Promise<Outcome> {
  const { store, zim, scheduler } = deps;
  const items = await store.roundOpPage(round, op, page);
  const byKey = new Map(items.map((i) => [i.key, i]));
  const target = items[0]?.target ?? '';
  const data = (id: string) => byKey.get(id)!.data;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const actor = () => text(items[0]?.data.actor);
  const { action } = ROUND_OP_ACTION[op];
  const call = (request: () => Promise<unknown>) =>
    scheduledCall(scheduler, action, defaultBudget(action).perKey ? target : undefined, () => deps.answerOf(request));
  /** One call whose only item is the group itself (or one member): ZIM's whole answer is the item's. */
  const single = (request: () => Promise<unknown>) =>
    call(async () => {
      await request();
      return { failures: [] };
    });

  const send = async (batch: BatchItem[]): Promise<BatchAnswer> => {
    const ids = batch.map((b) => b.id);
    switch (op) {
      case 'register':
        return call(() =>
          zim.userRegister({
            UserInfo: ids.map((id) => ({ UserId: id, ...present(data(id)) })),
          })
        );
      case 'profile':
        return call(() => zim.modifyUserInfo({ UserInfo: ids.map((id) => ({ UserId: id, ...present(data(id)) })) }));
      case 'unfriend': {
        // Pages hold one kind (stage-round.ts pages them apart); a page of both would still go as one call a kind.
        const oneWay = ids.filter((id) => Boolean(data(id).oneWay));
        const twoWay = ids.filter((id) => !data(id).oneWay);
        const answers: BatchAnswer[] = [];
        for (const [group, type] of [
          [twoWay, 0],
          [oneWay, 1],
        ] as const)
          if (group.length)
            answers.push(await call(() => zim.deleteFriends({ FromUserId: target, UserIds: group, DeleteType: type })));
        return merged(answers);
      }
      case 'unblock':
        return call(() => zim.removeUsersFromBlacklist({ FromUserId: target, UserIds: ids }));
      case 'friend':
        return call(() =>
          zim.addFriends({
            FromUserId: target,
            FriendInfos: ids.map((id) => {
              const d = data(id);
              const attributes = Object.entries((d.attributes ?? {}) as Record<string, string>);
              return {
                UserId: id,
                ...(typeof d.alias === 'string' && { FriendAlias: d.alias }),
                ...(typeof d.since === 'number' && { FriendTime: d.since }),
                ...(attributes.length && { Attributes: attributes.map(([Key, Value]) => ({ Key, Value })) }),
              };
            }),
          })
        );
      case 'block':
        return call(() => zim.addUsersToBlacklist({ FromUserId: target, UserIds: ids }));
      case 'group-data':
        return single(() =>
          zim.updateGroupData({ FromUserId: actor(), GroupId: target, ...present(data(ids[0]!).fields as Data) })
        );
      case 'group-attributes': {
        const d = data(ids[0]!);
        const before = d.before as Record<string, string>;
        const after = d.after as Record<string, string>;
        const set = Object.entries(after).filter(([k, v]) => before[k] !== v);
        const removed = Object.keys(before).filter((k) => !(k in after));
        return single(async () => {
          for (const [Action, Attributes] of [
            [0, set.map(([Key, Value]) => ({ Key, Value }))],
            [1, removed.map((Key) => ({ Key }))],
          ] as const) {
            if (!Attributes.length) continue;
            const r = await zim.modifyGroupAttribute({ Action, FromUserId: actor(), GroupId: target, Attributes });
            if (r.failedKeys.length)
              throw new ZimPermanentError({
                action: 'ModifyGroupAttribute',
                code: -1,
                zimMessage: `keys not changed: ${r.failedKeys.map((f) => f.key).join(', ')}`,
              });
          }
        });
      }
      case 'invite':
        return call(() =>
          zim.inviteUsersIntoGroup({
            FromUserId: actor(),
            GroupId: target,
            GroupMemberInfos: ids.map((id) => {
              const joinedAt = data(id).joinedAt;
              return { UserId: id, ...(typeof joinedAt === 'number' && { EnterGroupTime: joinedAt }) };
            }),
          })
        );
      case 'transfer':
        return single(() => zim.transferGroupOwner({ FromUserId: actor(), GroupId: target, NewOwner: ids[0]! }));
      case 'kick':
        return call(() => zim.kickoutGroupUser({ FromUserId: actor(), GroupId: target, UserId: ids }));
      case 'role':
        return single(() =>
          zim.setGroupMemberRole({
            FromUserId: actor(),
            GroupId: target,
            ToUserId: ids[0]!,
            Role: data(ids[0]!).role === 'admin' ? ZIM_ROLE.admin : ZIM_ROLE.member,
          })
        );
      case 'nickname':
        return call(() =>
          zim.setGroupMembersNickname({
            FromUserId: actor(),
            GroupId: target,
            UserIds: ids.map((id) => ({ UserId: id, Nickname: text(data(id).nickname) })),
          })
        );
      case 'dismiss': {
        const answer = await single(() => zim.dismissGroup({ FromUserId: actor(), GroupId: target }));
        // Dismissed already (a retry after the call landed): done.
        return answer.kind === 'refused' && answer.code === ZimCode.GROUP_NOT_FOUND
          ? { kind: 'answered', failures: [] }
          : answer;
      }
    }
  };

  const already = ALREADY_BY_OP[op] ?? [];
  const ports: BatchPorts = {
    items: async () =>
      items.map((i) => {
        const k = ledgerKeys.roundOp(round, op, i.target, i.key);
        return { id: i.key, ledgerKey: k, sourceId: k };
      }),
    ledgerGet: async (keys) =>
      new Map([...(await store.ledgerGet(ROUND_LEDGER_STAGE, keys))].map(([k, v]) => [k, v.status] as const)),
    ledgerPut: async (rows) => {
      // Canonical marks first: a crash between the two writes leaves the op unsettled, and its retry is harmless.
      const marks = new Map<LedgerStage, LedgerWrite[]>();
      for (const row of rows) {
        if (row.status !== 'done') continue;
        const item = items.find((i) => ledgerKeys.roundOp(round, op, i.target, i.key) === row.key);
        const mark = item && canonicalMark(op, round, item);
        if (mark) marks.set(mark.stage, [...(marks.get(mark.stage) ?? []), mark.row]);
      }
      for (const [stage, marked] of marks) await store.ledgerPut(stage, marked);
      await store.ledgerPut(ROUND_LEDGER_STAGE, rows);
    },
    send: async (batch) => {
      const answer = await send(batch);
      if (answer.kind !== 'answered' || !already.length) return answer;
      return {
        kind: 'answered',
        failures: answer.failures.map((f) => (already.includes(f.code) ? { ...f, outcome: 'already-exists' } : f)),
      };
    },
  };
  return importBatchPage(ports);
}

/** Two calls' answers as one: a refusal of either refuses the page (its items are retried or failed together). */
function merged(answers: BatchAnswer[]): BatchAnswer {
  const refused = answers.find((a) => a.kind === 'refused');
  if (refused) return refused;
  return { kind: 'answered', failures: answers.flatMap((a) => (a.kind === 'answered' ? a.failures : [])) };
}
