/**
 * Coexistence's own durable store: message bodies by reference (so no text enters workflow history) and the
 * ledger of mirrored messages (intent before a send, then the other side's id). Its own SQLite file rather than
 * the migration's staging ledger (src/staging/): that ledger is keyed by a plan's staged entities and stages and
 * lives in the plan's file; coexistence outlives any plan and maps ids in both directions.
 * One file per machine: the receiver writes bodies, the worker reads them and writes the ledger (WAL).
 */
import { createHmac, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';

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
}

export interface CoexistStore {
  putBody(body: string): Promise<string>;
  body(ref: string): Promise<string>;
  record(origin: Origin, originId: string): Promise<MirrorRecord | null>;
  /** Writes INTENT (or counts another attempt of one); never downgrades SENT. */
  recordIntent(origin: Origin, originId: string, conv: string): Promise<MirrorRecord>;
  /** SENT with the other side's id; idempotent. */
  markSent(origin: Origin, originId: string, conv: string, targetId: string): Promise<void>;
  records(): Promise<MirrorRecord[]>;
  close(): Promise<void>;
}

export function openSqliteCoexistStore(file: string): CoexistStore {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS bodies (ref TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS mirrored (
      origin TEXT NOT NULL, origin_id TEXT NOT NULL, conv TEXT NOT NULL, state TEXT NOT NULL,
      target_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, intent_at INTEGER, updated_at INTEGER NOT NULL,
      PRIMARY KEY (origin, origin_id));`);
  // The key body references are made with: a plain hash of a short message ("ok") could be confirmed by anyone
  // who reads history; a keyed one only with this store.
  db.prepare('INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)').run('ref-key', randomBytes(32));
  const refKey = db.prepare<[string], { value: Buffer }>('SELECT value FROM meta WHERE name = ?').get('ref-key')!.value;
  const insertBody = db.prepare('INSERT OR IGNORE INTO bodies (ref, body) VALUES (?, ?)');
  const selectBody = db.prepare<[string], { body: string }>('SELECT body FROM bodies WHERE ref = ?');
  const select = db.prepare<[string, string], Row>('SELECT * FROM mirrored WHERE origin = ? AND origin_id = ?');
  const intent = db.prepare(`INSERT INTO mirrored (origin, origin_id, conv, state, attempts, intent_at, updated_at)
      VALUES (?, ?, ?, 'INTENT', 1, ?, ?)
      ON CONFLICT (origin, origin_id) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at
      WHERE state = 'INTENT'`);
  const sent = db.prepare(`INSERT INTO mirrored (origin, origin_id, conv, state, target_id, attempts, updated_at)
      VALUES (?, ?, ?, 'SENT', ?, 0, ?)
      ON CONFLICT (origin, origin_id) DO UPDATE SET state = 'SENT', target_id = excluded.target_id,
        updated_at = excluded.updated_at WHERE state = 'INTENT'`);
  const all = db.prepare<[], Row>('SELECT * FROM mirrored ORDER BY conv, origin, origin_id');
  return {
    async putBody(body) {
      // Content-addressed (keyed): a redelivered callback stores nothing new.
      const ref = 'b:' + createHmac('sha256', refKey).update(body, 'utf8').digest('hex');
      insertBody.run(ref, body);
      return ref;
    },
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
      intent.run(origin, originId, conv, now, now);
      return toRecord(select.get(origin, originId)!);
    },
    async markSent(origin, originId, conv, targetId) {
      sent.run(origin, originId, conv, targetId, Date.now());
    },
    async records() {
      return all.all().map(toRecord);
    },
    async close() {
      db.close();
    },
  };
}

interface Row {
  origin: Origin;
  origin_id: string;
  conv: string;
  state: MirrorState;
  target_id: string | null;
  attempts: number;
  intent_at: number | null;
}
const toRecord = (r: Row): MirrorRecord => ({
  origin: r.origin,
  originId: r.origin_id,
  conv: r.conv,
  state: r.state,
  targetId: r.target_id,
  attempts: r.attempts,
  intentAt: r.intent_at,
});
