/**
 * The call schedule's tables and functions in PostgreSQL (component `call-schedule` of zm_schema_version). Every
 * time is the database's own clock (`clock_timestamp()`, read after any row lock is granted), never a worker's:
 * workers on machines whose clocks disagree still agree on one timeline. Each operation is one function call, one
 * round trip, one short transaction holding one row lock.
 */
import type { SchemaStep } from '../postgres/schema-migrations';
import {
  EXTRA_HEADROOM_DECAY_MS,
  EXTRA_HEADROOM_MAX,
  EXTRA_HEADROOM_STEP,
  REFUSAL_ALLOWANCE_SHARE,
  REFUSAL_ALLOWANCE_WINDOW_MS,
} from './call-scheduler';

export const CALL_SCHEDULE_COMPONENT = 'call-schedule';

/** The adaptive extra headroom `extra` set at `at`, decayed to now (the same rule as extraHeadroomAt). */
const decayedExtra = (extra: string, at: string) =>
  `CASE WHEN ${at} IS NULL THEN 0 ELSE greatest(0, ${extra} - extract(epoch FROM clock_timestamp() - ${at}) * 1000 ` +
  `/ ${EXTRA_HEADROOM_DECAY_MS} * ${EXTRA_HEADROOM_STEP}) END`;

/** The budget's window of the send check: N sends per N / rate s, widened by `widen` of the headroom. */
const sendWindowDeclarations = (widen: string) => `
        v_rate double precision := coalesce(
          (SELECT rate FROM zm_call_budget WHERE app_id = p_app AND action = p_action), p_default_rate);
        v_n integer := greatest(1, floor(v_rate)::integer);
        v_window_ms double precision := v_n * 1000 / v_rate * (1 + zm_call_headroom(p_app, p_action, p_headroom) * ${widen});`;

/** A recorded send counted: the Action's calls and the second's sends. */
const countSend = `
        INSERT INTO zm_call_budget AS b (app_id, action, rate, calls) VALUES (p_app, p_action, p_default_rate, 1)
        ON CONFLICT (app_id, action) DO UPDATE SET calls = b.calls + 1;
        INSERT INTO zm_call_sent_per_second AS c (app_id, action, second, calls)
        VALUES (p_app, p_action, floor(extract(epoch FROM v_now))::bigint, 1)
        ON CONFLICT (app_id, action, second) DO UPDATE SET calls = c.calls + 1;
        wait_ms := 0;
        sent_at := extract(epoch FROM v_now) * 1000;`;

/**
 * The send check of steps 1 and 3 (applied steps: their SQL must not change), the log of the last N sends an array
 * rewritten whole on every send: records a send now (wait_ms 0, sent_at its epoch ms on the database's clock), or
 * returns the ms until the budget's window allows one.
 */
const trySendFunction = (create: 'CREATE FUNCTION' | 'CREATE OR REPLACE FUNCTION', widen: string) => `
      ${create} zm_call_try_send(p_app bigint, p_action text, p_key text,
        p_default_rate double precision, p_headroom double precision,
        OUT wait_ms double precision, OUT sent_at double precision)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_rate double precision := coalesce(
          (SELECT rate FROM zm_call_budget WHERE app_id = p_app AND action = p_action), p_default_rate);
        v_n integer := greatest(1, floor(v_rate)::integer);
        v_window_ms double precision := v_n * 1000 / v_rate * (1 + zm_call_headroom(p_app, p_action, p_headroom) * ${widen});
        v_times timestamptz[];
        v_now timestamptz;
        v_len integer;
        v_age_ms double precision;
      BEGIN
        INSERT INTO zm_call_recent_sends (app_id, action, key, times) VALUES (p_app, p_action, p_key, '{}')
        ON CONFLICT DO NOTHING;
        SELECT times INTO v_times FROM zm_call_recent_sends
        WHERE app_id = p_app AND action = p_action AND key = p_key FOR UPDATE;
        v_now := clock_timestamp();
        v_len := cardinality(v_times);
        IF v_len >= v_n THEN
          v_age_ms := extract(epoch FROM v_now - v_times[v_len - v_n + 1]) * 1000;
          IF v_age_ms < v_window_ms THEN wait_ms := v_window_ms - v_age_ms; RETURN; END IF;
        END IF;
        v_times := v_times || v_now;
        v_len := v_len + 1;
        UPDATE zm_call_recent_sends SET times = v_times[greatest(1, v_len - v_n + 1):v_len]
        WHERE app_id = p_app AND action = p_action AND key = p_key;
        INSERT INTO zm_call_budget AS b (app_id, action, rate, calls) VALUES (p_app, p_action, p_default_rate, 1)
        ON CONFLICT (app_id, action) DO UPDATE SET calls = b.calls + 1;
        INSERT INTO zm_call_sent_per_second AS c (app_id, action, second, calls)
        VALUES (p_app, p_action, floor(extract(epoch FROM v_now))::bigint, 1)
        ON CONFLICT (app_id, action, second) DO UPDATE SET calls = c.calls + 1;
        wait_ms := 0;
        sent_at := extract(epoch FROM v_now) * 1000;
      END $$;`;

/**
 * The send check from step 4 on, with the same answers as the array's: the log one row per send (zm_call_send_log),
 * so that a send costs the same at any N. The log's head row, locked first, orders the checks of one log; the N-th
 * last send is then one row found by its number, and the send leaving the last N is deleted as the new one comes.
 */
const rowTrySendFunction = `
      CREATE OR REPLACE FUNCTION zm_call_try_send(p_app bigint, p_action text, p_key text,
        p_default_rate double precision, p_headroom double precision,
        OUT wait_ms double precision, OUT sent_at double precision)
      LANGUAGE plpgsql AS $$
      DECLARE${sendWindowDeclarations('0.5')}
        v_last bigint;
        v_first bigint;
        v_nth timestamptz;
        v_now timestamptz;
        v_age_ms double precision;
      BEGIN
        INSERT INTO zm_call_send_head (app_id, action, key, last_n, first_n) VALUES (p_app, p_action, p_key, 0, 1)
        ON CONFLICT DO NOTHING;
        SELECT last_n, first_n INTO v_last, v_first FROM zm_call_send_head
        WHERE app_id = p_app AND action = p_action AND key = p_key FOR UPDATE;
        v_now := clock_timestamp();
        -- The N-th last send, if the log has it (after a budget was raised it holds fewer than N: none to wait for).
        SELECT at INTO v_nth FROM zm_call_send_log
        WHERE app_id = p_app AND action = p_action AND key = p_key AND n = v_last - v_n + 1;
        IF FOUND THEN
          v_age_ms := extract(epoch FROM v_now - v_nth) * 1000;
          IF v_age_ms < v_window_ms THEN wait_ms := v_window_ms - v_age_ms; RETURN; END IF;
        END IF;
        INSERT INTO zm_call_send_log (app_id, action, key, n, at) VALUES (p_app, p_action, p_key, v_last + 1, v_now);
        -- Keep the last N: one row goes as one comes (all the surplus once after a budget was lowered). From first_n
        -- on, so that the index scan starts at the oldest live row, not among the deleted ones before it.
        DELETE FROM zm_call_send_log
        WHERE app_id = p_app AND action = p_action AND key = p_key AND n >= v_first AND n <= v_last + 1 - v_n;
        UPDATE zm_call_send_head SET last_n = v_last + 1, first_n = greatest(v_first, v_last + 2 - v_n)
        WHERE app_id = p_app AND action = p_action AND key = p_key;${countSend}
      END $$;`;

export const CALL_SCHEDULE_SCHEMA: readonly SchemaStep[] = [
  {
    version: 1,
    name: 'budgets, slots, recent sends, sends per second; reserve, send, back off',
    sql: `
      -- Per app and Action: the operator's budget (else ZIM's default, written on first use), counters, and the
      -- adaptive headroom "too frequent" answers added (extra, as of extra_at).
      CREATE TABLE zm_call_budget (
        app_id bigint NOT NULL, action text NOT NULL, rate double precision NOT NULL,
        calls bigint NOT NULL DEFAULT 0, refusals bigint NOT NULL DEFAULT 0,
        extra double precision NOT NULL DEFAULT 0, extra_at timestamptz,
        PRIMARY KEY (app_id, action));
      -- GCRA: the next free slot of an Action ('' key) or of one group of a per-group Action.
      CREATE TABLE zm_call_slot (
        app_id bigint NOT NULL, action text NOT NULL, key text NOT NULL, next_at timestamptz NOT NULL,
        PRIMARY KEY (app_id, action, key));
      -- The times of the last N sends (N = the budget), oldest first: the sliding-window log of the send check.
      CREATE TABLE zm_call_recent_sends (
        app_id bigint NOT NULL, action text NOT NULL, key text NOT NULL, times timestamptz[] NOT NULL,
        PRIMARY KEY (app_id, action, key));
      CREATE TABLE zm_call_sent_per_second (
        app_id bigint NOT NULL, action text NOT NULL, second bigint NOT NULL, calls integer NOT NULL,
        PRIMARY KEY (app_id, action, second));

      -- The share of the budget left unused now: the configured headroom plus the decayed extra.
      CREATE FUNCTION zm_call_headroom(p_app bigint, p_action text, p_headroom double precision)
      RETURNS double precision LANGUAGE sql STABLE AS $$
        SELECT p_headroom + coalesce((SELECT ${decayedExtra('b.extra', 'b.extra_at')}
          FROM zm_call_budget b WHERE b.app_id = p_app AND b.action = p_action), 0)
      $$;

      -- Reserves p_count consecutive slots (a lease) in one statement: the first is at start, the others one
      -- interval apart. Returns how far the first is from now and the interval, both in ms.
      CREATE FUNCTION zm_call_reserve(p_app bigint, p_action text, p_key text, p_count integer,
        p_default_rate double precision, p_headroom double precision,
        OUT wait_ms double precision, OUT interval_ms double precision)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_rate double precision := coalesce(
          (SELECT rate FROM zm_call_budget WHERE app_id = p_app AND action = p_action), p_default_rate);
        v_next timestamptz;
      BEGIN
        interval_ms := 1000 / (v_rate * (1 - zm_call_headroom(p_app, p_action, p_headroom)));
        INSERT INTO zm_call_slot AS s (app_id, action, key, next_at)
        VALUES (p_app, p_action, p_key, clock_timestamp() + make_interval(secs => p_count * interval_ms / 1000))
        ON CONFLICT (app_id, action, key) DO UPDATE
          SET next_at = greatest(s.next_at, clock_timestamp()) + make_interval(secs => p_count * interval_ms / 1000)
        RETURNING next_at INTO v_next;
        wait_ms := extract(epoch FROM v_next - clock_timestamp()) * 1000 - p_count * interval_ms;
      END $$;

      ${trySendFunction('CREATE FUNCTION', '1')}

      -- "Too frequent": nobody calls the Action (for the key) for p_ms, and its headroom grows one step.
      CREATE FUNCTION zm_call_back_off(p_app bigint, p_action text, p_key text, p_ms double precision,
        p_default_rate double precision)
      RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO zm_call_slot AS s (app_id, action, key, next_at)
        VALUES (p_app, p_action, p_key, clock_timestamp() + make_interval(secs => p_ms / 1000))
        ON CONFLICT (app_id, action, key) DO UPDATE SET next_at = greatest(s.next_at, excluded.next_at);
        INSERT INTO zm_call_budget AS b (app_id, action, rate, refusals, extra, extra_at)
        VALUES (p_app, p_action, p_default_rate, 1, ${EXTRA_HEADROOM_STEP}, clock_timestamp())
        ON CONFLICT (app_id, action) DO UPDATE SET refusals = b.refusals + 1,
          extra = least(${EXTRA_HEADROOM_MAX}, ${decayedExtra('b.extra', 'b.extra_at')} + ${EXTRA_HEADROOM_STEP}),
          extra_at = clock_timestamp();
      END $$;`,
  },
  {
    version: 2,
    name: 'the call gate of each migration',
    sql: `
      -- Closed while a migration is paused or cancelled: its message imports wait before calling ZIM (see
      -- activities/call-gate.ts). In the database every worker reads, so a pause reaches all machines at once.
      CREATE TABLE zm_call_gate (
        migration text PRIMARY KEY, open boolean NOT NULL, changed_at timestamptz NOT NULL DEFAULT clock_timestamp());`,
  },
  {
    version: 3,
    name: 'the send check widens the window by half the headroom, as sendWindow does',
    // Version 1 widened it by the whole headroom: the window then equalled N GCRA slots, so a send held back by the
    // check (a late wake-up) held back every later one, each by its own round trip, and 3 workers on PostgreSQL used
    // ~95% of a budget the schedule spaces at 98%. Half the headroom leaves 10 ms of jitter room at 20/s, as SQLite.
    sql: trySendFunction('CREATE OR REPLACE FUNCTION', '0.5'),
  },
  {
    version: 4,
    name: 'the send log one row per send',
    // The array of steps 1-3 was read and written whole on every send: O(N), N = 100,000 with budgets lifted.
    sql: `
      -- The sliding-window log of the send check: the n-th send of an Action (or of one group of a per-group
      -- Action) at \`at\`; each log keeps its last N sends (N = the budget).
      CREATE TABLE zm_call_send_log (
        app_id bigint NOT NULL, action text NOT NULL, key text NOT NULL, n bigint NOT NULL, at timestamptz NOT NULL,
        PRIMARY KEY (app_id, action, key, n));
      -- Each log's numbering: its last send's n and its oldest kept n. Its row lock orders the log's send checks.
      CREATE TABLE zm_call_send_head (
        app_id bigint NOT NULL, action text NOT NULL, key text NOT NULL, last_n bigint NOT NULL,
        first_n bigint NOT NULL, PRIMARY KEY (app_id, action, key));

      -- A store of steps 1-3: each array becomes its rows, oldest first, so the budget holds across the upgrade.
      -- The lock waits for the send checks in flight on workers of the previous version and holds back theirs that
      -- follow, so that no send is missed; those then fail (their table is gone) and their attempts retry, with
      -- this function (workers call it by name, so workers of either version share the new log).
      LOCK TABLE zm_call_recent_sends IN ACCESS EXCLUSIVE MODE;
      INSERT INTO zm_call_send_log (app_id, action, key, n, at)
      SELECT r.app_id, r.action, r.key, t.n, t.at FROM zm_call_recent_sends r, unnest(r.times) WITH ORDINALITY AS t(at, n);
      INSERT INTO zm_call_send_head (app_id, action, key, last_n, first_n)
      SELECT app_id, action, key, cardinality(times), 1 FROM zm_call_recent_sends;
      DROP TABLE zm_call_recent_sends;
      ${rowTrySendFunction}

      -- Forgets the logs of an app whose last send is p_idle_s old (groups whose copy is done): a send's rows are
      -- otherwise kept until N later sends of its log. Never within twice the budget's window (the check cannot
      -- tell a forgotten send from none). Under each log's head lock, so no send check of it runs meanwhile.
      CREATE FUNCTION zm_call_forget_idle_sends(p_app bigint, p_idle_s double precision)
      RETURNS void LANGUAGE sql AS $$
        WITH idle AS (
          SELECT h.app_id, h.action, h.key FROM zm_call_send_head h
          JOIN zm_call_send_log l ON l.app_id = h.app_id AND l.action = h.action AND l.key = h.key AND l.n = h.last_n
          JOIN zm_call_budget b ON b.app_id = h.app_id AND b.action = h.action
          WHERE h.app_id = p_app AND l.at < clock_timestamp()
            - make_interval(secs => greatest(p_idle_s, 2 * greatest(1, floor(b.rate)) / b.rate))
          FOR UPDATE OF h SKIP LOCKED),
        forgotten AS (
          DELETE FROM zm_call_send_log l USING idle i
          WHERE l.app_id = i.app_id AND l.action = i.action AND l.key = i.key)
        UPDATE zm_call_send_head h SET first_n = h.last_n + 1 FROM idle i
        WHERE h.app_id = i.app_id AND h.action = i.action AND h.key = i.key
      $$;`,
  },
  {
    version: 5,
    name: 'refusals within an allowance add no headroom',
    // The same rule as countRefusal: a leaky bucket per Action that one refusal fills by one, drained at 0.1% of
    // the budget's calls and holding five minutes of that; only a refusal that overflows it adds headroom.
    sql: `
      ALTER TABLE zm_call_budget ADD COLUMN refused_level double precision NOT NULL DEFAULT 0,
        ADD COLUMN refused_at timestamptz;
      CREATE OR REPLACE FUNCTION zm_call_back_off(p_app bigint, p_action text, p_key text, p_ms double precision,
        p_default_rate double precision)
      RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        v_b zm_call_budget%ROWTYPE;
        v_per_s double precision;
        v_capacity double precision;
        v_level double precision;
      BEGIN
        INSERT INTO zm_call_slot AS s (app_id, action, key, next_at)
        VALUES (p_app, p_action, p_key, clock_timestamp() + make_interval(secs => p_ms / 1000))
        ON CONFLICT (app_id, action, key) DO UPDATE SET next_at = greatest(s.next_at, excluded.next_at);
        INSERT INTO zm_call_budget (app_id, action, rate) VALUES (p_app, p_action, p_default_rate)
        ON CONFLICT DO NOTHING;
        SELECT * INTO v_b FROM zm_call_budget WHERE app_id = p_app AND action = p_action FOR UPDATE;
        v_per_s := v_b.rate * ${REFUSAL_ALLOWANCE_SHARE};
        v_capacity := greatest(1, v_per_s * ${REFUSAL_ALLOWANCE_WINDOW_MS / 1000});
        v_level := greatest(0, v_b.refused_level
          - coalesce(extract(epoch FROM clock_timestamp() - v_b.refused_at), 0) * v_per_s) + 1;
        -- Past the allowance: one step more of headroom (and the bucket stays full).
        UPDATE zm_call_budget b SET refusals = b.refusals + 1, refused_level = least(v_level, v_capacity),
          refused_at = clock_timestamp(),
          extra = CASE WHEN v_level > v_capacity
            THEN least(${EXTRA_HEADROOM_MAX}, ${decayedExtra('b.extra', 'b.extra_at')} + ${EXTRA_HEADROOM_STEP})
            ELSE b.extra END,
          extra_at = CASE WHEN v_level > v_capacity THEN clock_timestamp() ELSE b.extra_at END
        WHERE app_id = p_app AND action = p_action;
      END $$;`,
  },
];
