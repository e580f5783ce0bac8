/**
 * What a catch-up round adds to each stage's plan, in the ledger's units (issue #13): the ledger holds one row per
 * key (ledger-keys.ts), and a round marks what it lands under the migration's own keys (activities/round-ops.ts,
 * group-setup.ts, group-mute.ts) and re-checks the whole final state under verify's keys, so a key marked before (a
 * profile changed again, a friendship ended and begun again, a conversation verified again) adds no row. `report`
 * plans each stage with the migration's counts plus these, and so accounts for every ledger row.
 *
 * A round is staged only once the migration and every earlier round finished (src/catch-up/stage-round.ts, the
 * catch-up command), so every key planned before is in the ledger: the round's new keys are its keys the ledger
 * does not hold. Counted at staging, after its work is written and the staged records replaced, in the staging's
 * own transaction: the same SQL on both engines.
 */
import { STAGES, type Stage } from '../shared/stages';

export type RoundPlanned = Record<Stage, number>;

/** A text field of a JSON text column, in each engine's syntax (null when absent or JSON null). */
const JSON_TEXT = {
  sqlite: (col: string, field: string) => `json_extract(${col}, '$.${field}')`,
  postgres: (col: string, field: string) => `(${col}::json ->> '${field}')`,
};

/**
 * Rows (stage, n): per stage, the round's keys the ledger does not hold yet, and its new messages (new source ids,
 * so new keys: zm_round_items plans them per owner and group).
 */
export function roundPlannedSql(engine: keyof typeof JSON_TEXT, round: number): string {
  const r = Number(round);
  if (!Number.isSafeInteger(r)) throw new Error(`not a round number: ${round}`);
  const json = JSON_TEXT[engine];
  const ops = (op: string) => `FROM zm_round_ops WHERE round = ${r} AND op = '${op}'`;
  const newGroups = `grp IN (SELECT id FROM zm_round_items WHERE round = ${r} AND stage = 'groups')`;
  return `
    SELECT stage, count(*) AS n FROM (
      SELECT 'accounts' AS stage, key AS key ${ops('register')}
      UNION SELECT 'profiles', key ${ops('profile')} AND ${json('data', 'Extra')} IS NOT NULL
      UNION SELECT 'friends', target || '/' || key ${ops('friend')}
      UNION SELECT 'blocks', target || '/' || key ${ops('block')}
      UNION SELECT 'groups', target || '/' || key ${ops('invite')}
      UNION SELECT 'groups', 'role/' || target || '/' || key ${ops('role')}
      UNION SELECT 'groups', 'nickname/' || target || '/' || key ${ops('nickname')}
        AND ${json('data', 'nickname')} <> ''
      -- New groups, set up as the groups stage does: memberships, admin roles, nicknames.
      UNION SELECT 'groups', grp || '/' || "user" FROM group_members WHERE ${newGroups}
      UNION SELECT 'groups', 'role/' || grp || '/' || "user" FROM group_members WHERE role = 'admin' AND ${newGroups}
      UNION SELECT 'groups', 'nickname/' || grp || '/' || "user" FROM group_members
        WHERE nickname IS NOT NULL AND nickname <> '' AND ${newGroups}
      -- A muted group's new history ends with MuteGroup.
      UNION SELECT 'group-messages', 'mute/' || id FROM groups WHERE muted = 1
        AND id IN (SELECT id FROM zm_round_items WHERE round = ${r} AND stage = 'group-messages')
      -- Verify checks the whole final state (verify.ts, verify-users.ts): one key a check.
      UNION SELECT 'verify', 'peer/' || owner || '/' || peer FROM (SELECT DISTINCT owner, peer FROM peer_copies) c
      UNION SELECT 'verify', 'group/' || id FROM groups
      UNION SELECT 'verify', 'members/' || id FROM groups
      UNION SELECT 'verify', 'muted/' || id FROM groups WHERE muted = 1
      UNION SELECT 'verify', 'profile/' || id FROM users
      UNION SELECT 'verify', 'friends/' || "user" FROM friends
      UNION SELECT 'verify', 'friends/' || friend FROM friends
      UNION SELECT 'verify', 'blocks/' || "user" FROM blocks
    ) k
    WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.stage = k.stage AND l.key = k.key)
    GROUP BY stage
    UNION ALL SELECT stage, sum(planned) FROM zm_round_items
      WHERE round = ${r} AND stage IN ('peer-messages', 'group-messages') GROUP BY stage`;
}

/** The rows of roundPlannedSql as a plan per stage (drivers return bigint sums as strings). */
export function roundPlannedOf(rows: Record<string, unknown>[]): RoundPlanned {
  const planned = Object.fromEntries(STAGES.map((s) => [s, 0])) as RoundPlanned;
  for (const { stage, n } of rows) planned[stage as Stage] += Number(n);
  return planned;
}
