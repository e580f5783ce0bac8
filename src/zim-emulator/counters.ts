/** What the emulator has seen: calls per Action, refusals per code, per-item failures and injected faults. */
import type { ZimAction } from '../zim-client/actions';

export type FaultKind =
  'delayed' | 'latencySpike' | 'reset' | 'http5xx' | 'serverBusy' | 'tooFrequent' | 'commitThenDrop';

/** What happened to callbacks: each emitted callback ends delivered, dropped (retries exhausted) or lost (injected). */
export type CallbackCounter =
  | 'emitted'
  | 'attempts'
  | 'delivered'
  | 'retried'
  | 'dropped'
  | 'duplicated'
  | 'reordered'
  | 'lost'
  | 'echoBeforeResponse';

const noCallbacks = (): Record<CallbackCounter, number> => ({
  emitted: 0,
  attempts: 0,
  delivered: 0,
  retried: 0,
  dropped: 0,
  duplicated: 0,
  reordered: 0,
  lost: 0,
  echoBeforeResponse: 0,
});

export interface CountersSnapshot {
  /** Calls to the ZIM API path, valid Action or not. */
  requests: number;
  calls: Partial<Record<ZimAction, number>>;
  succeeded: Partial<Record<ZimAction, number>>;
  /** Answers with Code≠0, by code. */
  refusals: Record<string, number>;
  refusalsByAction: Partial<Record<ZimAction, Record<string, number>>>;
  /** SubCodes of items in partial-success lists. */
  itemFailures: Record<string, number>;
  faults: Record<FaultKind, number>;
  /** Handler crashes (answered with 100000015); always 0 unless the emulator has a bug. */
  internalErrors: number;
  /** Callbacks to the app's backend: `retried` counts attempts after the first, `duplicated` extra copies sent. */
  callbacks: Record<CallbackCounter, number>;
}

const bump = <K extends string>(record: Partial<Record<K, number>>, key: K, by = 1) => {
  record[key] = (record[key] ?? 0) + by;
};

export class Counters {
  #c: CountersSnapshot = Counters.#empty();

  static #empty(): CountersSnapshot {
    return {
      requests: 0,
      calls: {},
      succeeded: {},
      refusals: {},
      refusalsByAction: {},
      itemFailures: {},
      faults: { delayed: 0, latencySpike: 0, reset: 0, http5xx: 0, serverBusy: 0, tooFrequent: 0, commitThenDrop: 0 },
      internalErrors: 0,
      callbacks: noCallbacks(),
    };
  }

  request(): void {
    this.#c.requests += 1;
  }
  call(action: ZimAction): void {
    bump(this.#c.calls, action);
  }
  fault(kind: FaultKind): void {
    this.#c.faults[kind] += 1;
  }
  callback(kind: CallbackCounter): void {
    this.#c.callbacks[kind] += 1;
  }
  internalError(): void {
    this.#c.internalErrors += 1;
  }

  /** Records an answer: success, or a refusal by code; plus the SubCodes of any failure list. */
  answer(action: ZimAction | undefined, code: number, itemCodes: readonly number[] = []): void {
    if (code === 0 && action) bump(this.#c.succeeded, action);
    if (code !== 0) {
      bump(this.#c.refusals, String(code));
      if (action) bump((this.#c.refusalsByAction[action] ??= {}), String(code));
    }
    for (const sub of itemCodes) bump(this.#c.itemFailures, String(sub));
  }

  snapshot(): CountersSnapshot {
    return structuredClone(this.#c);
  }

  reset(): void {
    this.#c = Counters.#empty();
  }
}
