/**
 * Group mirroring during coexistence: a group's existence, members and profile are state, and each event is
 * applied as "make the other side match" (coexistence.md §5.6). The coexistence store keeps the state both sides
 * were last made to agree on; an event that would change nothing there is our own write coming back (an echo,
 * whether or not ZIM fires group callbacks for server-API operations) or a redelivery, and is not applied. An event
 * older than the last change the same side made to the same thing is stale (reordered past the settle window).
 *
 * Exactly once without intents: every write used here is convergent or answers a known code when already done
 * (ZIM: CreateGroup 660600011, KickoutGroupUser 660600008, DismissGroup 660600001, InviteUsersIntoGroup of a
 * member succeeds; legacy: the contract's convergent group writes). So an attempt that died between the write and
 * the state record is settled by its retry doing the write again, which changes nothing and fires no second event.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { CoexistStore, Origin } from '../src/coexist/coexist-store';
import { LegacyApiError, type LegacyClient } from '../src/coexist/legacy-client';
import { GroupProfileSchema, type GroupProfile, type SyncEvent } from '../src/coexist/sync-event';
import { ZimCode, ZimPermanentError, type ZimClient, type ZimItemFailure } from '../src/zim-client';
import { holds, mergeProfile, parseAgreed, profileFields } from '../src/coexist/group-profile';

/** applied: the other side was changed; unchanged: nothing to change (an echo or a redelivery); stale: superseded. */
export type GroupOutcome = 'applied' | 'unchanged' | 'stale';

type ZimCall = <T>(action: string, key: string | undefined, call: () => Promise<T>) => Promise<T>;

const refused = (side: string, detail: string) =>
  ApplicationFailure.nonRetryable(`${side} refused the mirrored group change: ${detail}`, 'MirrorRefused');

/** Item failures that mean "already so". */
const ALREADY = new Set<number>([ZimCode.NOT_A_GROUP_MEMBER_TO_REMOVE]);

function requireNoFailures(failures: ZimItemFailure[]): void {
  const real = failures.filter((f) => !ALREADY.has(f.code));
  if (real.length) throw refused('ZIM', real.map((f) => `${f.id}: code ${f.code}`).join(', '));
}

export function createGroupActivities(
  deps: { store: CoexistStore; zim: ZimClient; legacy: LegacyClient; zimGroupOperator?: string },
  zimCall: ZimCall
) {
  const { store, zim, legacy } = deps;
  const bot = deps.zimGroupOperator ?? '__migration_bot';

  let offersProfileWrite: Promise<boolean> | undefined;
  /** Whether the legacy adapter offers POST /v1/groups/{id}/profile (asked once; a failed answer is asked again). */
  const profileWriteOffered = () =>
    (offersProfileWrite ??= legacy.capabilities().then(
      (c) => c.groupProfile === true,
      (err: unknown) => {
        offersProfileWrite = undefined;
        throw err;
      }
    ));

  /** The other side made to hold the group with these members. */
  async function create(target: Origin, gid: string, profile: GroupProfile, members: string[], e: SyncEvent) {
    const owner = profile.owner ?? e.operator ?? members[0]!;
    if (target === 'zim') {
      try {
        const r = await zimCall('CreateGroup', undefined, () =>
          zim.createGroup({
            GroupId: gid,
            GroupOwner: owner,
            UserId: members.filter((m) => m !== owner),
            ...(profile.name ? { GroupName: profile.name } : {}),
          })
        );
        requireNoFailures(r.failures);
      } catch (err) {
        if (!(err instanceof ZimPermanentError && err.code === ZimCode.GROUP_EXISTS)) throw err;
        // Created by an earlier attempt (or before coexistence): make sure of the members.
        await join('zim', gid, members, e);
      }
    } else if (!(await legacy.createGroup({ operator: owner, groupId: gid, name: profile.name ?? '', members }))) {
      await join('legacy', gid, members, e);
    }
  }

  async function join(target: Origin, gid: string, users: string[], e: SyncEvent) {
    if (target === 'zim') {
      const r = await zimCall('InviteUsersIntoGroup', gid, () =>
        zim.inviteUsersIntoGroup({ FromUserId: bot, GroupId: gid, UserIds: users })
      );
      requireNoFailures(r.failures);
    } else await legacy.joinGroup(gid, e.operator ?? users[0]!, users);
  }

  async function leave(target: Origin, gid: string, users: string[], e: SyncEvent) {
    if (target === 'zim') {
      const r = await zimCall('KickoutGroupUser', undefined, () =>
        zim.kickoutGroupUser({ FromUserId: bot, GroupId: gid, UserId: users })
      );
      requireNoFailures(r.failures);
    } else await legacy.leaveGroup(gid, e.operator ?? users[0]!, users);
  }

  async function dismiss(target: Origin, gid: string, e: SyncEvent) {
    if (target === 'zim') {
      try {
        await zimCall('DismissGroup', gid, () => zim.dismissGroup({ FromUserId: bot, GroupId: gid }));
      } catch (err) {
        if (!(err instanceof ZimPermanentError && err.code === ZimCode.GROUP_NOT_FOUND)) throw err;
      }
    } else await legacy.dismissGroup(gid, e.operator ?? e.users?.[0] ?? bot);
  }

  async function apply(e: SyncEvent): Promise<GroupOutcome> {
    const gid = e.groupId!;
    // Our own invite, kick or dismiss coming back (operator_account is our operator): an echo whatever the state.
    if (e.origin === 'zim' && e.operator === bot) return 'unchanged';
    const target: Origin = e.origin === 'legacy' ? 'zim' : 'legacy';
    const stamp = { origin: e.origin, changedAt: e.occurredAt };
    /** A later change from the same side (its own clock) already decided this. */
    const superseded = (s: { origin: Origin; changedAt: number } | null) =>
      s !== null && s.origin === e.origin && s.changedAt > e.occurredAt;
    const group = await store.group(gid);
    const profile = e.bodyRef ? GroupProfileSchema.parse(JSON.parse(await store.body(e.bodyRef))) : {};
    const users = e.users ?? [];

    switch (e.groupEvent) {
      case 'created': {
        if (group?.live) return 'unchanged';
        if (superseded(group)) return 'stale';
        await create(target, gid, profile, users, e);
        await store.setGroup(gid, { live: true, ...stamp });
        await store.setMembers(gid, users, { member: true, ...stamp });
        return 'applied';
      }
      case 'dismissed': {
        if (group && !group.live) return 'unchanged';
        if (superseded(group)) return 'stale';
        await dismiss(target, gid, e);
        await store.setGroup(gid, { live: false, ...stamp });
        return 'applied';
      }
      case 'joined':
      case 'left': {
        // A membership change still pending when the group was dismissed is dropped with the group.
        if (group && !group.live) return 'stale';
        const want = e.groupEvent === 'joined';
        const todo: string[] = [];
        let stale = 0;
        for (const u of users) {
          const m = await store.member(gid, u);
          if (m?.member === want) continue;
          if (superseded(m)) stale++;
          else todo.push(u);
        }
        if (todo.length === 0) return stale > 0 ? 'stale' : 'unchanged';
        // ZIM takes at most 100 invitees and 50 kicks per call.
        const size = want ? 100 : 50;
        for (let i = 0; i < todo.length; i += size) {
          const part = todo.slice(i, i + size);
          await (want ? join : leave)(target, gid, part, e);
          await store.setMembers(gid, part, { member: want, ...stamp });
        }
        return 'applied';
      }
      case 'changed': {
        if (group && !group.live) return 'stale';
        const fields = profileFields(profile);
        if (Object.keys(fields).length === 0) return 'unchanged';
        // The agreed profile already holds it: our own write coming back (both directions), or a redelivery.
        const agreed = parseAgreed(group?.profile);
        if (holds(agreed, fields)) return 'unchanged';
        if (superseded(group)) return 'stale';
        if (target === 'zim') {
          const { name, notice, avatar } = fields;
          await zimCall('UpdateGroupData', gid, () =>
            zim.updateGroupData({
              FromUserId: e.operator ?? bot,
              GroupId: gid,
              ...(name !== undefined ? { GroupName: name } : {}),
              ...(notice !== undefined ? { GroupNotice: notice } : {}),
              ...(avatar !== undefined ? { GroupAvatar: avatar } : {}),
            })
          );
        } else {
          // ZIM-side changes come from the audit (ZIM has no profile callback); an adapter without the optional
          // profile write cannot take them.
          if (!(await profileWriteOffered())) return 'unchanged';
          await legacy.updateGroupProfile(gid, { operator: e.operator ?? bot, ...fields });
        }
        await store.setGroup(gid, { live: true, ...stamp, profile: mergeProfile(agreed, fields) });
        return 'applied';
      }
      default:
        return 'unchanged';
    }
  }

  return {
    /** One group event applied to the other side as convergent state (see the module comment). */
    async applyGroup(e: SyncEvent): Promise<GroupOutcome> {
      try {
        return await apply(e);
      } catch (err) {
        if (err instanceof ZimPermanentError) throw refused('ZIM', `code ${err.code}`);
        if (err instanceof LegacyApiError && err.permanent) throw refused('the legacy API', `HTTP ${err.status}`);
        throw err;
      }
    },
  };
}
