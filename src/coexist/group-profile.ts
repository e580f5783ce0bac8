/**
 * A group's profile (name, notice, avatar) as coexistence compares it, pure. The store keeps the profile both sides
 * were last made to agree on (`group_state.profile`, JSON; older stores hold only the fields of the last change),
 * which is what recognises our own writes coming back, and what tells the reconciliation audit on which side a
 * profile change was made (ZIM has no callback for one, so the audit is how ZIM-side changes are found;
 * docs/coexistence.md §3.1, §9).
 */
import type { Origin } from './coexist-store';

export const PROFILE_FIELDS = ['name', 'notice', 'avatar'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];
/** Fields present are known (an empty string is an unset field); absent fields are unknown or unchanged. */
export type Profile = Partial<Record<ProfileField, string>>;

/** The fields of `p` that are given, in a fixed order. */
export function profileFields(p: {
  name?: string | undefined;
  notice?: string | undefined;
  avatar?: string | undefined;
}) {
  const out: Profile = {};
  for (const f of PROFILE_FIELDS) if (p[f] !== undefined) out[f] = p[f];
  return out;
}

/** The store's agreed profile (null, or unreadable: nothing known). */
export function parseAgreed(json: string | null | undefined): Profile {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    if (typeof v !== 'object' || v === null) return {};
    const out: Profile = {};
    for (const f of PROFILE_FIELDS) {
      const x = (v as Record<string, unknown>)[f];
      if (typeof x === 'string') out[f] = x;
    }
    return out;
  } catch {
    return {};
  }
}

/** Whether the agreed profile already holds every field of a change: applying it would change nothing. */
export const holds = (agreed: Profile, change: Profile) =>
  PROFILE_FIELDS.every((f) => change[f] === undefined || agreed[f] === change[f]);

/** The agreed profile after a change, as the store keeps it. */
export const mergeProfile = (agreed: Profile, change: Profile) =>
  JSON.stringify(profileFields({ ...agreed, ...change }));

export interface ProfileAudit {
  /** The fields each side changed since both agreed: to apply to the other side as that side's change. */
  changes: { origin: Origin; fields: Profile }[];
  /** Fields that differ with no agreed value, or that both sides changed differently: not repaired. */
  ambiguous: ProfileField[];
  /** Fields both sides agree on that the store did not hold as agreed: the baseline to record (null: none). */
  agreed: Profile | null;
}

/**
 * Compares the two sides' profiles now with the agreed one, field by field. A field the legacy adapter does not
 * report (undefined) is not compared. Equal on both sides: agreed (recorded as the baseline when new). Different:
 * the side that still holds the agreed value did not change it, so the other did; with no agreed value, or neither
 * side holding it (both changed, and neither side's clock says which was later), it is ambiguous.
 */
export function compareProfile(zim: Profile, legacy: Profile, agreed: Profile): ProfileAudit {
  const out: ProfileAudit = { changes: [], ambiguous: [], agreed: null };
  const changed: Record<Origin, Profile> = { zim: {}, legacy: {} };
  const baseline: Profile = {};
  for (const f of PROFILE_FIELDS) {
    const z = zim[f] ?? '';
    const l = legacy[f];
    if (l === undefined) continue;
    if (z === l) {
      if (agreed[f] !== z) baseline[f] = z;
    } else if (agreed[f] === l) changed.zim[f] = z;
    else if (agreed[f] === z) changed.legacy[f] = l;
    else out.ambiguous.push(f);
  }
  for (const origin of ['zim', 'legacy'] as const)
    if (Object.keys(changed[origin]).length) out.changes.push({ origin, fields: changed[origin] });
  if (Object.keys(baseline).length) out.agreed = baseline;
  return out;
}
