/**
 * Coexistence's own durable store: message bodies by reference (so no text enters workflow history; each kept until
 * a day after every message it was put for is settled, or once unused for BODIES_UNUSED_MS unless parked,
 * docs/coexistence.md §4) and the ledger of mirrored messages
 * (intent before a send, then the other side's id). Its own SQLite file rather than
 * the migration's staging ledger (src/staging/): that ledger is keyed by a plan's staged entities and stages and
 * lives in the plan's file; coexistence outlives any plan and maps ids in both directions.
 * One file per machine: the receiver writes bodies, the worker reads them and writes the ledger (WAL). For several
 * machines the same store is in PostgreSQL (coexist-store-postgres.ts); open-coexist-store.ts picks by location.
 */
import { createHmac, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { switchToWal } from '../shared/sqlite-wal';
import { SyncEventSchema, type SyncEvent } from './sync-event';
import { KEEP_BODY_EVERY_MS } from './body-use';
import { usersOf, WrittenKeys } from './store-keys';

export type Origin = 'zim' | 'legacy';
export type MirrorState = 'INTENT' | 'SENT';

export interface MirrorRecord {
  origin: Origin;
  originId: string;
  conv: string;
  state: MirrorState;
  targetId: string | null;
  attempts: number;
  /** When the first intent was written (ms): an ambiguous send cannot have landed before it. */
  intentAt: number | null;
  /**
   * When an attempt last took the lease to send (ms): its send has landed or failed 20 s later. Negated once that
   * attempt had its answer (nothing of it is in flight any more; the next attempt checks the tail at once).
   */
  sendingAt: number | null;
  /**
   * Which activity execution (run and activity id, the same in all its attempts) wrote SENT: a retry of the one
   * that wrote it and died before reporting is that mirror's, not a repeat. Null: an echo or a test did.
   */
  sentBy: string | null;
}

/** A message a body is put for: its ledger row (origin, id) tells when the body's reader is done with it. */
export interface BodyUse {
  origin: Origin;
  originId: string;
}

export interface CoexistStore {
  /**
   * Stores a body (content-addressed: the same text, the same reference) for the messages that carry it. A body put
   * for messages may be pruned (pruneBodies) once each of them is settled; one put for anything else (no `forMessages`:
   * a group profile) only once unused for the bound (see pruneBodies).
   */
  putBody(body: string, forMessages?: readonly BodyUse[]): Promise<string>;
  body(ref: string): Promise<string>;
  /**
   * These messages are settled for good without their ledger rows showing it (the other side refused the mirror,
   * which is not parked; the import handoff dropped them, its history holding them): their bodies need not stay for
   * them. A later put for one of them, or its park, takes that back.
   */
  settleBodies(origin: Origin, originIds: readonly string[]): Promise<void>;
  /**
   * These bodies are still held by a reader (events the import handoff holds): not unused (pruneBodies) from now.
   * Writes a body at most once an hour (KEEP_BODY_EVERY_MS), however often it is asked.
   */
  keepBodies(refs: readonly string[]): Promise<void>;
  /**
   * Forgets at most `most` (default BODY_PRUNE_MOST) of the bodies last put before `before` (ms), oldest first, each
   * only when every message it was put for is settled since before `before` (its ledger row SENT, or settleBodies),
   * or when it is unused since before `unusedBefore` (default now less the store's bound, BODIES_UNUSED_MS): no put,
   * keepBodies or unpark since, whatever its messages (refused and redelivered, never handed to a workflow) or none
   * (a group profile, a body of a store made before pruning). A body a parked event names is never forgotten. The
   * others it looked at are looked at again a retention later (a prune's work stays bounded whatever is kept). The
   * store calls it itself every BODY_PRUNE_EVERY puts with BODIES_KEPT_MS; returns the bodies forgotten.
   */
  pruneBodies(before: number, most?: number, unusedBefore?: number): Promise<number>;
  record(origin: Origin, originId: string): Promise<MirrorRecord | null>;
  /** Writes INTENT (or counts another attempt of one); never downgrades SENT. */
  recordIntent(origin: Origin, originId: string, conv: string): Promise<MirrorRecord>;
  /**
   * Takes the lease to send (sending_at = now) only while the row is INTENT and its sending_at is still `seen`, the
   * value this attempt waited out and checked the tail after: false when another attempt took it since (its send may
   * be in flight), so at most one attempt sends after any one tail check.
   */
  markSending(origin: Origin, originId: string, now: number, seen: number | null): Promise<boolean>;
  /** The lease taken at `leasedAt` is over: its request was answered (sending_at negated; a no-op if taken since). */
  releaseSending(origin: Origin, originId: string, leasedAt: number): Promise<void>;
  /** SENT with the other side's id, by `sentBy` (MirrorRecord.sentBy); idempotent (the first writer is kept). */
  markSent(origin: Origin, originId: string, conv: string, targetId: string, sentBy?: string): Promise<void>;
  records(): Promise<MirrorRecord[]>;
  /** The group state both sides were last made to agree on (null: never seen). */
  group(groupId: string): Promise<GroupRecord | null>;
  setGroup(groupId: string, change: Omit<GroupRecord, 'groupId' | 'profile'> & { profile?: string }): Promise<void>;
  member(groupId: string, userId: string): Promise<MemberRecord | null>;
  setMembers(groupId: string, userIds: string[], change: Omit<MemberRecord, 'userId'>): Promise<void>;
  /** Records a mirror given up after its retries, for an operator (idempotent per event key). */
  park(p: Omit<ParkedRecord, 'parkedAt'>): Promise<void>;
  parked(): Promise<ParkedRecord[]>;
  /**
   * Forgets a parked mirror (its retry was handed to its conversation), and marks its body used now: the retry reads
   * it, and no parked event names it any more.
   */
  unpark(eventKey: string): Promise<void>;
  /**
   * Every conversation the store has seen a mirror, a group change, a parked event or a divergence of, or was told
   * of (noteConversations), in key order (bytewise). Kept as rows are written (one stays after its last parked event
   * is unparked: its retry writes its ledger row).
   */
  conversations(): Promise<string[]>;
  /**
   * The users the store has seen: both users of every one-to-one conversation it has seen a row of, and every user
   * it recorded in a group (in or out); each once, in no particular order. The audit lists their conversations (§9).
   */
  users(): Promise<string[]>;
  /** At most `limit` of conversations() in key order after `after`: an indexed range scan, whatever the store's size. */
  conversationsAfter(after: string | undefined, limit: number): Promise<string[]>;
  /** At most `limit` of users() in key order (bytewise) after `after`: an indexed range scan. */
  usersAfter(after: string | undefined, limit: number): Promise<string[]>;
  /** Which of `convs` conversations() holds (one indexed lookup each). */
  knownOf(convs: readonly string[]): Promise<Set<string>>;
  /** Adds conversations the sync knows otherwise (its conversation workflows) to conversations() (not to users()). */
  noteConversations(convs: readonly string[]): Promise<void>;
  /** Records what an audit found (idempotent per conversation, side and message: the first finding is kept). */
  recordDivergence(d: Omit<DivergenceRecord, 'foundAt' | 'repairedAt' | 'repair'>): Promise<void>;
  /** How a divergence was repaired (the event handed to its conversation, or why it cannot be). */
  markRepaired(d: DivergenceKey, repair: string): Promise<void>;
  divergences(): Promise<DivergenceRecord[]>;
  /**
   * Records a message the sync leaves on its side by policy (a ZIM server-API send by the app's own backend, §3), so
   * the audit does not take it for one whose callback was lost (idempotent: the first reason is kept).
   */
  markNotMirrored(origin: Origin, originId: string, conv: string, reason: string): Promise<void>;
  /** Why the message is left on its side by policy, or null. */
  notMirrored(origin: Origin, originId: string): Promise<string | null>;
  /**
   * A receiver settled this echo itself (the mirror it proves is SENT): records its key unless already recorded (a
   * redelivery, or a copy handed to a workflow). True when this call recorded it: of racing deliveries, exactly one.
   */
  settleEcho(echo: EchoKey): Promise<boolean>;
  /**
   * The echo was handed to its conversation's workflow, which counts it: recorded so, also over a receiver's record
   * made meanwhile (a redelivery that found the mirror SENT while this copy was on its way), which no longer counts.
   */
  echoHandedOff(echo: EchoKey): Promise<void>;
  /** Who settles the echo of this event key, or null (never seen). */
  echoSettledBy(eventKey: string): Promise<EchoSettler | null>;
  /** Echoes of the sync the receivers settled themselves (never handed to a workflow): `coexist status` adds them. */
  echoesSettledByReceivers(sync: string): Promise<number>;
  /**
   * Forgets at most `most` (default ECHO_PRUNE_MOST) of the echo records made before `before` (ms), oldest first,
   * keeping their counts per sync and settler. The store calls it itself every ECHO_PRUNE_EVERY echo writes with
   * ECHO_RECORDS_KEPT_MS; returns the records forgotten.
   */
  pruneEchoes(before: number, most?: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * How long an echo's record is kept: it decides between redeliveries of one echo, and ZEGO redelivers a callback
 * over about a minute (the legacy contract's webhook retries likewise), so a day is ample. Without pruning the table
 * grew by a row for almost every mirrored message, for the weeks a coexistence runs. A redelivery later than this
 * would be settled a second time, which changes only the echo figure (nothing is mirrored on an echo).
 */
export const ECHO_RECORDS_KEPT_MS = 24 * 3_600_000;
export const ECHO_PRUNE_EVERY = 1_000;
/**
 * A prune runs inside a receiver's answer to a delivery: bounded, so the first one on a store that grew for weeks
 * before pruning existed stays short (later ones catch up, ten times faster than echoes come).
 */
export const ECHO_PRUNE_MOST = 10_000;

/** Counts one write of this process; every `every`-th, prunes what is older than `keptMs`. */
function pruner(prune: (before: number) => Promise<number>, every: number, keptMs: number) {
  let writes = 0;
  return async () => {
    if (++writes % every === 0) await prune(Date.now() - keptMs);
  };
}

/** Counts one echo write of this process; every ECHO_PRUNE_EVERY-th, prunes what is older than kept. */
export const echoPruner = (prune: (before: number) => Promise<number>) =>
  pruner(prune, ECHO_PRUNE_EVERY, ECHO_RECORDS_KEPT_MS);

/**
 * How long a body is kept after its last put and after every message it was put for is settled: a reader that
 * looked at the ledger before the mirror settled (a batch's retry, a parked retry) has long finished with it. As
 * for echoes, the table otherwise grows by a row for almost every message, for the weeks a coexistence runs.
 */
export const BODIES_KEPT_MS = 24 * 3_600_000;
export const BODY_PRUNE_EVERY = 1_000;
/** A prune runs inside a receiver's answer (as echoes'): at most this many bodies looked at. */
export const BODY_PRUNE_MOST = 10_000;

/** Counts one body put of this process; every BODY_PRUNE_EVERY-th, prunes what is older than kept. */
export const bodyPruner = (prune: (before: number) => Promise<number>) =>
  pruner(prune, BODY_PRUNE_EVERY, BODIES_KEPT_MS);

/**
 * How long a body nothing uses is kept, whatever its messages say: no put (a delivery or its redelivery), no import
 * handoff holding it, no parked event naming it or retried. Messages that never settle leave such bodies: a refusal
 * redelivered (its workflow drops the duplicate), a delivery whose hand-off failed and was never retried, one that
 * arrived as the sync stopped, one dropped by a workflow of an earlier version; so do group profiles and bodies of
 * stores made before pruning. Far beyond the senders' retries (about a minute) and the mirror's (a quarter of an
 * hour, then parked): only a message a conversation kept retrying, or queued behind a stopped worker, this long
 * would find its body gone. ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS sets it (bodiesUnusedMs).
 */
export const BODIES_UNUSED_MS = 30 * 24 * 3_600_000;
/**
 * The use a body put for no message is recorded under (a group profile; a body of a store made before pruning): no
 * message has that id, so it never settles, and the body goes once unused for the bound (or never, while parked).
 */
export const PUT_FOR_NONE = ['', ''] as const;

/** The bound of BODIES_UNUSED_MS for this process: ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS (whole days, 2-3650). */
export function bodiesUnusedMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS;
  if (raw === undefined || raw.trim() === '') return BODIES_UNUSED_MS;
  const days = z.coerce.number().int().min(2).max(3650).safeParse(raw.trim());
  if (!days.success)
    throw new Error(`ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS: whole days from 2 to 3650, not ${JSON.stringify(raw)}`);
  return days.data * 24 * 3_600_000;
}

/** An echo the receivers saw: its event key (a redelivery carries the same), conversation and sync ('' for none). */
export interface EchoKey {
  eventKey: string;
  conv: string;
  sync: string;
}
export type EchoSettler = 'receiver' | 'workflow';

/**
 * Which finding: a message present on `origin` with no counterpart on the other side, a gap in its sequence, or a
 * group change (existence, members) present on `origin` only.
 */
export interface DivergenceKey {
  conv: string;
  origin: Origin;
  /**
   * The message id on its side (a gap: `gap:<first>-<last>` of the missing sequence numbers; a group change:
   * `<change>:<users>`, e.g. `joined:u1,u2`).
   */
  msgId: string;
}

export type DivergenceKind = 'missing' | 'gap' | 'group';

/** What the reconciliation audit found (src/coexist/audit.ts): the `divergences` table. */
export interface DivergenceRecord extends DivergenceKey {
  kind: DivergenceKind;
  /** The message's time on its side (ms). */
  at: number;
  foundAt: number;
  repairedAt: number | null;
  /** How it was repaired (or why it could not be), never message text. */
  repair: string | null;
}

/** Which side's change it was and that side's time: later changes from the same side win (its clock is one). */
export interface Stamp {
  origin: Origin;
  changedAt: number;
}
export interface GroupRecord extends Stamp {
  groupId: string;
  live: boolean;
  /** The last profile applied (JSON of the fields), for "no change" checks. */
  profile: string | null;
}
export interface MemberRecord extends Stamp {
  userId: string;
  member: boolean;
}

/** A mirror that could not be settled after its retries: the conversation went on without it. */
export interface ParkedRecord {
  conv: string;
  eventKey: string;
  origin: Origin;
  /** The message id on its side, or the group event. */
  subject: string;
  /** Why it was given up (the last error, no message text). */
  reason: string;
  /** What an operator should do. */
  action: string;
  parkedAt: number;
  /** The event itself (no message text: the body is by reference), for a retry; absent in older stores. */
  event?: SyncEvent;
}

export function openSqliteCoexistStore(file: string, env: NodeJS.ProcessEnv = process.env): CoexistStore {
  const unusedMs = bodiesUnusedMs(env);
  const db = new Database(file);
  db.pragma('busy_timeout = 10000');
  switchToWal(db, 10_000);
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS bodies (ref TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS mirrored (
      origin TEXT NOT NULL, origin_id TEXT NOT NULL, conv TEXT NOT NULL, state TEXT NOT NULL,
      target_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, intent_at INTEGER, updated_at INTEGER NOT NULL,
      sending_at INTEGER, sent_by TEXT, PRIMARY KEY (origin, origin_id));
    CREATE TABLE IF NOT EXISTS group_state (group_id TEXT PRIMARY KEY, live INTEGER NOT NULL, origin TEXT NOT NULL,
      changed_at INTEGER NOT NULL, profile TEXT);
    CREATE TABLE IF NOT EXISTS group_members (group_id TEXT NOT NULL, user_id TEXT NOT NULL,
      member INTEGER NOT NULL, origin TEXT NOT NULL, changed_at INTEGER NOT NULL, PRIMARY KEY (group_id, user_id));
    CREATE TABLE IF NOT EXISTS parked (event_key TEXT PRIMARY KEY, conv TEXT NOT NULL, origin TEXT NOT NULL,
      subject TEXT NOT NULL, reason TEXT NOT NULL, action TEXT NOT NULL, parked_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS divergences (conv TEXT NOT NULL, origin TEXT NOT NULL, msg_id TEXT NOT NULL,
      kind TEXT NOT NULL, at INTEGER NOT NULL, found_at INTEGER NOT NULL, repaired_at INTEGER, repair TEXT,
      PRIMARY KEY (conv, origin, msg_id));
    CREATE TABLE IF NOT EXISTS not_mirrored (origin TEXT NOT NULL, origin_id TEXT NOT NULL, conv TEXT NOT NULL,
      reason TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (origin, origin_id));
    CREATE TABLE IF NOT EXISTS echoes (event_key TEXT PRIMARY KEY, conv TEXT NOT NULL, sync TEXT NOT NULL,
      settled_by TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS echoes_by_settler ON echoes (sync, settled_by);
    CREATE INDEX IF NOT EXISTS echoes_by_time ON echoes (at);
    CREATE TABLE IF NOT EXISTS echo_counts (sync TEXT NOT NULL, settled_by TEXT NOT NULL, n INTEGER NOT NULL,
      PRIMARY KEY (sync, settled_by));`);
  // Stores made before bodies were pruned lack when each was last put: their rows (null) are dated by
  // addBodyUseTimes, below, the first time a version with use times opens them.
  addColumnIfMissing(db, 'bodies', 'at INTEGER');
  db.exec(`
    CREATE INDEX IF NOT EXISTS bodies_by_time ON bodies (at) WHERE at IS NOT NULL;
    CREATE TABLE IF NOT EXISTS body_uses (ref TEXT NOT NULL, origin TEXT NOT NULL, origin_id TEXT NOT NULL,
      settled_at INTEGER, PRIMARY KEY (ref, origin, origin_id)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS body_uses_by_message ON body_uses (origin, origin_id);`);
  // Stores made before parked mirrors could be retried lack the event.
  addColumnIfMissing(db, 'parked', 'event TEXT');
  addBodyUseTimes(db);
  // Stores made before the send lease lack its column (their intents read as never leased).
  addColumnIfMissing(db, 'mirrored', 'sending_at INTEGER');
  // Stores made before it lack the writer of SENT: their rows read as written by nobody known (a repeat).
  addColumnIfMissing(db, 'mirrored', 'sent_by TEXT');
  addKeyTables(db);
  // The key body references are made with: a plain hash of a short message ("ok") could be confirmed by anyone
  // who reads history; a keyed one only with this store.
  db.prepare('INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)').run('ref-key', randomBytes(32));
  const refKey = db.prepare<[string], { value: Buffer }>('SELECT value FROM meta WHERE name = ?').get('ref-key')!.value;
  // Each put dates the row anew (looked at by the prune a retention later) and marks it used.
  const upsertBody = db.prepare(`
      INSERT INTO bodies (ref, body, at, used_at) VALUES (@ref, @body, @now, @now) ON CONFLICT (ref) DO UPDATE
        SET at = excluded.at, used_at = excluded.used_at`);
  // Put again for a message: open again (its event may be handed to a workflow anew).
  const upsertUse = db.prepare(`INSERT INTO body_uses (ref, origin, origin_id) VALUES (?, ?, ?)
      ON CONFLICT (ref, origin, origin_id) DO UPDATE SET settled_at = NULL WHERE body_uses.settled_at IS NOT NULL`);
  const putBody = db.transaction((ref: string, body: string, uses: readonly BodyUse[] | undefined) => {
    upsertBody.run({ ref, body, now: Date.now() });
    if (uses) for (const u of uses) upsertUse.run(ref, u.origin, u.originId);
    else upsertUse.run(ref, ...PUT_FOR_NONE);
  });
  // Used since before this: written again (at most once per KEEP_BODY_EVERY_MS).
  const keepBody = db.prepare(
    'UPDATE bodies SET used_at = @now WHERE ref = @ref AND coalesce(used_at, at) < @now - @every'
  );
  const keepBodies = db.transaction((refs: readonly string[], now: number) => {
    for (const ref of refs) keepBody.run({ ref, now, every: KEEP_BODY_EVERY_MS });
  });
  const settleUse = db.prepare('UPDATE body_uses SET settled_at = ? WHERE origin = ? AND origin_id = ?');
  const settleUses = db.transaction((at: number, origin: Origin, ids: readonly string[]) => {
    for (const id of ids) settleUse.run(at, origin, id);
  });
  // Parked: its retry reads the body, however its mirror was settled before.
  const reopenUse = db.prepare('UPDATE body_uses SET settled_at = NULL WHERE origin = ? AND origin_id = ?');
  // The oldest bodies last put before the time, each kept (`open`) when a parked event names it, or when it was used
  // since before `unused` and some message it was put for is not settled since before `before` (by settleBodies, or
  // its ledger row SENT; a use with no ledger row yet is open, as is PUT_FOR_NONE's).
  const bodiesToJudge = db.prepare<{ before: number; most: number; unused: number }, { ref: string; open: number }>(`
      SELECT ref, EXISTS (SELECT 1 FROM parked p WHERE p.body_ref = b.ref)
        OR (coalesce(b.used_at, b.at) >= @unused AND EXISTS (SELECT 1 FROM body_uses u
            LEFT JOIN mirrored m ON m.origin = u.origin AND m.origin_id = u.origin_id
          WHERE u.ref = b.ref AND (u.settled_at IS NULL OR u.settled_at >= @before)
            AND (m.state IS NULL OR m.state <> 'SENT' OR m.updated_at >= @before))) AS open
      FROM bodies b WHERE at < @before ORDER BY at LIMIT @most`);
  const deleteBody = db.prepare('DELETE FROM bodies WHERE ref = ?');
  const deleteUses = db.prepare('DELETE FROM body_uses WHERE ref = ?');
  // Its use time kept as it was (the time is no put): only a put, keepBodies or unpark marks it used.
  const deferBody = db.prepare('UPDATE bodies SET used_at = coalesce(used_at, at), at = ? WHERE ref = ?');
  const pruneBodies = async (before: number, most = BODY_PRUNE_MOST, unused = Date.now() - unusedMs) =>
    db
      .transaction(() => {
        const now = Date.now();
        let gone = 0;
        for (const { ref, open } of bodiesToJudge.all({ before, most, unused })) {
          if (open) {
            // Still carried by a message not settled: looked at again a retention later, not at every prune.
            deferBody.run(now, ref);
            continue;
          }
          deleteBody.run(ref);
          deleteUses.run(ref);
          gone++;
        }
        return gone;
      })
      .immediate();
  const bodyPut = bodyPruner(pruneBodies);
  const selectBody = db.prepare<[string], { body: string }>('SELECT body FROM bodies WHERE ref = ?');
  const select = db.prepare<[string, string], Row>('SELECT * FROM mirrored WHERE origin = ? AND origin_id = ?');
  const intent = db.prepare(`INSERT INTO mirrored (origin, origin_id, conv, state, attempts, intent_at, updated_at)
      VALUES (?, ?, ?, 'INTENT', 1, ?, ?)
      ON CONFLICT (origin, origin_id) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at
      WHERE state = 'INTENT'`);
  const sent = db.prepare(`INSERT INTO mirrored (origin, origin_id, conv, state, target_id, attempts, updated_at,
      sent_by) VALUES (?, ?, ?, 'SENT', ?, 0, ?, ?)
      ON CONFLICT (origin, origin_id) DO UPDATE SET state = 'SENT', target_id = excluded.target_id,
        updated_at = excluded.updated_at, sent_by = excluded.sent_by WHERE state = 'INTENT'`);
  const sending = db.prepare(`UPDATE mirrored SET sending_at = ?, updated_at = ?
      WHERE origin = ? AND origin_id = ? AND state = 'INTENT' AND sending_at IS ?`);
  const release = db.prepare(`UPDATE mirrored SET sending_at = -sending_at, updated_at = ?
      WHERE origin = ? AND origin_id = ? AND sending_at = ?`);
  const selectGroup = db.prepare<[string], GroupRow>('SELECT * FROM group_state WHERE group_id = ?');
  const upsertGroup = db.prepare(`INSERT INTO group_state (group_id, live, origin, changed_at, profile)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id) DO UPDATE SET live = excluded.live, origin = excluded.origin,
      changed_at = excluded.changed_at, profile = COALESCE(excluded.profile, profile)`);
  const selectMember = db.prepare<[string, string], MemberRow>(
    'SELECT * FROM group_members WHERE group_id = ? AND user_id = ?'
  );
  const upsertMember = db.prepare(`INSERT INTO group_members (group_id, user_id, member, origin, changed_at)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, user_id) DO UPDATE SET member = excluded.member,
      origin = excluded.origin, changed_at = excluded.changed_at`);
  const setMembers = db.transaction((groupId: string, userIds: string[], m: Omit<MemberRecord, 'userId'>) => {
    for (const u of userIds) upsertMember.run(groupId, u, m.member ? 1 : 0, m.origin, m.changedAt);
  });
  const insertParked = db.prepare(`INSERT OR IGNORE INTO parked (event_key, conv, origin, subject, reason, action,
      parked_at, event, body_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const deleteParked = db.prepare('DELETE FROM parked WHERE event_key = ?');
  const useParkedBody = db.prepare(
    'UPDATE bodies SET used_at = ? WHERE ref = (SELECT body_ref FROM parked WHERE event_key = ?)'
  );
  const unpark = db.transaction((eventKey: string) => {
    useParkedBody.run(Date.now(), eventKey);
    deleteParked.run(eventKey);
  });
  const allParked = db.prepare<[], ParkedRow>('SELECT * FROM parked ORDER BY parked_at, event_key');
  const all = db.prepare<[], Row>('SELECT * FROM mirrored ORDER BY conv, origin, origin_id');
  const allConvs = db.prepare<[], string>('SELECT conv FROM known_conversations ORDER BY conv').pluck();
  const allUsers = db.prepare<[], string>('SELECT user_id FROM known_users').pluck();
  const convsFrom = db.prepare<[number], string>('SELECT conv FROM known_conversations ORDER BY conv LIMIT ?').pluck();
  const convsAfter = db
    .prepare<[string, number], string>('SELECT conv FROM known_conversations WHERE conv > ? ORDER BY conv LIMIT ?')
    .pluck();
  const usersFrom = db.prepare<[number], string>('SELECT user_id FROM known_users ORDER BY user_id LIMIT ?').pluck();
  const usersAfter = db
    .prepare<[string, number], string>('SELECT user_id FROM known_users WHERE user_id > ? ORDER BY user_id LIMIT ?')
    .pluck();
  const isKnown = db.prepare<[string], number>('SELECT 1 FROM known_conversations WHERE conv = ?').pluck();
  const insertConvKey = db.prepare('INSERT OR IGNORE INTO known_conversations (conv) VALUES (?)');
  const insertUserKey = db.prepare('INSERT OR IGNORE INTO known_users (user_id) VALUES (?)');
  const written = new WrittenKeys();
  /** Adds the conversation (and its users) to the key tables, once per process (before its row: never missing). */
  const noteConv = (conv: string) => {
    if (written.has(`c:${conv}`)) return;
    insertConvKey.run(conv);
    for (const u of usersOf(conv)) insertUserKey.run(u);
    written.add(`c:${conv}`);
  };
  const noteUsers = (userIds: readonly string[]) => {
    for (const u of userIds) {
      if (written.has(`u:${u}`)) continue;
      insertUserKey.run(u);
      written.add(`u:${u}`);
    }
  };
  const noteConvs = db.transaction((convs: readonly string[]) => {
    for (const c of convs) insertConvKey.run(c);
  });
  const insertDivergence = db.prepare(`INSERT OR IGNORE INTO divergences (conv, origin, msg_id, kind, at, found_at)
      VALUES (?, ?, ?, ?, ?, ?)`);
  const repaired = db.prepare(`UPDATE divergences SET repaired_at = ?, repair = ?
      WHERE conv = ? AND origin = ? AND msg_id = ? AND repaired_at IS NULL`);
  const allDivergences = db.prepare<[], DivergenceRow>('SELECT * FROM divergences ORDER BY found_at, conv, msg_id');
  const insertNotMirrored = db.prepare(
    'INSERT OR IGNORE INTO not_mirrored (origin, origin_id, conv, reason, at) VALUES (?, ?, ?, ?, ?)'
  );
  const selectNotMirrored = db.prepare<[string, string], { reason: string }>(
    'SELECT reason FROM not_mirrored WHERE origin = ? AND origin_id = ?'
  );
  const insertEcho = db.prepare(`INSERT INTO echoes (event_key, conv, sync, settled_by, at)
      VALUES (?, ?, ?, 'receiver', ?) ON CONFLICT (event_key) DO NOTHING`);
  const handedEcho = db.prepare(`INSERT INTO echoes (event_key, conv, sync, settled_by, at)
      VALUES (?, ?, ?, 'workflow', ?) ON CONFLICT (event_key) DO UPDATE SET settled_by = 'workflow'`);
  const selectEcho = db.prepare<[string], EchoSettler>('SELECT settled_by FROM echoes WHERE event_key = ?').pluck();
  const countEchoes = db
    .prepare<[string, string], number>(
      `SELECT (SELECT count(*) FROM echoes WHERE sync = ? AND settled_by = 'receiver')
        + coalesce((SELECT n FROM echo_counts WHERE sync = ? AND settled_by = 'receiver'), 0)`
    )
    .pluck();
  // The same rows for both statements: the oldest `most` before the time, in one write transaction.
  const oldest = 'SELECT event_key FROM echoes WHERE at < @before ORDER BY at LIMIT @most';
  const keepEchoCounts = db.prepare(`INSERT INTO echo_counts (sync, settled_by, n)
      SELECT sync, settled_by, count(*) FROM echoes WHERE event_key IN (${oldest}) GROUP BY sync, settled_by
      ON CONFLICT (sync, settled_by) DO UPDATE SET n = n + excluded.n`);
  const forgetEchoes = db.prepare(`DELETE FROM echoes WHERE event_key IN (${oldest})`);
  const pruneEchoes = async (before: number, most = ECHO_PRUNE_MOST) =>
    db.transaction(() => {
      keepEchoCounts.run({ before, most });
      return forgetEchoes.run({ before, most }).changes;
    })();
  const echoWritten = echoPruner(pruneEchoes);
  return {
    async putBody(body, forMessages) {
      // Content-addressed (keyed): a redelivered callback stores nothing new.
      const ref = 'b:' + createHmac('sha256', refKey).update(body, 'utf8').digest('hex');
      putBody(ref, body, forMessages);
      await bodyPut();
      return ref;
    },
    async settleBodies(origin, originIds) {
      settleUses(Date.now(), origin, originIds);
    },
    async keepBodies(refs) {
      keepBodies(refs, Date.now());
    },
    pruneBodies,
    async body(ref) {
      const row = selectBody.get(ref);
      if (!row) throw new Error(`no stored body ${ref}`);
      return row.body;
    },
    async record(origin, originId) {
      const row = select.get(origin, originId);
      return row ? toRecord(row) : null;
    },
    async recordIntent(origin, originId, conv) {
      const now = Date.now();
      noteConv(conv);
      intent.run(origin, originId, conv, now, now);
      return toRecord(select.get(origin, originId)!);
    },
    async markSending(origin, originId, now, seen) {
      return sending.run(now, now, origin, originId, seen).changes === 1;
    },
    async releaseSending(origin, originId, leasedAt) {
      release.run(Date.now(), origin, originId, leasedAt);
    },
    async markSent(origin, originId, conv, targetId, sentBy) {
      noteConv(conv);
      sent.run(origin, originId, conv, targetId, Date.now(), sentBy ?? null);
    },
    async records() {
      return all.all().map(toRecord);
    },
    async group(groupId) {
      const r = selectGroup.get(groupId);
      return r ? { groupId, live: r.live === 1, origin: r.origin, changedAt: r.changed_at, profile: r.profile } : null;
    },
    async setGroup(groupId, g) {
      noteConv(`group:${groupId}`);
      upsertGroup.run(groupId, g.live ? 1 : 0, g.origin, g.changedAt, g.profile ?? null);
    },
    async member(groupId, userId) {
      const r = selectMember.get(groupId, userId);
      return r ? { userId, member: r.member === 1, origin: r.origin, changedAt: r.changed_at } : null;
    },
    async setMembers(groupId, userIds, m) {
      noteUsers(userIds);
      setMembers(groupId, userIds, m);
    },
    async park(p) {
      const event = p.event ? JSON.stringify(p.event) : null;
      noteConv(p.conv);
      const use = parkedBodyUse(p);
      if (use) reopenUse.run(use.origin, use.originId);
      const ref = p.event?.bodyRef ?? null;
      insertParked.run(p.eventKey, p.conv, p.origin, p.subject, p.reason, p.action, Date.now(), event, ref);
    },
    async unpark(eventKey) {
      unpark(eventKey);
    },
    async parked() {
      return allParked.all().map((r) => ({
        conv: r.conv,
        eventKey: r.event_key,
        origin: r.origin,
        subject: r.subject,
        reason: r.reason,
        action: r.action,
        parkedAt: r.parked_at,
        ...(r.event && { event: SyncEventSchema.parse(JSON.parse(r.event)) }),
      }));
    },
    async conversations() {
      return allConvs.all();
    },
    async users() {
      return allUsers.all();
    },
    async conversationsAfter(after, limit) {
      return after === undefined ? convsFrom.all(limit) : convsAfter.all(after, limit);
    },
    async usersAfter(after, limit) {
      return after === undefined ? usersFrom.all(limit) : usersAfter.all(after, limit);
    },
    async knownOf(convs) {
      return new Set(convs.filter((c) => isKnown.get(c) !== undefined));
    },
    async noteConversations(convs) {
      noteConvs(convs);
    },
    async recordDivergence(d) {
      noteConv(d.conv);
      insertDivergence.run(d.conv, d.origin, d.msgId, d.kind, d.at, Date.now());
    },
    async markRepaired(d, repair) {
      repaired.run(Date.now(), repair, d.conv, d.origin, d.msgId);
    },
    async markNotMirrored(origin, originId, conv, reason) {
      insertNotMirrored.run(origin, originId, conv, reason, Date.now());
    },
    async notMirrored(origin, originId) {
      return selectNotMirrored.get(origin, originId)?.reason ?? null;
    },
    async settleEcho(e) {
      const recorded = insertEcho.run(e.eventKey, e.conv, e.sync, Date.now()).changes === 1;
      await echoWritten();
      return recorded;
    },
    async echoHandedOff(e) {
      handedEcho.run(e.eventKey, e.conv, e.sync, Date.now());
      await echoWritten();
    },
    async echoSettledBy(eventKey) {
      return selectEcho.get(eventKey) ?? null;
    },
    async echoesSettledByReceivers(sync) {
      return countEchoes.get(sync, sync) ?? 0;
    },
    pruneEchoes,
    async divergences() {
      return allDivergences.all().map((r) => ({
        conv: r.conv,
        origin: r.origin,
        msgId: r.msg_id,
        kind: r.kind,
        at: r.at,
        foundAt: r.found_at,
        repairedAt: r.repaired_at,
        repair: r.repair,
      }));
    },
    async close() {
      db.close();
    },
  };
}

/** The message whose body a parked event's retry will read (none for a group event, or a park without its event). */
export function parkedBodyUse(p: Pick<ParkedRecord, 'event'>): BodyUse | undefined {
  const e = p.event;
  return e?.kind === 'message' && e.msgId !== undefined ? { origin: e.origin, originId: e.msgId } : undefined;
}

interface DivergenceRow {
  conv: string;
  origin: Origin;
  msg_id: string;
  kind: DivergenceKind;
  at: number;
  found_at: number;
  repaired_at: number | null;
  repair: string | null;
}

interface ParkedRow {
  event_key: string;
  conv: string;
  origin: Origin;
  subject: string;
  reason: string;
  action: string;
  parked_at: number;
  event: string | null;
}
interface GroupRow {
  live: number;
  origin: Origin;
  changed_at: number;
  profile: string | null;
}
interface MemberRow {
  member: number;
  origin: Origin;
  changed_at: number;
}
interface Row {
  origin: Origin;
  origin_id: string;
  conv: string;
  state: MirrorState;
  target_id: string | null;
  attempts: number;
  intent_at: number | null;
  sending_at: number | null;
  sent_by: string | null;
}
const toRecord = (r: Row): MirrorRecord => ({
  origin: r.origin,
  originId: r.origin_id,
  conv: r.conv,
  state: r.state,
  targetId: r.target_id,
  attempts: r.attempts,
  intentAt: r.intent_at,
  sendingAt: r.sending_at,
  sentBy: r.sent_by ?? null,
});

/**
 * The key tables conversations() and users() read (store-keys.ts). A store made before them has them created and
 * filled from its rows, once: in one write transaction, so a second process opening it at once finds them filled.
 */
function addKeyTables(db: Database.Database): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'known_users'");
  db.transaction(() => {
    if (exists.get() !== undefined) return;
    db.exec(`
      CREATE TABLE known_conversations (conv TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE known_users (user_id TEXT PRIMARY KEY) WITHOUT ROWID;
      INSERT INTO known_conversations SELECT conv FROM mirrored UNION SELECT 'group:' || group_id FROM group_state
        UNION SELECT conv FROM parked UNION SELECT conv FROM divergences;
      INSERT INTO known_users SELECT DISTINCT user_id FROM group_members;`);
    const user = db.prepare('INSERT OR IGNORE INTO known_users (user_id) VALUES (?)');
    const convs = db.prepare<[], string>('SELECT conv FROM known_conversations').pluck().all();
    for (const c of convs) for (const u of usersOf(c)) user.run(u);
  }).immediate();
}

/**
 * When each body was last used (put, held by the import handoff, retried from parked: pruneBodies), and which body
 * each parked event reads. A store made before them gets both in one write transaction (a second process opening it
 * at once waits, then finds them): its parked events' bodies are named from their events, and its bodies put before
 * pruning (no date, kept for good until now) dated now and put for none (PUT_FOR_NONE: no message of theirs is
 * known), so they go once unused for the bound, unless a parked event names them (or they are put or held again).
 */
function addBodyUseTimes(db: Database.Database): void {
  db.transaction(() => {
    if (!hasColumn(db, 'bodies', 'used_at')) {
      db.exec(`ALTER TABLE bodies ADD COLUMN used_at INTEGER;
        INSERT OR IGNORE INTO body_uses (ref, origin, origin_id) SELECT ref, '', '' FROM bodies WHERE at IS NULL`);
      db.prepare('UPDATE bodies SET at = ? WHERE at IS NULL').run(Date.now());
    }
    if (!hasColumn(db, 'parked', 'body_ref')) {
      db.exec(`ALTER TABLE parked ADD COLUMN body_ref TEXT;
        UPDATE parked SET body_ref = json_extract(event, '$.bodyRef') WHERE event IS NOT NULL`);
    }
  }).immediate();
  db.exec('CREATE INDEX IF NOT EXISTS parked_by_body ON parked (body_ref) WHERE body_ref IS NOT NULL');
}

/** Adds a column a store made by an older version lacks (another process opening it may add it first). */
const hasColumn = (db: Database.Database, table: string, column: string) =>
  (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);

function addColumnIfMissing(db: Database.Database, table: string, column: string): void {
  if (hasColumn(db, table, column.split(' ')[0]!)) return;
  try {
    db.exec(`ALTER TABLE ${table} ADD COLUMN ${column}`);
  } catch (err) {
    if (!/duplicate column/i.test((err as Error).message)) throw err;
  }
}
