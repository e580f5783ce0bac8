/**
 * The coexistence store in PostgreSQL, shared by receivers and workers on several machines: the SQLite store's
 * tables and statements (coexist-store.ts) one for one, so either engine behaves the same. Tables are prefixed
 * `zm_coexist_` (component `coexist` of zm_schema_version), so they sit beside a staging ledger or a call schedule
 * in the same database and schema without clashing. The URL is staging's form: `?schema=NAME` (default `public`);
 * password and TLS from the environment (src/postgres/database-settings.ts), never printed.
 *
 * Every decision between racing writers is one statement (INSERT … ON CONFLICT … WHERE, UPDATE … WHERE): the row
 * lock decides, never a read followed by a write (the body prune's statement also runs behind a lock on the parked
 * table, as the parked rows it reads are no rows it locks: pruneBodies). Times are the writing process's clock, as in
 * SQLite (the lease values are compared, never aged, here).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { applySchema, type SchemaStep } from '../postgres/schema-migrations';
import { ensureSchema, openStagingDatabase } from '../staging/postgres/staging-database';
import { SyncEventSchema } from './sync-event';
import { KEEP_BODY_EVERY_MS } from './body-use';
import { usersOf, WrittenKeys } from './store-keys';
import {
  BODY_PRUNE_MOST,
  bodiesUnusedMs,
  bodyPruner,
  ECHO_PRUNE_MOST,
  echoPruner,
  parkedBodyUse,
  PUT_FOR_NONE,
  type CoexistStore,
  type DivergenceRecord,
  type EchoSettler,
  type MemberRecord,
  type MirrorRecord,
  type MirrorState,
  type Origin,
  type ParkedRecord,
} from './coexist-store';

export const COEXIST_COMPONENT = 'coexist';

/** Text compares bytewise, as SQLite's does: lists come back in the same order from both engines. */
const t = 'text COLLATE "C"';

export const COEXIST_SCHEMA: readonly SchemaStep[] = [
  {
    version: 1,
    name: 'coexistence store: ref key, bodies, mirror ledger with send lease, group state, parked, divergences',
    // Bodies are bytes (UTF-8): text cannot hold a NUL, which a message may.
    sql: `
      CREATE TABLE zm_coexist_meta (name ${t} PRIMARY KEY, value bytea NOT NULL);
      CREATE TABLE zm_coexist_bodies (ref ${t} PRIMARY KEY, body bytea NOT NULL);
      CREATE TABLE zm_coexist_mirrored (origin ${t} NOT NULL, origin_id ${t} NOT NULL, conv ${t} NOT NULL,
        state text NOT NULL, target_id text, attempts integer NOT NULL DEFAULT 0, intent_at bigint,
        updated_at bigint NOT NULL, sending_at bigint, sent_by text, PRIMARY KEY (origin, origin_id));
      CREATE TABLE zm_coexist_group_state (group_id ${t} PRIMARY KEY, live boolean NOT NULL, origin text NOT NULL,
        changed_at bigint NOT NULL, profile text);
      CREATE TABLE zm_coexist_group_members (group_id ${t} NOT NULL, user_id ${t} NOT NULL, member boolean NOT NULL,
        origin text NOT NULL, changed_at bigint NOT NULL, PRIMARY KEY (group_id, user_id));
      CREATE TABLE zm_coexist_parked (event_key ${t} PRIMARY KEY, conv ${t} NOT NULL, origin text NOT NULL,
        subject text NOT NULL, reason text NOT NULL, action text NOT NULL, parked_at bigint NOT NULL, event text);
      CREATE TABLE zm_coexist_divergences (conv ${t} NOT NULL, origin ${t} NOT NULL, msg_id ${t} NOT NULL,
        kind text NOT NULL, at bigint NOT NULL, found_at bigint NOT NULL, repaired_at bigint, repair text,
        PRIMARY KEY (conv, origin, msg_id));`,
  },
  {
    version: 2,
    name: 'coexistence store: messages left on their side by policy (not_mirrored)',
    sql: `
      CREATE TABLE zm_coexist_not_mirrored (origin ${t} NOT NULL, origin_id ${t} NOT NULL, conv ${t} NOT NULL,
        reason text NOT NULL, at bigint NOT NULL, PRIMARY KEY (origin, origin_id));`,
  },
  {
    version: 3,
    name: 'coexistence store: the keys the audit pages through (known conversations and users), filled from the rows',
    // The users of a one-to-one key as parseConversation (src/coexist/audit.ts) reads `peer:<a>:<b>`.
    sql: `
      CREATE TABLE zm_coexist_known_conversations (conv ${t} PRIMARY KEY);
      CREATE TABLE zm_coexist_known_users (user_id ${t} PRIMARY KEY);
      INSERT INTO zm_coexist_known_conversations SELECT conv FROM zm_coexist_mirrored
        UNION SELECT 'group:' || group_id FROM zm_coexist_group_state UNION SELECT conv FROM zm_coexist_parked
        UNION SELECT conv FROM zm_coexist_divergences;
      INSERT INTO zm_coexist_known_users SELECT user_id FROM zm_coexist_group_members
        UNION SELECT unnest(regexp_match(conv, '^peer:([^:]+):([^:]+)$')) FROM zm_coexist_known_conversations;`,
  },
  {
    version: 4,
    name: 'coexistence store: the echoes the receivers saw, by event key, and who settled each (receiver, workflow)',
    sql: `
      CREATE TABLE zm_coexist_echoes (event_key ${t} PRIMARY KEY, conv ${t} NOT NULL, sync ${t} NOT NULL,
        settled_by text NOT NULL, at bigint NOT NULL);
      CREATE INDEX zm_coexist_echoes_by_settler ON zm_coexist_echoes (sync, settled_by);`,
  },
  {
    version: 5,
    name: 'coexistence store: echo records pruned after a day, their counts kept per sync and settler',
    sql: `
      CREATE INDEX zm_coexist_echoes_by_time ON zm_coexist_echoes (at);
      CREATE TABLE zm_coexist_echo_counts (sync ${t} NOT NULL, settled_by text NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (sync, settled_by));`,
  },
  {
    version: 6,
    name: 'coexistence store: bodies pruned a day after every message they were put for is settled',
    // Rows from before have no time (null): kept for good, nothing tells which messages still carry them. The index
    // leaves them out, so building it on a large table writes nothing for them.
    sql: `
      ALTER TABLE zm_coexist_bodies ADD COLUMN at bigint;
      CREATE INDEX zm_coexist_bodies_by_time ON zm_coexist_bodies (at) WHERE at IS NOT NULL;
      CREATE TABLE zm_coexist_body_uses (ref ${t} NOT NULL, origin ${t} NOT NULL, origin_id ${t} NOT NULL,
        settled_at bigint, PRIMARY KEY (ref, origin, origin_id));
      CREATE INDEX zm_coexist_body_uses_by_message ON zm_coexist_body_uses (origin, origin_id);`,
  },
  {
    version: 7,
    name: 'coexistence store: bodies forgotten once unused for a bound unless a parked event names them',
    // Bodies from before step 6 (no time, kept for good until now) are dated now (the server's clock, once) and put
    // for none (PUT_FOR_NONE): they go once unused for the bound, unless a parked event names them. A parked event's
    // body is named from its event.
    sql: `
      ALTER TABLE zm_coexist_bodies ADD COLUMN used_at bigint;
      INSERT INTO zm_coexist_body_uses (ref, origin, origin_id) SELECT ref, '', '' FROM zm_coexist_bodies WHERE at IS NULL
        ON CONFLICT DO NOTHING;
      UPDATE zm_coexist_bodies SET at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint WHERE at IS NULL;
      ALTER TABLE zm_coexist_parked ADD COLUMN body_ref ${t};
      UPDATE zm_coexist_parked SET body_ref = event::json->>'bodyRef' WHERE event IS NOT NULL;
      CREATE INDEX zm_coexist_parked_by_body ON zm_coexist_parked (body_ref) WHERE body_ref IS NOT NULL;`,
  },
];

type Row = Record<string, unknown>;

/**
 * Opens (creating on first use) the store at a `postgres://` URL. Two processes opening a fresh database at once
 * apply the schema once (applySchema's lock) and agree on one ref key (the first INSERT wins, both read it back).
 */
export async function openPostgresCoexistStore(
  url: string,
  env: NodeJS.ProcessEnv = process.env
): Promise<CoexistStore> {
  const unusedMs = bodiesUnusedMs(env);
  const { db, schema } = openStagingDatabase(url, env);
  // Not chained to the driver's error (`cause`): it may carry connection settings.
  const fail = (err: unknown): never => {
    throw new Error(`coexistence store ${db.describe(err)}`);
  };
  const q = async (text: string, values: unknown[] = []): Promise<pg.QueryResult<Row>> =>
    db.pool.query<Row>(text, values).catch(fail);
  let refKey: Buffer;
  try {
    // Only when missing: creating a schema needs a privilege on the database a role may rightly lack.
    const exists = await db.pool.query<{ ok: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS ok', [schema]);
    if (exists.rows[0]?.ok !== true) await ensureSchema(db, schema);
    await applySchema(db.pool, COEXIST_COMPONENT, COEXIST_SCHEMA);
    // The key body references are made with (see coexist-store.ts): one per database, whoever opens it first.
    await db.pool.query(`INSERT INTO zm_coexist_meta (name, value) VALUES ('ref-key', $1) ON CONFLICT DO NOTHING`, [
      randomBytes(32),
    ]);
    const { rows } = await db.pool.query<{ value: Buffer }>(`SELECT value FROM zm_coexist_meta WHERE name = 'ref-key'`);
    refKey = rows[0]!.value;
  } catch (err) {
    await db.close();
    // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
    throw new Error(
      `coexistence store ${db.describe(err)} (check the URL, that the server is reachable from here, and ` +
        'ZIM_MIGRATE_DATABASE_PASSWORD[_FILE] and ZIM_MIGRATE_DATABASE_TLS for it)'
    );
  }
  const select = async (origin: Origin, originId: string) =>
    (await q('SELECT * FROM zm_coexist_mirrored WHERE origin = $1 AND origin_id = $2', [origin, originId])).rows[0];

  const written = new WrittenKeys();
  /** Adds the conversation and its users to the key tables, once per process (before its row: never missing). */
  async function noteConv(conv: string): Promise<void> {
    if (written.has(`c:${conv}`)) return;
    await q(
      `WITH c AS (INSERT INTO zm_coexist_known_conversations (conv) VALUES ($1) ON CONFLICT DO NOTHING)
       INSERT INTO zm_coexist_known_users (user_id) SELECT unnest($2::text[]) ON CONFLICT DO NOTHING`,
      [conv, usersOf(conv)]
    );
    written.add(`c:${conv}`);
  }
  async function noteUsers(userIds: readonly string[]): Promise<void> {
    const fresh = [...new Set(userIds)].filter((u) => !written.has(`u:${u}`));
    if (fresh.length === 0) return;
    await q('INSERT INTO zm_coexist_known_users (user_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [fresh]);
    for (const u of fresh) written.add(`u:${u}`);
  }
  /** A page of a key table's `column` in key order after `after`. */
  async function keysAfter(table: string, column: string, after: string | undefined, limit: number) {
    const { rows } =
      after === undefined
        ? await q(`SELECT ${column} AS k FROM ${table} ORDER BY ${column} LIMIT $1`, [limit])
        : await q(`SELECT ${column} AS k FROM ${table} WHERE ${column} > $1 ORDER BY ${column} LIMIT $2`, [
            after,
            limit,
          ]);
    return rows.map((r) => r.k as string);
  }
  // One statement: the counts of what it forgets move to zm_coexist_echo_counts as it forgets it (receivers on
  // several machines may prune at once; a row is deleted, and counted, once).
  const pruneEchoes = async (before: number, most = ECHO_PRUNE_MOST) => {
    const r = await q(
      // The keys as an array (`= ANY`): an index probe each. `IN (subquery)` was planned as a hash join over a
      // sequential scan of the whole table, whose cost grows with the table (one EXPLAIN ANALYZE, no script kept: 137 ms at
      // 400,000 rows against 47 ms).
      `WITH doomed AS (SELECT coalesce(array_agg(event_key), '{}') AS keys FROM (
           SELECT event_key FROM zm_coexist_echoes WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED) x),
       gone AS (DELETE FROM zm_coexist_echoes WHERE event_key = ANY ((SELECT keys FROM doomed)::text[])
         RETURNING sync, settled_by),
       kept AS (INSERT INTO zm_coexist_echo_counts AS c (sync, settled_by, n)
         SELECT sync, settled_by, count(*) FROM gone GROUP BY sync, settled_by
         ON CONFLICT (sync, settled_by) DO UPDATE SET n = c.n + excluded.n)
       SELECT count(*)::int AS n FROM gone`,
      [before, most]
    );
    return Number(r.rows[0]!.n);
  };
  const echoWritten = echoPruner(pruneEchoes);
  // One statement (after a lock, below), as SQLite's transaction: the oldest bodies last put before the time, locked
  // (a racing put waits, or is skipped), each forgotten with its uses unless a parked event names it, or it was used
  // since before `unused` ($4) and some message it was put for is not settled since before then (by settleBodies, or
  // its ledger row SENT; a use with no ledger row yet is open, as is PUT_FOR_NONE's); else dated now (its use time
  // kept): looked at again a retention later. A put that dated a row anew after this statement began takes it out (`at` is checked again on
  // the row this one locks). Every step is an index probe per body (the lateral lookups, `= ANY` of the refs): a join
  // the planner may hash would read the whole tables, which grow for weeks (so would an EXISTS in the select list,
  // which PostgreSQL 18 ran as a hashed subplan over the whole uses table).
  // The lock: SHARE on the parked table, in the statement's transaction, so its snapshot holds every park committed
  // before it and a park (or unpark) waits until the prune commits. Without it a park committed while the statement
  // ran went unseen, and its body, unused for the bound, was forgotten under it (test/integration/
  // coexist-park-prune-race.test.ts). Parks are rare and prunes short (tens of ms): the wait costs nothing that counts.
  const pruneBodies = async (before: number, most = BODY_PRUNE_MOST, unused = Date.now() - unusedMs) => {
    const client = await db.pool.connect().catch(fail);
    const cq = async (text: string, values: unknown[] = []) => client.query<Row>(text, values).catch(fail);
    try {
      await cq('BEGIN');
      await cq('LOCK TABLE zm_coexist_parked IN SHARE MODE');
      const r = await cq(
        `WITH judged AS (
           SELECT b.ref, pk.parked IS NOT NULL OR (coalesce(b.used_at, b.at) >= $4 AND o.open IS NOT NULL) AS open
           FROM zm_coexist_bodies b
             LEFT JOIN LATERAL (SELECT true AS parked FROM zm_coexist_parked p WHERE p.body_ref = b.ref LIMIT 1) pk ON true
             LEFT JOIN LATERAL (SELECT true AS open FROM zm_coexist_body_uses u
                 LEFT JOIN zm_coexist_mirrored m ON m.origin = u.origin AND m.origin_id = u.origin_id
               WHERE u.ref = b.ref AND (u.settled_at IS NULL OR u.settled_at >= $1)
                 AND (m.state IS DISTINCT FROM 'SENT' OR m.updated_at >= $1) LIMIT 1) o ON true
           WHERE b.at < $1 ORDER BY b.at LIMIT $2 FOR UPDATE OF b SKIP LOCKED),
         refs AS (SELECT coalesce(array_agg(ref) FILTER (WHERE NOT open), '{}') AS gone,
             coalesce(array_agg(ref) FILTER (WHERE open), '{}') AS kept FROM judged),
         gone AS (DELETE FROM zm_coexist_bodies WHERE ref = ANY ((SELECT gone FROM refs)::text[]) RETURNING ref),
         uses AS (DELETE FROM zm_coexist_body_uses WHERE ref = ANY ((SELECT gone FROM refs)::text[])),
         deferred AS (UPDATE zm_coexist_bodies SET used_at = coalesce(used_at, at), at = $3
           WHERE ref = ANY ((SELECT kept FROM refs)::text[]))
         SELECT count(*)::int AS n FROM gone`,
        [before, most, Date.now(), unused]
      );
      await cq('COMMIT');
      client.release();
      return Number(r.rows[0]!.n);
    } catch (err) {
      // A connection that cannot roll back is dropped, not handed to the next query in a broken transaction.
      const broken = await client.query('ROLLBACK').then(
        () => false,
        () => true
      );
      client.release(broken);
      throw err;
    }
  };
  const bodyPut = bodyPruner(pruneBodies);
  /** A parked message's body uses, opened again: its retry reads the body. */
  const reopenUse = async (p: Parameters<CoexistStore['park']>[0]) => {
    const use = parkedBodyUse(p);
    if (use)
      await q('UPDATE zm_coexist_body_uses SET settled_at = NULL WHERE origin = $1 AND origin_id = $2', [
        use.origin,
        use.originId,
      ]);
  };
  return {
    async putBody(body, forMessages) {
      // Content-addressed (keyed): a redelivered callback stores nothing new. One statement: the row dated anew and
      // marked used, its uses (re)opened.
      const ref = 'b:' + createHmac('sha256', refKey).update(body, 'utf8').digest('hex');
      // Each once: one statement may not update a row twice.
      const uses = forMessages
        ? [...new Map(forMessages.map((u) => [`${u.origin}:${u.originId}`, u])).values()]
        : [{ origin: PUT_FOR_NONE[0], originId: PUT_FOR_NONE[1] }];
      await q(
        `WITH put AS (INSERT INTO zm_coexist_bodies AS b (ref, body, at, used_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (ref) DO UPDATE SET at = excluded.at, used_at = excluded.used_at)
         INSERT INTO zm_coexist_body_uses AS u (ref, origin, origin_id)
           SELECT $1, o, i FROM unnest($4::text[], $5::text[]) AS x(o, i)
         ON CONFLICT (ref, origin, origin_id) DO UPDATE SET settled_at = NULL WHERE u.settled_at IS NOT NULL`,
        [ref, Buffer.from(body, 'utf8'), Date.now(), uses.map((u) => u.origin), uses.map((u) => u.originId)]
      );
      await bodyPut();
      return ref;
    },
    async settleBodies(origin, originIds) {
      if (originIds.length === 0) return;
      await q('UPDATE zm_coexist_body_uses SET settled_at = $1 WHERE origin = $2 AND origin_id = ANY ($3::text[])', [
        Date.now(),
        origin,
        [...originIds],
      ]);
    },
    async keepBodies(refs) {
      if (refs.length === 0) return;
      const now = Date.now();
      await q(
        `UPDATE zm_coexist_bodies SET used_at = $1
         WHERE ref = ANY ($2::text[]) AND coalesce(used_at, at) < $1::bigint - $3::bigint`,
        [now, [...new Set(refs)], KEEP_BODY_EVERY_MS]
      );
    },
    pruneBodies,
    async body(ref) {
      const row = (await q('SELECT body FROM zm_coexist_bodies WHERE ref = $1', [ref])).rows[0];
      if (!row) throw new Error(`no stored body ${ref}`);
      return (row.body as Buffer).toString('utf8');
    },
    async record(origin, originId) {
      const row = await select(origin, originId);
      return row ? toRecord(row) : null;
    },
    async recordIntent(origin, originId, conv) {
      const now = Date.now();
      await noteConv(conv);
      await q(
        `INSERT INTO zm_coexist_mirrored AS m (origin, origin_id, conv, state, attempts, intent_at, updated_at)
         VALUES ($1, $2, $3, 'INTENT', 1, $4, $4)
         ON CONFLICT (origin, origin_id) DO UPDATE SET attempts = m.attempts + 1, updated_at = excluded.updated_at
         WHERE m.state = 'INTENT'`,
        [origin, originId, conv, now]
      );
      return toRecord((await select(origin, originId))!);
    },
    async markSending(origin, originId, now, seen) {
      const r = await q(
        `UPDATE zm_coexist_mirrored SET sending_at = $1, updated_at = $1
         WHERE origin = $2 AND origin_id = $3 AND state = 'INTENT' AND sending_at IS NOT DISTINCT FROM $4::bigint`,
        [now, origin, originId, seen]
      );
      return r.rowCount === 1;
    },
    async releaseSending(origin, originId, leasedAt) {
      await q(
        `UPDATE zm_coexist_mirrored SET sending_at = -sending_at, updated_at = $1
         WHERE origin = $2 AND origin_id = $3 AND sending_at = $4`,
        [Date.now(), origin, originId, leasedAt]
      );
    },
    async markSent(origin, originId, conv, targetId, sentBy) {
      await noteConv(conv);
      await q(
        `INSERT INTO zm_coexist_mirrored AS m (origin, origin_id, conv, state, target_id, attempts, updated_at, sent_by)
         VALUES ($1, $2, $3, 'SENT', $4, 0, $5, $6)
         ON CONFLICT (origin, origin_id) DO UPDATE SET state = 'SENT', target_id = excluded.target_id,
           updated_at = excluded.updated_at, sent_by = excluded.sent_by WHERE m.state = 'INTENT'`,
        [origin, originId, conv, targetId, Date.now(), sentBy ?? null]
      );
    },
    async records() {
      return (await q('SELECT * FROM zm_coexist_mirrored ORDER BY conv, origin, origin_id')).rows.map(toRecord);
    },
    async group(groupId) {
      const r = (await q('SELECT * FROM zm_coexist_group_state WHERE group_id = $1', [groupId])).rows[0];
      return r
        ? {
            groupId,
            live: r.live as boolean,
            origin: r.origin as Origin,
            changedAt: r.changed_at as number,
            profile: r.profile as string | null,
          }
        : null;
    },
    async setGroup(groupId, g) {
      await noteConv(`group:${groupId}`);
      await q(
        `INSERT INTO zm_coexist_group_state AS s (group_id, live, origin, changed_at, profile)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id) DO UPDATE SET live = excluded.live,
           origin = excluded.origin, changed_at = excluded.changed_at, profile = COALESCE(excluded.profile, s.profile)`,
        [groupId, g.live, g.origin, g.changedAt, g.profile ?? null]
      );
    },
    async member(groupId, userId) {
      const r = (
        await q('SELECT * FROM zm_coexist_group_members WHERE group_id = $1 AND user_id = $2', [groupId, userId])
      ).rows[0];
      return r
        ? { userId, member: r.member as boolean, origin: r.origin as Origin, changedAt: r.changed_at as number }
        : null;
    },
    async setMembers(groupId, userIds, m: Omit<MemberRecord, 'userId'>) {
      await noteUsers(userIds);
      // One statement for all of them: all or none, as SQLite's transaction.
      await q(
        `INSERT INTO zm_coexist_group_members (group_id, user_id, member, origin, changed_at)
         SELECT $1, u, $3, $4, $5 FROM unnest($2::text[]) AS u
         ON CONFLICT (group_id, user_id) DO UPDATE SET member = excluded.member, origin = excluded.origin,
           changed_at = excluded.changed_at`,
        [groupId, [...new Set(userIds)], m.member, m.origin, m.changedAt]
      );
    },
    async park(p) {
      await noteConv(p.conv);
      await reopenUse(p);
      await q(
        `INSERT INTO zm_coexist_parked (event_key, conv, origin, subject, reason, action, parked_at, event, body_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
        [
          p.eventKey,
          p.conv,
          p.origin,
          p.subject,
          p.reason,
          p.action,
          Date.now(),
          p.event ? JSON.stringify(p.event) : null,
          p.event?.bodyRef ?? null,
        ]
      );
    },
    async unpark(eventKey) {
      // One statement: the body is marked used as the parked event that named it goes.
      await q(
        `WITH gone AS (DELETE FROM zm_coexist_parked WHERE event_key = $1 RETURNING body_ref)
         UPDATE zm_coexist_bodies SET used_at = $2 WHERE ref IN (SELECT body_ref FROM gone)`,
        [eventKey, Date.now()]
      );
    },
    async parked() {
      const { rows } = await q('SELECT * FROM zm_coexist_parked ORDER BY parked_at, event_key');
      return rows.map((r): ParkedRecord => ({
        conv: r.conv as string,
        eventKey: r.event_key as string,
        origin: r.origin as Origin,
        subject: r.subject as string,
        reason: r.reason as string,
        action: r.action as string,
        parkedAt: r.parked_at as number,
        ...(typeof r.event === 'string' && { event: SyncEventSchema.parse(JSON.parse(r.event)) }),
      }));
    },
    async conversations() {
      const { rows } = await q('SELECT conv FROM zm_coexist_known_conversations ORDER BY conv');
      return rows.map((r) => r.conv as string);
    },
    async users() {
      const { rows } = await q('SELECT user_id FROM zm_coexist_known_users');
      return rows.map((r) => r.user_id as string);
    },
    conversationsAfter: (after, limit) => keysAfter('zm_coexist_known_conversations', 'conv', after, limit),
    usersAfter: (after, limit) => keysAfter('zm_coexist_known_users', 'user_id', after, limit),
    async knownOf(convs) {
      if (convs.length === 0) return new Set();
      const { rows } = await q('SELECT conv FROM zm_coexist_known_conversations WHERE conv = ANY($1::text[])', [
        [...convs],
      ]);
      return new Set(rows.map((r) => r.conv as string));
    },
    async noteConversations(convs) {
      if (convs.length === 0) return;
      await q('INSERT INTO zm_coexist_known_conversations (conv) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [
        [...convs],
      ]);
    },
    async markNotMirrored(origin, originId, conv, reason) {
      await q(
        `INSERT INTO zm_coexist_not_mirrored (origin, origin_id, conv, reason, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [origin, originId, conv, reason, Date.now()]
      );
    },
    async notMirrored(origin, originId) {
      const { rows } = await q('SELECT reason FROM zm_coexist_not_mirrored WHERE origin = $1 AND origin_id = $2', [
        origin,
        originId,
      ]);
      return (rows[0]?.reason as string | undefined) ?? null;
    },
    async settleEcho(e) {
      const r = await q(
        `INSERT INTO zm_coexist_echoes (event_key, conv, sync, settled_by, at) VALUES ($1, $2, $3, 'receiver', $4)
         ON CONFLICT (event_key) DO NOTHING`,
        [e.eventKey, e.conv, e.sync, Date.now()]
      );
      await echoWritten();
      return r.rowCount === 1;
    },
    async echoHandedOff(e) {
      await q(
        `INSERT INTO zm_coexist_echoes (event_key, conv, sync, settled_by, at) VALUES ($1, $2, $3, 'workflow', $4)
         ON CONFLICT (event_key) DO UPDATE SET settled_by = 'workflow'`,
        [e.eventKey, e.conv, e.sync, Date.now()]
      );
      await echoWritten();
    },
    async echoSettledBy(eventKey) {
      const { rows } = await q('SELECT settled_by FROM zm_coexist_echoes WHERE event_key = $1', [eventKey]);
      return (rows[0]?.settled_by as EchoSettler | undefined) ?? null;
    },
    async echoesSettledByReceivers(sync) {
      const { rows } = await q(
        `SELECT (SELECT count(*) FROM zm_coexist_echoes WHERE sync = $1 AND settled_by = 'receiver')
           + coalesce((SELECT n FROM zm_coexist_echo_counts WHERE sync = $1 AND settled_by = 'receiver'), 0) AS n`,
        [sync]
      );
      return Number(rows[0]!.n);
    },
    pruneEchoes,
    async recordDivergence(d) {
      await noteConv(d.conv);
      await q(
        `INSERT INTO zm_coexist_divergences (conv, origin, msg_id, kind, at, found_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [d.conv, d.origin, d.msgId, d.kind, d.at, Date.now()]
      );
    },
    async markRepaired(d, repair) {
      await q(
        `UPDATE zm_coexist_divergences SET repaired_at = $1, repair = $2
         WHERE conv = $3 AND origin = $4 AND msg_id = $5 AND repaired_at IS NULL`,
        [Date.now(), repair, d.conv, d.origin, d.msgId]
      );
    },
    async divergences() {
      const { rows } = await q('SELECT * FROM zm_coexist_divergences ORDER BY found_at, conv, msg_id');
      return rows.map((r): DivergenceRecord => ({
        conv: r.conv as string,
        origin: r.origin as Origin,
        msgId: r.msg_id as string,
        kind: r.kind as DivergenceRecord['kind'],
        at: r.at as number,
        foundAt: r.found_at as number,
        repairedAt: r.repaired_at as number | null,
        repair: r.repair as string | null,
      }));
    },
    async close() {
      await db.close();
    },
  };
}

const toRecord = (r: Row): MirrorRecord => ({
  origin: r.origin as Origin,
  originId: r.origin_id as string,
  conv: r.conv as string,
  state: r.state as MirrorState,
  targetId: r.target_id as string | null,
  attempts: r.attempts as number,
  intentAt: r.intent_at as number | null,
  sendingAt: r.sending_at as number | null,
  sentBy: (r.sent_by as string | null) ?? null,
});
