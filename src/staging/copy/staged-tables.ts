/**
 * What `staging copy` moves: every table a migration reads or writes, with the same name and columns on both
 * engines, in key order. The page index and ledger counts are not copied: each engine derives them from these rows.
 * The validation tables (raw_*, apps, files) stay in the SQLite file `plan` built: only `plan` reads them.
 */
import { STAGED_COLUMNS } from '../sqlite/load-writer';

export interface StagedTable {
  name: string;
  columns: readonly string[];
  /** The primary key: the order rows are read and compared in. */
  key: readonly string[];
}

export const STAGED_TABLES: readonly StagedTable[] = [
  { name: 'meta', columns: ['key', 'value'], key: ['key'] },
  {
    name: 'users',
    columns: ['id', 'nickname', 'avatar_url', 'extended_data', 'created_at', 'deactivated', 'apps'],
    key: ['id'],
  },
  {
    name: 'groups',
    columns: [
      'id',
      'source_id',
      'app',
      'name',
      'owner',
      'avatar_url',
      'notice',
      'attributes',
      'created_at',
      'member_count',
      'message_count',
      'first_msg',
      'muted',
    ],
    key: ['id'],
  },
  { name: 'friends', columns: ['user', 'friend', 'alias', 'wording', 'attributes', 'since'], key: ['user', 'friend'] },
  { name: 'blocks', columns: ['user', 'blocked', 'since'], key: ['user', 'blocked'] },
  { name: 'group_members', columns: ['grp', 'user', 'role', 'nickname', 'joined_at'], key: ['grp', 'user'] },
  // Messages are staged as loaded (load-writer.ts), plus the id SQLite gave each row.
  { name: 'peer_messages', columns: ['id', ...STAGED_COLUMNS.peer_messages.columns], key: ['id'] },
  { name: 'group_messages', columns: ['id', ...STAGED_COLUMNS.group_messages.columns], key: ['id'] },
  { name: 'peer_copies', columns: ['id', 'owner', 'peer', 'msg'], key: ['id'] },
  { name: 'owners', columns: ['user', 'first', 'n', 'peers'], key: ['user'] },
  { name: 'group_seq', columns: ['id', 'grp', 'msg'], key: ['id'] },
  { name: 'read_states', columns: ['id', 'user', 'kind', 'conv', 'msg'], key: ['id'] },
  // Outcomes only: leases belong to attempts running now, and a copy is made while no worker runs.
  {
    name: 'ledger',
    columns: ['stage', 'key', 'status', 'zim_code', 'zim_message', 'msg_id', 'msg_seq', 'at'],
    key: ['stage', 'key'],
  },
  // Catch-up rounds (src/staging/sqlite/stage-round.ts): a staging that has none copies them as empty.
  {
    name: 'zm_rounds',
    columns: [
      'round',
      'export_dir',
      'kind',
      'since_ms',
      'until_ms',
      'state',
      'staged_at',
      'started_at',
      'finished_at',
      'changes',
      'eta_seconds',
      'first_peer_msg',
      'first_group_msg',
    ],
    key: ['round'],
  },
  {
    name: 'zm_round_ops',
    columns: ['round', 'op', 'page', 'target', 'key', 'data'],
    key: ['round', 'op', 'page', 'target', 'key'],
  },
  { name: 'zm_round_items', columns: ['round', 'stage', 'id', 'planned', 'start'], key: ['round', 'stage', 'id'] },
  { name: 'zm_round_late', columns: ['round', 'src', 'conversation', 'sent', 'newest'], key: ['round', 'src'] },
];

/** What a round's snapshot of a PostgreSQL staging holds: the staged records, not the ledger or the rounds. */
export const SNAPSHOT_TABLES: readonly StagedTable[] = STAGED_TABLES.filter(
  (t) => t.name !== 'ledger' && !t.name.startsWith('zm_round')
);

/** A column list with every name quoted ("user" is reserved in PostgreSQL). */
export const quotedColumns = (columns: readonly string[]) => columns.map((c) => `"${c}"`).join(', ');
