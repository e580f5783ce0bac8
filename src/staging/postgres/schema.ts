/**
 * The staging schema in PostgreSQL (component `staging` of zm_schema_version): the read tables a migration pages
 * through, the page index, the ledger with its leases and per-stage counts, and the migration's small table. One
 * PostgreSQL schema holds one staged migration (named by the URL's `?schema=`, default `public`), so the table names
 * are SQLite's and `staging copy` moves rows table for table.
 *
 * Every text column compares bytewise (COLLATE "C"): SQLite orders TEXT by its bytes, and the read orders, cursors
 * and page starts must be the same on both engines. Times are epoch ms (bigint) as in SQLite, except lease ends,
 * which are the database's own clock (timestamptz from clock_timestamp()), so machines whose clocks disagree still
 * agree on whose lease is live.
 */
import type { SchemaStep } from '../../postgres/schema-migrations';
import { PAGE_SIZE } from '../page-sizes';

export const STAGING_COMPONENT = 'staging';

const t = 'text COLLATE "C"';

export const STAGING_SCHEMA: readonly SchemaStep[] = [
  {
    version: 1,
    name: 'read tables, page index, ledger with leases and counts, migration meta',
    sql: `
      CREATE TABLE meta (key ${t} PRIMARY KEY, value text NOT NULL);
      CREATE TABLE users (id ${t} PRIMARY KEY, nickname text, avatar_url text, extended_data text, created_at bigint,
        deactivated integer NOT NULL, apps text NOT NULL);
      CREATE TABLE groups (id ${t} PRIMARY KEY, source_id text NOT NULL, app text NOT NULL, name text,
        owner ${t} NOT NULL, avatar_url text, notice text, attributes text, created_at bigint,
        member_count bigint NOT NULL DEFAULT 0, message_count bigint NOT NULL DEFAULT 0, first_msg bigint);
      CREATE TABLE friends ("user" ${t} NOT NULL, friend ${t} NOT NULL, alias text, wording text, attributes text,
        since bigint, PRIMARY KEY ("user", friend));
      CREATE INDEX friends_by_friend ON friends (friend, "user");
      CREATE TABLE blocks ("user" ${t} NOT NULL, blocked ${t} NOT NULL, since bigint, PRIMARY KEY ("user", blocked));
      CREATE TABLE group_members (grp ${t} NOT NULL, "user" ${t} NOT NULL, role text NOT NULL, nickname text,
        joined_at bigint, PRIMARY KEY (grp, "user"));
      -- Message bodies, every column SQLite has (a copy back to SQLite is a whole staging file again).
      CREATE TABLE peer_messages (id bigint PRIMARY KEY, app bigint NOT NULL, src text NOT NULL, f ${t} NOT NULL,
        t ${t} NOT NULL, sent bigint NOT NULL, type bigint NOT NULL, sub_type bigint NOT NULL, body text NOT NULL,
        searched text, del_f bigint NOT NULL, del_t bigint NOT NULL, file bigint NOT NULL, line bigint NOT NULL,
        status bigint NOT NULL, content text);
      CREATE TABLE group_messages (id bigint PRIMARY KEY, app bigint NOT NULL, src text NOT NULL, grp ${t} NOT NULL,
        f ${t} NOT NULL, sent bigint NOT NULL, type bigint NOT NULL, sub_type bigint NOT NULL, body text NOT NULL,
        searched text, file bigint NOT NULL, line bigint NOT NULL, status bigint NOT NULL);
      -- The read orders: an owner's copies are ids first .. first + n - 1 (seq = id - owners.first), a group's
      -- messages ids first_msg .. (seq = id - groups.first_msg), as plan numbered them.
      CREATE TABLE peer_copies (id bigint PRIMARY KEY, owner ${t} NOT NULL, peer ${t} NOT NULL, msg bigint NOT NULL);
      CREATE TABLE owners ("user" ${t} PRIMARY KEY, first bigint NOT NULL, n bigint NOT NULL, peers bigint NOT NULL);
      CREATE TABLE group_seq (id bigint PRIMARY KEY, grp ${t} NOT NULL, msg bigint NOT NULL);
      -- Where each numbered page of a page stage starts (SQLite: call-batches.ts), built after a copy.
      CREATE TABLE zm_call_batches (kind text NOT NULL, batch bigint NOT NULL, owner ${t}, first_key ${t} NOT NULL,
        PRIMARY KEY (kind, batch));
      CREATE TABLE zm_meta (key text PRIMARY KEY, value text NOT NULL);

      CREATE TABLE ledger (stage ${t} NOT NULL, key ${t} NOT NULL, status text NOT NULL, zim_code bigint,
        zim_message text, msg_id text, msg_seq bigint, at bigint NOT NULL, lease_token text,
        lease_until timestamptz, PRIMARY KEY (stage, key));
      -- Entries per stage and status, kept by a trigger in the ledger write's own transaction: progress reads a few
      -- rows instead of counting the ledger.
      CREATE TABLE zm_ledger_counts (stage text NOT NULL, status text NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (stage, status));
      CREATE FUNCTION zm_ledger_count() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          IF old.status = new.status THEN RETURN NULL; END IF;
          UPDATE zm_ledger_counts SET n = n - 1 WHERE stage = old.stage AND status = old.status;
        END IF;
        INSERT INTO zm_ledger_counts (stage, status, n) VALUES (new.stage, new.status, 1)
          ON CONFLICT (stage, status) DO UPDATE SET n = zm_ledger_counts.n + 1;
        RETURN NULL;
      END $$;
      CREATE TRIGGER zm_ledger_counted AFTER INSERT OR UPDATE OF status ON ledger
        FOR EACH ROW EXECUTE FUNCTION zm_ledger_count();`,
  },
  {
    version: 2,
    name: 'groups.muted: MuteGroup after the history of a frozen source channel',
    sql: `ALTER TABLE groups ADD COLUMN IF NOT EXISTS muted integer NOT NULL DEFAULT 0;`,
  },
  {
    version: 3,
    name: 'read_states: read positions marked with ClearConversationUnread after the history',
    sql: `CREATE TABLE IF NOT EXISTS read_states (id bigint PRIMARY KEY, "user" ${t} NOT NULL, kind text NOT NULL,
      conv ${t} NOT NULL, msg text NOT NULL);`,
  },
  {
    version: 4,
    name: 'catch-up rounds: the round, its op pages, fan-out items and late messages (SQLite: stage-round.ts)',
    sql: `
      CREATE TABLE IF NOT EXISTS zm_rounds (round bigint PRIMARY KEY, export_dir text NOT NULL, kind text NOT NULL,
        since_ms bigint, until_ms bigint, state text NOT NULL, staged_at bigint NOT NULL, started_at bigint,
        finished_at bigint, changes text NOT NULL, eta_seconds bigint NOT NULL, first_peer_msg bigint NOT NULL,
        first_group_msg bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS zm_round_ops (round bigint NOT NULL, op ${t} NOT NULL, page bigint NOT NULL,
        target ${t} NOT NULL, key ${t} NOT NULL, data text NOT NULL, PRIMARY KEY (round, op, page, target, key));
      CREATE TABLE IF NOT EXISTS zm_round_items (round bigint NOT NULL, stage ${t} NOT NULL, id ${t} NOT NULL,
        planned bigint NOT NULL, start bigint NOT NULL DEFAULT 0, PRIMARY KEY (round, stage, id));
      CREATE TABLE IF NOT EXISTS zm_round_late (round bigint NOT NULL, src ${t} NOT NULL, conversation text NOT NULL,
        sent bigint NOT NULL, newest bigint NOT NULL, PRIMARY KEY (round, src));`,
  },
];

/** The page index from the read tables: SQLite's call-batches.ts, statement for statement. */
export const BUILD_PAGE_INDEX = `
DELETE FROM zm_call_batches;
INSERT INTO zm_call_batches (kind, batch, owner, first_key)
  SELECT 'users', (rn - 1) / ${PAGE_SIZE.accounts}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users) r WHERE (rn - 1) % ${PAGE_SIZE.accounts} = 0;
INSERT INTO zm_call_batches (kind, batch, owner, first_key)
  SELECT 'profiles', (rn - 1) / ${PAGE_SIZE.profiles}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users WHERE extended_data IS NOT NULL) r
  WHERE (rn - 1) % ${PAGE_SIZE.profiles} = 0;
INSERT INTO zm_call_batches (kind, batch, owner, first_key)
  SELECT 'friends', row_number() OVER (ORDER BY "user", friend) - 1, "user", friend
  FROM (SELECT "user", friend, row_number() OVER (PARTITION BY "user" ORDER BY friend) AS rn FROM friends) r
  WHERE (rn - 1) % ${PAGE_SIZE.friends} = 0;
INSERT INTO zm_call_batches (kind, batch, owner, first_key)
  SELECT 'blocks', row_number() OVER (ORDER BY "user", blocked) - 1, "user", blocked
  FROM (SELECT "user", blocked, row_number() OVER (PARTITION BY "user" ORDER BY blocked) AS rn FROM blocks) r
  WHERE (rn - 1) % ${PAGE_SIZE.blocks} = 0;
INSERT INTO zm_call_batches (kind, batch, owner, first_key)
  SELECT 'verify-owners', (rn - 1) / ${PAGE_SIZE.verify}, NULL, "user"
  FROM (SELECT "user", row_number() OVER (ORDER BY "user") AS rn FROM owners) r WHERE (rn - 1) % ${PAGE_SIZE.verify} = 0;
INSERT INTO zm_call_batches (kind, batch, owner, first_key)
  SELECT 'verify-groups', (rn - 1) / ${PAGE_SIZE.verify}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM groups) r WHERE (rn - 1) % ${PAGE_SIZE.verify} = 0;`;

/** The ledger counts from the ledger itself (after a copy). */
export const RECOUNT_LEDGER = `
DELETE FROM zm_ledger_counts;
INSERT INTO zm_ledger_counts (stage, status, n) SELECT stage, status, count(*) FROM ledger GROUP BY stage, status;`;
