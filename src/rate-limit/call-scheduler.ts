/**
 * A global schedule of ZIM calls: every caller, in every worker process, reserves the next free slot for its
 * Action (and group, for per-group budgets) before calling, so calls leave evenly spaced at the budget and never
 * burst above it. This is GCRA with no burst allowance: each reservation moves the Action's "next free" time one
 * interval on. A caller that wakes late (a busy event loop, a GC pause) then sends close behind the callers after
 * it, and a strict one-second window at ZIM counts one call too many; so each send is also checked against the
 * times of the Action's last sends (a sliding-window log) and waits until the budget's window since the N-th last
 * send has passed. Sends are counted per second: the rates shown to the operator are computed from those counts.
 * The schedule lives in a SQLite file (WAL), which every worker on one machine shares; PgCallScheduler
 * (pg-call-scheduler.ts) implements the same interface in PostgreSQL for workers on several machines.
 *
 * Why not Temporal's task-queue rate limit: measured on the dev server at 20/s it reached 93% of the budget and let
 * 38 calls through in one second (docs/architecture.md, rate limits).
 */
import Database from 'better-sqlite3';
import { switchToWal } from '../shared/sqlite-wal';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { defaultBudget } from '../zim-client/limits';
import { OLD_CPU_PATH } from '../shared/bench-old-cpu-path';
import { jsonSendLog, rowSendLog } from './send-log';

/**
 * `backfill` (the default: imports, verify, audits) takes the next free slot, behind every call already waiting;
 * `live` (coexistence's mirrors of messages users are waiting for) appends its slot to the schedule like any call,
 * so the budget's total is kept, but sends as soon as the send check's window allows: it goes ahead of a backlog,
 * and the backfill callers behind it slip by one interval each (the window still bounds every second).
 */
export type CallPriority = 'backfill' | 'live';

export interface CallScheduler {
  /**
   * Waits until this caller may make one `action` call; `key` names the group for per-group budgets.
   * Resolves with the time the call may go (epoch ms), when it is recorded as sent, on the schedule's clock (the
   * database server's for PostgreSQL, where workers' clocks may disagree).
   */
  acquire(action: string, key?: string, signal?: AbortSignal, priority?: CallPriority): Promise<number>;
  /** ZIM said "too frequent": nobody calls `action` (for `key`) for `ms`. */
  backOff(action: string, key: string | undefined, ms: number): Promise<void>;
  /**
   * Changes a budget for every process sharing the schedule. It takes effect at the next reservation, and callers
   * already waiting reserve no further than RESERVE_AHEAD_MS ahead: at most one call goes at the old pace after it.
   */
  setRate(action: string, rate: number): Promise<void>;
  /** Calls sent per Action in the last `windowMs` (whole seconds, ending with the last whole second). */
  sentInWindow(windowMs: number): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export interface SchedulerOptions {
  /** ZIM app whose budgets these are: several migrations into one app share its budgets. */
  appId: number;
  /**
   * Fraction of each budget left unused, so that network jitter never pushes two calls into one of ZIM's one-second
   * windows beyond its limit. Default 0.02 (schedule at 98% of the budget).
   */
  headroom?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * A process reserves no slot further ahead than this: its callers of one Action (or group) queue locally, in order,
 * and the next reserves when the last reserved slot is this close. Without it, a round's 32 pages in flight at 1/s
 * held slots 32 s ahead, and an operator's raised budget reached them only after those 32 s.
 */
export const RESERVE_AHEAD_MS = 250;

/** Sleeps `ms`, or rejects when `signal` aborts (with its reason). */
export const abortableSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    // Remove the listener when the timer fires: one activity may wait many times on the same signal.
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** `promise`, or its rejection with `signal`'s reason as soon as it aborts (a caller waiting its turn). */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * Adaptive headroom. A "too frequent" answer means calls reached ZIM closer together than they left (a loaded
 * machine processes requests in bunches, on either side of the network), which no fixed headroom rules out; so each
 * refusal beyond an allowance (0.1% of the calls, REFUSAL_ALLOWANCE_SHARE below) leaves one more percent of the
 * Action's budget unused, up to 10%, and that extra decays by one percent a minute. Refusals then settle near the
 * allowance however uneven the arrivals are, and a quiet system returns to the configured headroom within minutes.
 */
export const EXTRA_HEADROOM_STEP = 0.01;
export const EXTRA_HEADROOM_MAX = 0.1;
export const EXTRA_HEADROOM_DECAY_MS = 60_000;

/** The extra headroom `extra` (set at `since`) has decayed to at `now`. */
export function extraHeadroomAt(extra: number, since: number, now: number): number {
  return Math.max(0, extra - (Math.max(0, now - since) / EXTRA_HEADROOM_DECAY_MS) * EXTRA_HEADROOM_STEP);
}

/**
 * The refusals the headroom lets pass: ZIM may answer "too frequent" to 0.1% of an Action's calls over any five
 * minutes (the share docs/benchmarks.md holds us to) before a refusal adds headroom. A burst from a passing stall
 * (the stages starting on a busy worker) then costs only its 250-ms holds: adding 1% at once for each refusal of a
 * migration's first minute cut their number (5-6 against 20-22) but kept several percent of ImportPeerMsg's budget
 * unused for the minutes after, which cost more than the holds (bench:makespan, docs/benchmarks.md). Refusals beyond
 * the share raise the headroom one step each, as before. A leaky bucket: one refusal fills it by one, it drains at the
 * share of the budget's calls, and it holds five minutes' share (at least one refusal).
 */
export const REFUSAL_ALLOWANCE_SHARE = 0.001;
export const REFUSAL_ALLOWANCE_WINDOW_MS = 300_000;
/** ZIM_BENCH_NO_REFUSAL_ALLOWANCE=1: every refusal adds headroom (the rule before), for bench:makespan's A/B only. */
const NO_REFUSAL_ALLOWANCE = process.env.ZIM_BENCH_NO_REFUSAL_ALLOWANCE === '1';

/** The refusals bucket (`level` at `since`) after one more refusal at `now`, and whether it overflowed. */
export function countRefusal(
  level: number,
  since: number,
  now: number,
  rate: number
): { level: number; addHeadroom: boolean } {
  const perMs = (rate * REFUSAL_ALLOWANCE_SHARE) / 1000;
  const capacity = NO_REFUSAL_ALLOWANCE ? 0 : Math.max(1, perMs * REFUSAL_ALLOWANCE_WINDOW_MS);
  const next = Math.max(0, level - Math.max(0, now - since) * perMs) + 1;
  return next > capacity ? { level: capacity, addHeadroom: true } : { level: next, addHeadroom: false };
}

/** How long per-second send counts are kept: long enough for any rate window an operator is shown. */
const SENT_KEPT_MS = 3_600_000;

/**
 * The sliding window a send is checked against: `calls` sends per `ms`. The budget's own window (N calls per N/rate
 * seconds) widened by half the headroom, so that network jitter of a few ms cannot put N + 1 calls into one of
 * ZIM's windows, while a send on its GCRA slot (a whole headroom apart) is never held back.
 */
export function sendWindow(rate: number, headroom: number): { calls: number; ms: number } {
  const calls = Math.max(1, Math.floor(rate));
  return { calls, ms: ((calls * 1000) / rate) * (1 + headroom / 2) };
}

/** A send recorded at `sentAt`, or the wait until the budget's window allows it. */
type SendCheck = { sentAt: number } | { waitMs: number };

/** One Action's (or group's) backfill callers in this process, reserving in turn (RESERVE_AHEAD_MS). */
interface LocalQueue {
  tail: Promise<unknown>;
  lastSlot: number;
  waiting: number;
}

export class SqliteCallScheduler implements CallScheduler {
  private readonly db: Database.Database;
  private readonly appId: number;
  private readonly headroom: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly reserveTx: (action: string, key: string, live: boolean) => { slot: number; sent?: SendCheck };
  private readonly sendTx: (action: string, key: string) => SendCheck;
  private readonly setRateTx: (action: string, rate: number) => void;
  private readonly sentSince: Database.Statement<[number, number, number], { action: string; calls: number }>;
  private readonly extraOf: (action: string, now: number) => number;
  private readonly rateOf: (action: string) => number;
  private readonly setExtra: Database.Statement<[number, string, number, number]>;
  private pruneAfter = 0;
  private readonly queues = new Map<string, LocalQueue>();

  constructor(file: string, options: SchedulerOptions) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    switchToWal(this.db, 5000);
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS budget (
        app_id INTEGER NOT NULL, action TEXT NOT NULL, rate REAL NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0, refusals INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, action));
      CREATE TABLE IF NOT EXISTS slot (
        app_id INTEGER NOT NULL, action TEXT NOT NULL, key TEXT NOT NULL, next_at REAL NOT NULL,
        PRIMARY KEY (app_id, action, key));
      CREATE TABLE IF NOT EXISTS sent_per_second (
        app_id INTEGER NOT NULL, action TEXT NOT NULL, second INTEGER NOT NULL, calls INTEGER NOT NULL,
        PRIMARY KEY (app_id, action, second));
      -- Adaptive headroom: the extra share of the budget left unused after "too frequent" answers, set at "at" (ms).
      CREATE TABLE IF NOT EXISTS extra_headroom (
        app_id INTEGER NOT NULL, action TEXT NOT NULL, extra REAL NOT NULL, at REAL NOT NULL,
        PRIMARY KEY (app_id, action));
      -- The refusals not yet drained from the allowance (countRefusal), as of "at" (ms).
      CREATE TABLE IF NOT EXISTS refusal_bucket (
        app_id INTEGER NOT NULL, action TEXT NOT NULL, level REAL NOT NULL, at REAL NOT NULL,
        PRIMARY KEY (app_id, action));`);
    this.appId = options.appId;
    this.headroom = options.headroom ?? 0.02;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? abortableSleep;

    const getRate = this.db.prepare<[number, string], { rate: number }>(
      'SELECT rate FROM budget WHERE app_id = ? AND action = ?'
    );
    const rateOf = (action: string) => getRate.get(this.appId, action)?.rate ?? defaultBudget(action).rate;
    this.rateOf = rateOf;
    const getExtra = this.db.prepare<[number, string], { extra: number; at: number }>(
      'SELECT extra, at FROM extra_headroom WHERE app_id = ? AND action = ?'
    );
    /** The configured headroom plus what "too frequent" answers added and has not decayed yet. */
    const headroomOf = (action: string, now: number) => {
      const e = getExtra.get(this.appId, action);
      return this.headroom + (e ? extraHeadroomAt(e.extra, e.at, now) : 0);
    };
    this.extraOf = (action, now) => headroomOf(action, now) - this.headroom;
    this.setExtra = this.db.prepare(
      `INSERT INTO extra_headroom (app_id, action, extra, at) VALUES (?, ?, ?, ?)
       ON CONFLICT (app_id, action) DO UPDATE SET extra = excluded.extra, at = excluded.at`
    );
    const countCall = this.db.prepare(
      `INSERT INTO budget (app_id, action, rate, calls) VALUES (?, ?, ?, 1)
       ON CONFLICT (app_id, action) DO UPDATE SET calls = calls + 1`
    );
    const getSlot = this.db.prepare<[number, string, string], { next_at: number }>(
      'SELECT next_at FROM slot WHERE app_id = ? AND action = ? AND key = ?'
    );
    const setSlot = this.db.prepare(
      `INSERT INTO slot (app_id, action, key, next_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (app_id, action, key) DO UPDATE SET next_at = excluded.next_at`
    );
    // The old JSON log only for the benchmark's same-run comparison; send_log otherwise (send-log.ts).
    const sendLog = OLD_CPU_PATH ? jsonSendLog(this.db) : rowSendLog(this.db);
    const countSecond = this.db.prepare(
      `INSERT INTO sent_per_second (app_id, action, second, calls) VALUES (?, ?, ?, 1)
       ON CONFLICT (app_id, action, second) DO UPDATE SET calls = calls + 1`
    );
    const prune = this.db.prepare('DELETE FROM sent_per_second WHERE app_id = ? AND second < ?');
    /**
     * Records a send now and returns its time, or returns how long to wait until the budget's window allows it.
     * Runs inside a transaction (`send` or `reserve`).
     */
    const checkSend = (action: string, key: string, rate: number, headroom: number, now: number): SendCheck => {
      const waitMs = sendLog.tryRecord(this.appId, action, key, now, sendWindow(rate, headroom));
      if (waitMs !== undefined) return { waitMs };
      countCall.run(this.appId, action, rate);
      countSecond.run(this.appId, action, Math.floor(now / 1000));
      if (now > this.pruneAfter) {
        prune.run(this.appId, Math.floor((now - SENT_KEPT_MS) / 1000));
        this.pruneAfter = now + 60_000;
      }
      return { sentAt: now };
    };
    // IMMEDIATE: take the write lock before reading, so two processes never reserve the same slot.
    // A slot that is already due is sent in the same transaction: one write transaction per call instead of two
    // when callers do not wait (budgets lifted, or a quiet Action).
    const reserve = this.db.transaction(
      (action: string, key: string, live: boolean): { slot: number; sent?: SendCheck } => {
        const now = this.now();
        const rate = rateOf(action);
        const headroom = headroomOf(action, now);
        const interval = 1000 / (rate * (1 - headroom));
        const next = Math.max(getSlot.get(this.appId, action, key)?.next_at ?? 0, now);
        setSlot.run(this.appId, action, key, next + interval);
        // A live call's slot is now: only the send check's window decides when it goes (CallPriority).
        const slot = live ? now : next;
        return slot > now || OLD_CPU_PATH ? { slot } : { slot, sent: checkSend(action, key, rate, headroom, now) };
      }
    );
    this.reserveTx = (action, key, live) => reserve.immediate(action, key, live);
    const send = this.db.transaction((action: string, key: string): SendCheck => {
      const now = this.now();
      return checkSend(action, key, rateOf(action), headroomOf(action, now), now);
    });
    this.sendTx = (action, key) => send.immediate(action, key);
    const setRate = this.db.transaction((action: string, rate: number) => {
      const now = this.now();
      const headroom = headroomOf(action, now);
      const [before, after] = [rateOf(action), rate].map((r) => 1000 / (r * (1 - headroom)));
      // The next free slot is one interval after the last reserved: make it the new interval.
      this.db
        .prepare('UPDATE slot SET next_at = next_at + ? WHERE app_id = ? AND action = ? AND next_at > ?')
        .run(after! - before!, this.appId, action, now);
      this.db
        .prepare(
          `INSERT INTO budget (app_id, action, rate) VALUES (?, ?, ?)
           ON CONFLICT (app_id, action) DO UPDATE SET rate = excluded.rate`
        )
        .run(this.appId, action, rate);
    });
    this.setRateTx = (action, rate) => setRate.immediate(action, rate);
    this.sentSince = this.db.prepare(
      `SELECT action, sum(calls) AS calls FROM sent_per_second
       WHERE app_id = ? AND second >= ? AND second < ? GROUP BY action`
    );
  }

  private slotKey(action: string, key: string | undefined): string {
    return defaultBudget(action).perKey ? (key ?? '') : '';
  }

  async acquire(
    action: string,
    key?: string,
    signal?: AbortSignal,
    priority: CallPriority = 'backfill'
  ): Promise<number> {
    const slotKey = this.slotKey(action, key);
    const { slot, sent } =
      priority === 'live' ? this.reserveTx(action, slotKey, true) : await this.reserveInTurn(action, slotKey, signal);
    if (sent && 'sentAt' in sent) return sent.sentAt;
    await this.sleep(sent ? sent.waitMs : slot - this.now(), signal);
    for (;;) {
      // Return the time recorded in the log, not a later clock reading: callers compare it with other sends.
      const check = this.sendTx(action, slotKey);
      if ('sentAt' in check) return check.sentAt;
      await this.sleep(check.waitMs, signal);
    }
  }

  /** Reserves after this process's earlier callers, once the last slot they took is RESERVE_AHEAD_MS away. */
  private async reserveInTurn(action: string, slotKey: string, signal?: AbortSignal) {
    const id = `${action}\u0000${slotKey}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { tail: Promise.resolve(), lastSlot: 0, waiting: 0 }));
    const q = queue;
    const mine = q.tail.then(async () => {
      signal?.throwIfAborted();
      await this.sleep(q.lastSlot - RESERVE_AHEAD_MS - this.now(), signal);
      const reserved = this.reserveTx(action, slotKey, false);
      q.lastSlot = reserved.slot;
      return reserved;
    });
    // A caller that gave up passes its turn on.
    q.tail = mine.catch(() => undefined);
    q.waiting++;
    try {
      return await abortable(mine, signal);
    } finally {
      q.waiting--;
      // The queue outlives its callers while its last slot is ahead (the next caller must wait for it); the
      // others are forgotten now and then (a migration touches many groups).
      if (this.queues.size > 100) this.forgetIdleQueues();
    }
  }

  private forgetIdleQueues(): void {
    const now = this.now();
    for (const [id, q] of this.queues) if (q.waiting === 0 && q.lastSlot < now) this.queues.delete(id);
  }

  async backOff(action: string, key: string | undefined, ms: number): Promise<void> {
    const slotKey = this.slotKey(action, key);
    this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO slot (app_id, action, key, next_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (app_id, action, key) DO UPDATE SET next_at = max(next_at, excluded.next_at)`
          )
          .run(this.appId, action, slotKey, this.now() + ms);
        const now = this.now();
        const bucket = this.db
          .prepare<[number, string], { level: number; at: number }>(
            'SELECT level, at FROM refusal_bucket WHERE app_id = ? AND action = ?'
          )
          .get(this.appId, action);
        const rate = this.rateOf(action);
        const counted = countRefusal(bucket?.level ?? 0, bucket?.at ?? now, now, rate);
        this.db
          .prepare(
            `INSERT INTO refusal_bucket (app_id, action, level, at) VALUES (?, ?, ?, ?)
             ON CONFLICT (app_id, action) DO UPDATE SET level = excluded.level, at = excluded.at`
          )
          .run(this.appId, action, counted.level, now);
        if (counted.addHeadroom) {
          const extra = Math.min(EXTRA_HEADROOM_MAX, this.extraOf(action, now) + EXTRA_HEADROOM_STEP);
          this.setExtra.run(this.appId, action, extra, now);
        }
        this.db
          .prepare(
            `INSERT INTO budget (app_id, action, rate, refusals) VALUES (?, ?, ?, 1)
             ON CONFLICT (app_id, action) DO UPDATE SET refusals = refusals + 1`
          )
          .run(this.appId, action, defaultBudget(action).rate);
      })
      .immediate();
  }

  async setRate(action: string, rate: number): Promise<void> {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`A budget must be a positive number of calls/s; got ${rate}`);
    this.setRateTx(action, rate);
  }

  async sentInWindow(windowMs: number): Promise<Record<string, number>> {
    const end = Math.floor(this.now() / 1000);
    const rows = this.sentSince.all(this.appId, end - Math.round(windowMs / 1000), end);
    return Object.fromEntries(rows.map((r) => [r.action, r.calls]));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
