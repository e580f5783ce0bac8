/**
 * The call schedule in PostgreSQL, for workers on several machines: the same CallScheduler as the SQLite one (GCRA
 * slots, the sliding-window send check, adaptive headroom, per-group budgets, per-second send counts), with every
 * time taken from the database's clock (pg-call-schedule-schema.ts) so that skew between machines cannot matter.
 *
 * Reservations are leased: a process's callers of one Action (or group) queue locally, and one round trip reserves
 * consecutive slots for all of them that are waiting (at most `maxLease`, and never more than RESERVE_AHEAD_MS of
 * slots); the next lease waits until the last leased slot is RESERVE_AHEAD_MS away, so a changed budget reaches the
 * callers already waiting within that. The leased slots are handed out locally; a slot
 * whose caller gave up is simply not used (the budget is spent by fewer calls, never exceeded). Each send still
 * passes the shared send check, one round trip, which alone bounds any 1-s window across all processes.
 */
import { performance } from 'node:perf_hooks';
import type { Database } from '../postgres/database';
import { applySchema } from '../postgres/schema-migrations';
import { abortableSleep, type CallPriority, type CallScheduler, RESERVE_AHEAD_MS } from './call-scheduler';
import { defaultBudget } from '../zim-client/limits';
import { CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA } from './pg-call-schedule-schema';

export interface PgSchedulerOptions {
  appId: number;
  /** Fraction of each budget left unused against jitter; default 0.02, as SQLite's. */
  headroom?: number;
  /** Most slots one reservation takes for the callers waiting in this process. Default 8; 1 disables leases. */
  maxLease?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A leased slot this far in the past is dropped rather than sent late, behind the slots after it. */
const LATE_SLOT_MS = 5;
/** How long per-second send counts are kept (as in SQLite). */
const SENT_KEPT_S = 3_600;
/** A send log (an Action's, a group's) this long without a send is forgotten: groups whose copy is done. */
const IDLE_LOG_S = 3_600;

interface Waiter {
  resolve: (at: number) => void;
  reject: (err: Error) => void;
}

/**
 * One Action's (or group's) callers in this process. Slot times are on this process's monotonic clock
 * (performance.now()): the database says how far ahead a slot is, never what time it is.
 */
class SlotLane {
  private spare: number[] = [];
  private readonly waiters: Waiter[] = [];
  private reserving = false;
  /** The last interval the database gave, to keep leases within RESERVE_AHEAD_MS; unknown before the first. */
  private intervalMs = Infinity;
  /** The last slot leased (monotonic ms), and the timer that leases again when it is RESERVE_AHEAD_MS away. */
  private lastSlot = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly reserve: (count: number) => Promise<{ waitMs: number; intervalMs: number }>,
    private readonly maxLease: number
  ) {}

  /** Resolves with the monotonic time of this caller's slot. */
  take(signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (at) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(at);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /**
   * Nothing waits, reserves or is leased, and the last slot has passed (the next caller need not wait for it): the
   * lane can be forgotten (a migration touches many groups).
   */
  idle(): boolean {
    const now = performance.now();
    return this.waiters.length === 0 && !this.reserving && !this.timer && this.lastSlot < now - LATE_SLOT_MS;
  }

  /** A "too frequent" answer moved the shared slot on: leased slots before it must not be used. */
  dropSpare(): void {
    this.spare = [];
  }

  /** The scheduler closes: no lease after this. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    const now = performance.now();
    this.spare = this.spare.filter((at) => at >= now - LATE_SLOT_MS);
    while (this.waiters.length > 0 && this.spare.length > 0) this.waiters.shift()!.resolve(this.spare.shift()!);
    if (this.waiters.length === 0 || this.reserving || this.timer) return;
    const early = this.lastSlot - RESERVE_AHEAD_MS - now;
    if (early > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, early);
      return;
    }
    const bySpan = Number.isFinite(this.intervalMs) ? Math.floor(RESERVE_AHEAD_MS / this.intervalMs) : 1;
    const count = Math.max(1, Math.min(this.waiters.length, this.maxLease, bySpan));
    this.reserving = true;
    this.reserve(count).then(
      ({ waitMs, intervalMs }) => {
        const base = performance.now() + waitMs;
        this.intervalMs = intervalMs;
        for (let i = 0; i < count; i++) this.spare.push(base + i * intervalMs);
        this.lastSlot = base + (count - 1) * intervalMs;
        this.reserving = false;
        this.pump();
      },
      (err: unknown) => {
        this.reserving = false;
        const error = err instanceof Error ? err : new Error(String(err));
        for (const w of this.waiters.splice(0)) w.reject(error);
      }
    );
  }
}

export class PgCallScheduler implements CallScheduler {
  private readonly lanes = new Map<string, SlotLane>();
  private readonly headroom: number;
  private readonly maxLease: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private pruneAfter = 0;

  private constructor(
    private readonly db: Database,
    private readonly options: PgSchedulerOptions
  ) {
    this.headroom = options.headroom ?? 0.02;
    this.maxLease = Math.max(1, options.maxLease ?? 8);
    this.sleep = options.sleep ?? abortableSleep;
  }

  /** Applies the schedule's schema (idempotent, safe from several processes at once) and opens the scheduler. */
  static async open(db: Database, options: PgSchedulerOptions): Promise<PgCallScheduler> {
    try {
      await applySchema(db.pool, CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA);
    } catch (err) {
      // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
      throw new Error(`call schedule: ${db.describe(err)}`);
    }
    return new PgCallScheduler(db, options);
  }

  private slotKey(action: string, key: string | undefined): string {
    return defaultBudget(action).perKey ? (key ?? '') : '';
  }

  private async query<R extends Record<string, unknown>>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.db.pool.query<R>(sql, params)).rows;
    } catch (err) {
      // No `cause`: the driver's error may carry the connection's settings; the message is redacted.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`call schedule: ${this.db.describe(err)}`);
    }
  }

  /**
   * Reserves `count` consecutive slots in one round trip: the first `waitMs` from now (database time), the others
   * `intervalMs` apart. Public for the benchmark; callers use acquire().
   */
  async reserveLease(action: string, slotKey: string, count: number): Promise<{ waitMs: number; intervalMs: number }> {
    const [row] = await this.query<{ wait_ms: number; interval_ms: number }>(
      'SELECT wait_ms, interval_ms FROM zm_call_reserve($1, $2, $3, $4, $5, $6)',
      [this.options.appId, action, slotKey, count, defaultBudget(action).rate, this.headroom]
    );
    if (!row || typeof row.wait_ms !== 'number' || typeof row.interval_ms !== 'number')
      throw new Error('call schedule: zm_call_reserve returned no slot');
    return { waitMs: row.wait_ms, intervalMs: row.interval_ms };
  }

  /**
   * The send check: `sentAt` (epoch ms, the database's clock) when this send was recorded, else `waitMs` to wait.
   * Public for the benchmark.
   */
  async trySend(action: string, slotKey: string): Promise<{ waitMs: number; sentAt?: number }> {
    const [row] = await this.query<{ wait_ms: number; sent_at: number | null }>(
      'SELECT wait_ms, sent_at FROM zm_call_try_send($1, $2, $3, $4, $5)',
      [this.options.appId, action, slotKey, defaultBudget(action).rate, this.headroom]
    );
    if (typeof row?.wait_ms !== 'number') throw new Error('call schedule: zm_call_try_send returned no answer');
    return row.sent_at === null ? { waitMs: row.wait_ms } : { waitMs: 0, sentAt: row.sent_at };
  }

  private lane(action: string, slotKey: string): SlotLane {
    const id = `${action}\u0000${slotKey}`;
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = new SlotLane((count) => this.reserveLease(action, slotKey, count), this.maxLease);
      this.lanes.set(id, lane);
    }
    return lane;
  }

  async acquire(
    action: string,
    key?: string,
    signal?: AbortSignal,
    priority: CallPriority = 'backfill'
  ): Promise<number> {
    const slotKey = this.slotKey(action, key);
    if (priority === 'live') {
      // Its slot is appended to the schedule (the budget's total is kept) but not waited for: only the send check
      // below decides when a live call goes (CallPriority).
      signal?.throwIfAborted();
      await this.reserveLease(action, slotKey, 1);
    } else {
      const lane = this.lane(action, slotKey);
      const at = await lane.take(signal);
      if (this.lanes.size > 100) for (const [id, l] of this.lanes) if (l.idle()) this.lanes.delete(id);
      await this.sleep(at - performance.now(), signal);
    }
    let sentAt: number | undefined;
    for (;;) {
      const check = await this.trySend(action, slotKey);
      if (check.sentAt !== undefined) {
        sentAt = check.sentAt;
        break;
      }
      await this.sleep(check.waitMs, signal);
    }
    if (Date.now() > this.pruneAfter) {
      this.pruneAfter = Date.now() + 60_000;
      void this.query(
        'DELETE FROM zm_call_sent_per_second WHERE app_id = $1 AND second < extract(epoch FROM clock_timestamp()) - $2',
        [this.options.appId, SENT_KEPT_S]
      )
        .then(() => this.query('SELECT zm_call_forget_idle_sends($1, $2)', [this.options.appId, IDLE_LOG_S]))
        .catch(() => undefined); // housekeeping: the next minute tries again
    }
    return sentAt;
  }

  async backOff(action: string, key: string | undefined, ms: number): Promise<void> {
    const slotKey = this.slotKey(action, key);
    this.lanes.get(`${action}\u0000${slotKey}`)?.dropSpare();
    await this.query('SELECT zm_call_back_off($1, $2, $3, $4, $5)', [
      this.options.appId,
      action,
      slotKey,
      ms,
      defaultBudget(action).rate,
    ]);
  }

  async setRate(action: string, rate: number): Promise<void> {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`A budget must be a positive number of calls/s; got ${rate}`);
    // One statement, so the old rate is read from the snapshot the new one replaces. The next free slot is one
    // interval after the last reserved: it becomes the new interval.
    await this.query(
      `WITH old AS (
         SELECT coalesce((SELECT rate FROM zm_call_budget WHERE app_id = $1 AND action = $2), $4) AS rate,
                1 - zm_call_headroom($1, $2, $5) AS share),
       upsert AS (
         INSERT INTO zm_call_budget (app_id, action, rate) VALUES ($1, $2, $3)
         ON CONFLICT (app_id, action) DO UPDATE SET rate = excluded.rate)
       UPDATE zm_call_slot s
       SET next_at = s.next_at + make_interval(secs => (1 / $3 - 1 / old.rate) / old.share)
       FROM old WHERE s.app_id = $1 AND s.action = $2 AND s.next_at > clock_timestamp()`,
      [this.options.appId, action, rate, defaultBudget(action).rate, this.headroom]
    );
  }

  async sentInWindow(windowMs: number): Promise<Record<string, number>> {
    const rows = await this.query<{ action: string; calls: string }>(
      `WITH t AS (SELECT floor(extract(epoch FROM clock_timestamp()))::bigint AS end_s)
       SELECT action, sum(calls) AS calls FROM zm_call_sent_per_second, t
       WHERE app_id = $1 AND second >= t.end_s - $2 AND second < t.end_s GROUP BY action`,
      [this.options.appId, Math.round(windowMs / 1000)]
    );
    return Object.fromEntries(rows.map((r) => [r.action, Number(r.calls)]));
  }

  /** Closes the scheduler; the database connection is the caller's (it may serve staging too). */
  async close(): Promise<void> {
    for (const lane of this.lanes.values()) lane.stop();
    this.lanes.clear();
  }
}
