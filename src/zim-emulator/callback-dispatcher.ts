/**
 * Delivers the emulated app's callbacks to its backend as ZEGO does (coexistence.md §3.2–§3.5): a POST of the
 * common envelope plus the event's fields, signed per attempt, retried on a non-2xx answer or a timeout after each
 * delay of the schedule, then dropped. Seeded faults duplicate, hold back (reorder) or lose callbacks: every
 * callback draws the same three random values, so the faults of the n-th callback depend only on the seed and n.
 */
import { randomInt } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { signCallback } from '../zim-callbacks/signature';
import type { CallbackPayload } from '../zim-callbacks/events';
import {
  CallbacksPatchSchema,
  CallbacksSchema,
  publicCallbacks,
  type CallbacksConfig,
  type CallbacksInput,
  type CallbacksPatch,
} from './callback-config';
import { describeIssues } from './config';
import type { Counters } from './counters';
import { COMMAND_MESSAGE } from './message-body';

/** Posts a body and resolves with the HTTP status; rejects on a network error or timeout. */
export type CallbackTransport = (url: string, body: string, timeoutMs: number, signal: AbortSignal) => Promise<number>;

const fetchTransport: CallbackTransport = async (url, body, timeoutMs, signal) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
};

export type DeliveryOutcome = 'pending' | 'delivered' | 'dropped' | 'lost';

export interface DeliveryRecord {
  id: number;
  event: string;
  /** A duplicate's record names the callback it copies. */
  duplicateOf?: number;
  reordered: boolean;
  /** HTTP status per attempt, or 'error' (network error, timeout). */
  attempts: Array<number | 'error'>;
  outcome: DeliveryOutcome;
  /** The business fields (no signature). */
  fields: Record<string, unknown>;
}

export interface CallbackDispatcherOptions {
  appId: number;
  /** The ServerSecret, the callback secret when none of its own is configured. */
  serverSecret: string;
  clock: () => number;
  counters: Counters;
  transport?: CallbackTransport;
}

export class CallbackDispatcher {
  #config: CallbacksConfig;
  #rng: RandomGenerator;
  readonly #o: CallbackDispatcherOptions;
  readonly #transport: CallbackTransport;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #stop = new AbortController();
  readonly #log: DeliveryRecord[] = [];
  #nextId = 1;
  #pending = 0;
  #idle: Array<() => void> = [];

  constructor(input: CallbacksInput | undefined, options: CallbackDispatcherOptions) {
    this.#o = options;
    this.#transport = options.transport ?? fetchTransport;
    this.#config = CallbacksSchema.parse(input ?? {});
    this.#rng = xoroshiro128plus(this.#config.faults.seed);
  }

  get config(): CallbacksConfig {
    return this.#config;
  }

  publicConfig() {
    return publicCallbacks(this.#config);
  }

  /** Changes what the patch names; a patch with `faults` replaces them and reseeds the generator. */
  configure(patch: CallbacksPatch) {
    const parsed = CallbacksPatchSchema.safeParse(patch);
    if (!parsed.success) throw new TypeError(`Invalid callback configuration: ${describeIssues(parsed.error)}`);
    const { url, switches, ...rest } = parsed.data;
    const next: CallbacksConfig = {
      ...this.#config,
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      switches: { ...this.#config.switches, ...switches },
    };
    if (url !== undefined) next.url = url ?? undefined;
    this.#config = CallbacksSchema.parse(next);
    if (parsed.data.faults) this.#rng = xoroshiro128plus(this.#config.faults.seed);
    return this.publicConfig();
  }

  /** Delivery records, oldest first (the newest `logSize`). */
  log(filter: { outcome?: DeliveryOutcome; event?: string } = {}): DeliveryRecord[] {
    return this.#log.filter(
      (r) => (!filter.outcome || r.outcome === filter.outcome) && (!filter.event || r.event === filter.event)
    );
  }

  /** Resolves once no delivery is pending (scheduled, in flight or waiting to retry). */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  get pending(): number {
    return this.#pending;
  }

  /**
   * Sends callbacks for what one call did, in order, unless callbacks are off or the event is not enabled. Returns
   * undefined, or, for a call drawn for the echo-before-response fault, a promise of these callbacks' first attempts.
   */
  emit(payloads: readonly CallbackPayload[]): Promise<void> | undefined {
    const c = this.#config;
    if (!c.url) return undefined;
    const firstAttempts: Array<Promise<void>> = [];
    for (const p of payloads) {
      if (!c.events.includes(p.event)) continue;
      // ZIM fires send_msg for every type but command (2) messages (coexistence.md §3.3).
      if (p.event === 'send_msg' && p.fields.msg_type === COMMAND_MESSAGE) continue;
      const eventName = p.event === 'group_join' ? c.switches.groupJoinEventName : p.event;
      this.#o.counters.callback('emitted');
      const draw = () => uniformFloat64(this.#rng);
      const [loss, duplicate, reorder] = [draw(), draw(), draw()];
      const record = this.#record(eventName, p.fields, reorder < c.faults.reorderRate);
      if (loss < c.faults.lossRate) {
        record.outcome = 'lost';
        this.#o.counters.callback('lost');
        continue;
      }
      if (record.reordered) this.#o.counters.callback('reordered');
      firstAttempts.push(this.#start(record, c.url, record.reordered ? c.faults.reorderDelayMs : 0));
      if (duplicate < c.faults.duplicateRate) {
        this.#o.counters.callback('duplicated');
        const copy = this.#record(eventName, p.fields, false);
        copy.duplicateOf = record.id;
        void this.#start(copy, c.url, c.faults.duplicateDelayMs + (record.reordered ? c.faults.reorderDelayMs : 0));
      }
    }
    // Drawn only when configured, so seeds chosen before this fault existed replay the same faults.
    const hold = c.faults.echoBeforeResponseRate > 0 && uniformFloat64(this.#rng) < c.faults.echoBeforeResponseRate;
    if (!hold || firstAttempts.length === 0) return undefined;
    this.#o.counters.callback('echoBeforeResponse');
    return Promise.all(firstAttempts).then(() => undefined);
  }

  /** Cancels every pending delivery (the emulator is stopping). */
  stop(): void {
    this.#stop.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#pending = 0;
    this.#settle();
  }

  #record(event: string, fields: Record<string, unknown>, reordered: boolean): DeliveryRecord {
    const record: DeliveryRecord = { id: this.#nextId++, event, reordered, attempts: [], outcome: 'pending', fields };
    if (this.#config.logSize > 0) {
      this.#log.push(record);
      if (this.#log.length > this.#config.logSize) this.#log.splice(0, this.#log.length - this.#config.logSize);
    }
    return record;
  }

  /** Schedules the first attempt; resolves when it is over (whatever its outcome) or delivery stopped. */
  #start(record: DeliveryRecord, url: string, delayMs: number): Promise<void> {
    this.#pending += 1;
    const signed = this.#config.switches.freshSignaturePerAttempt ? undefined : this.#envelope(record);
    // A stop that clears the timer leaves this unresolved; the emulator then closes every connection anyway.
    return new Promise((resolve) => this.#after(delayMs, () => this.#attempt(record, url, signed).finally(resolve)));
  }

  /** The body of one attempt: the common fields (appid and nonce as strings, timestamp in s), then the event's. */
  #envelope(record: DeliveryRecord): string {
    const timestamp = Math.floor(this.#o.clock() / 1000);
    const nonce = String(randomInt(1, 2 ** 31));
    const secret = this.#config.secret ?? this.#o.serverSecret;
    return JSON.stringify({
      appid: String(this.#o.appId),
      event: record.event,
      nonce,
      signature: signCallback(secret, { timestamp, nonce }),
      timestamp,
      ...record.fields,
    });
  }

  async #attempt(record: DeliveryRecord, url: string, signed: string | undefined): Promise<void> {
    const c = this.#config;
    this.#o.counters.callback('attempts');
    let status: number | 'error';
    try {
      status = await this.#transport(url, signed ?? this.#envelope(record), c.attemptTimeoutMs, this.#stop.signal);
    } catch {
      status = 'error';
    }
    if (this.#stop.signal.aborted) return;
    record.attempts.push(status);
    this.#afterAttempt(record, url, signed, status);
  }

  #afterAttempt(record: DeliveryRecord, url: string, signed: string | undefined, status: number | 'error'): void {
    const c = this.#config;
    if (typeof status === 'number' && status >= 200 && status < 300) {
      record.outcome = 'delivered';
      this.#o.counters.callback('delivered');
      return this.#finish();
    }
    const delay = c.retryDelaysMs[record.attempts.length - 1];
    if (delay === undefined) {
      record.outcome = 'dropped';
      this.#o.counters.callback('dropped');
      return this.#finish();
    }
    this.#o.counters.callback('retried');
    this.#after(delay, () => this.#attempt(record, url, signed));
  }

  #after(ms: number, run: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void run();
    }, ms);
    this.#timers.add(timer);
  }

  #finish(): void {
    this.#pending -= 1;
    this.#settle();
  }

  #settle(): void {
    if (this.#pending > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}
