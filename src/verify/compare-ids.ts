/**
 * Compares a list ZIM returns (a friend list, a blocklist, a group's members) with the staged one by id: what should
 * be there and is not, and what is there that nothing staged explains. `tolerated` ids may be there or not (a friend
 * who listed the user: ZIM's AddFriends may or may not add the reverse entry, zim-assumptions.md).
 */
export interface IdCheck {
  missing: string[];
  unexpected: string[];
  match: boolean;
}

export function compareIds(
  expected: Iterable<string>,
  present: Iterable<string>,
  tolerated: ReadonlySet<string> = new Set()
): IdCheck {
  const want = new Set(expected);
  const have = new Set(present);
  const missing = [...want].filter((id) => !have.has(id));
  const unexpected = [...have].filter((id) => !want.has(id) && !tolerated.has(id));
  return { missing, unexpected, match: missing.length === 0 && unexpected.length === 0 };
}

/** At most `limit` ids, comma-separated, with '…' when there are more: enough to find them, short enough to read. */
export function listIds(ids: readonly string[], limit = 20): string {
  return ids.slice(0, limit).join(',') + (ids.length > limit ? ',…' : '');
}

/** "missing 2: a,b; not expected 1: c", naming each id by `name` (e.g. the relation's source id). */
export function describeIds(check: IdCheck, name: (id: string) => string = (id) => id): string[] {
  const parts: string[] = [];
  if (check.missing.length) parts.push(`missing ${check.missing.length}: ${listIds(check.missing.map(name))}`);
  if (check.unexpected.length)
    parts.push(`not expected ${check.unexpected.length}: ${listIds(check.unexpected.map(name))}`);
  return parts;
}
