/**
 * The reconciliation audit's group comparison (docs/coexistence.md §9), pure: given a group's existence and members
 * on each side now and the state the coexistence store last saw both sides agree on, which changes a lost callback
 * or routing event left on one side only, and on which side each was made.
 *
 * A difference alone does not say which side changed: a member on ZIM only joined there, or left the legacy side.
 * The store does. A user it records as a member who is now on one side only left the other; one it records as out
 * joined the side that has them. A user it knows nothing of is ambiguous (the group predates coexistence, and the
 * change came before any audit saw both sides agree): found, not repaired, so no audit undoes a leave by guessing.
 * To keep that rare, what both sides agree on is recorded as the baseline (`agreed`), which later audits decide by.
 * The same for the group itself: live in the store and gone from one side is a dismissal there; unknown to the
 * store and on one side only is a creation there when the group is newer than the window's start, else ambiguous.
 */
import type { Origin } from './coexist-store';

/** A group as one side has it now (null: that side has no such group). */
export interface GroupSide {
  owner: string;
  members: string[];
  name?: string;
  /** When it was created on that side (ms), when the side says. */
  createdAt?: number;
}

/** What the store last saw both sides agree on (null group: never seen; a member absent from the map: never seen). */
export interface AgreedGroup {
  live: boolean | null;
  members: ReadonlyMap<string, boolean>;
}

/** A change found on `origin` only, to hand to the conversation as that side's event. */
export type GroupRepair =
  | { change: 'created'; origin: Origin; owner: string; users: string[]; name?: string; createdAt: number }
  | { change: 'dismissed'; origin: Origin }
  | { change: 'joined' | 'left'; origin: Origin; users: string[] };

/** A difference the store cannot attribute to a side (recorded for an operator, not repaired). */
export interface GroupAmbiguity {
  /** `members` for users, `group` for the group's existence. */
  about: 'members' | 'group';
  /** The side that has it. */
  has: Origin;
  users: string[];
}

export interface GroupAudit {
  repairs: GroupRepair[];
  ambiguous: GroupAmbiguity[];
  /** Members both sides have that the store did not record as such: the baseline to record. */
  agreed: string[];
  /** Both sides have the group and the store has no live record of it: record it as live. */
  agreedLive: boolean;
}

const other = (o: Origin): Origin => (o === 'zim' ? 'legacy' : 'zim');

export function compareGroup(
  zim: GroupSide | null,
  legacy: GroupSide | null,
  store: AgreedGroup,
  /** The audit window's start (ms): a group created since, unknown to the store, was created on the side it is on. */
  since: number
): GroupAudit {
  const out: GroupAudit = { repairs: [], ambiguous: [], agreed: [], agreedLive: false };
  if (zim === null && legacy === null) return out;
  if (zim === null || legacy === null) {
    const has: Origin = zim ? 'zim' : 'legacy';
    const side = (zim ?? legacy)!;
    // Agreed live, gone from one side: dismissed there (ZIM and the contract both make dismissal final).
    if (store.live === true) out.repairs.push({ change: 'dismissed', origin: other(has) });
    else if (store.live === null && side.createdAt !== undefined && side.createdAt >= since)
      out.repairs.push({
        change: 'created',
        origin: has,
        owner: side.owner,
        users: unique([side.owner, ...side.members]),
        ...(side.name !== undefined ? { name: side.name } : {}),
        createdAt: side.createdAt,
      });
    // Dismissed by the sync and alive on one side, or too old to tell a lost creation from a lost dismissal.
    else out.ambiguous.push({ about: 'group', has, users: [] });
    return out;
  }
  if (store.live === null) out.agreedLive = true;
  const onZim = new Set([zim.owner, ...zim.members]);
  const onLegacy = new Set([legacy.owner, ...legacy.members]);
  const left = { zim: [] as string[], legacy: [] as string[] };
  const joined = { zim: [] as string[], legacy: [] as string[] };
  const unknown = { zim: [] as string[], legacy: [] as string[] };
  for (const u of [...new Set([...onZim, ...onLegacy])].sort()) {
    const known = store.members.get(u);
    if (onZim.has(u) && onLegacy.has(u)) {
      if (known !== true) out.agreed.push(u);
      continue;
    }
    const has: Origin = onZim.has(u) ? 'zim' : 'legacy';
    if (known === true) left[other(has)].push(u);
    else if (known === false) joined[has].push(u);
    else unknown[has].push(u);
  }
  for (const origin of ['zim', 'legacy'] as const) {
    if (joined[origin].length) out.repairs.push({ change: 'joined', origin, users: joined[origin] });
    if (left[origin].length) out.repairs.push({ change: 'left', origin, users: left[origin] });
    if (unknown[origin].length) out.ambiguous.push({ about: 'members', has: origin, users: unknown[origin] });
  }
  return out;
}

const unique = (ids: string[]) => [...new Set(ids)];
