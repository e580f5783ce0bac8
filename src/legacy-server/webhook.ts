/**
 * Delivery of the reference server's routing events to one URL, as the contract asks of a legacy backend: each
 * attempt signed afresh (HMAC-SHA256 over timestamp and body), retried with backoff on a non-2xx answer or a
 * network error, dropped after the last retry; a seeded share delivered twice, and a seeded share held back so that
 * later events overtake it, to prove duplicates and reordering are absorbed; and a seeded share lost outright (never
 * attempted), which only the reconciliation audit recovers.
 */
import { request } from 'undici';
import type { LegacyRoutingEvent } from '../coexist/legacy-contract';
import { LEGACY_SIGNATURE_HEADER, LEGACY_TIMESTAMP_HEADER } from '../coexist/legacy-contract';
import { signLegacyEvent } from '../coexist/legacy-signature';

export interface WebhookOptions {
  url?: string | undefined;
  secret: string;
  /** Delays before each retry (ms). */
  retryDelaysMs: number[];
  attemptTimeoutMs: number;
  /** Share of events delivered a second time (same eventId), seeded. */
  duplicateRate: number;
  /** Share of events held back `reorderDelayMs` before their first attempt, so later ones overtake them, seeded. */
  reorderRate?: number;
  reorderDelayMs?: number;
  /** Share of events lost outright, never attempted (seeded): recovered only by the reconciliation audit. */
  lossRate?: number;
  seed: number;
}

export interface Delivery {
  eventId: string;
  type: string;
  attempts: number[];
  /** lost: dropped after the last retry (or the sync refused it: 410); lost-on-purpose: the seeded loss. */
  outcome: 'delivered' | 'lost' | 'lost-on-purpose' | 'pending';
  duplicate: boolean;
  reordered: boolean;
}

/** mulberry32: small, seeded, good enough for fault injection. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class WebhookDispatcher {
  readonly log: Delivery[] = [];
  #random: () => number;
  #inFlight = new Set<Promise<void>>();
  #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #stopped = false;

  constructor(private options: WebhookOptions) {
    this.#random = seeded(options.seed);
  }

  configure(patch: Partial<WebhookOptions>): void {
    this.options = { ...this.options, ...patch };
    if (patch.seed !== undefined) this.#random = seeded(patch.seed);
  }

  emit(event: LegacyRoutingEvent): void {
    if (!this.options.url) return;
    const copies = this.#random() < this.options.duplicateRate ? 2 : 1;
    // Drawn only when reordering is on, so a seed keeps the duplicates it always had.
    const reorderRate = this.options.reorderRate ?? 0;
    const holdMs = reorderRate > 0 && this.#random() < reorderRate ? (this.options.reorderDelayMs ?? 200) : 0;
    const lossRate = this.options.lossRate ?? 0;
    if (lossRate > 0 && this.#random() < lossRate) {
      this.log.push({
        eventId: event.eventId,
        type: event.type,
        attempts: [],
        outcome: 'lost-on-purpose',
        duplicate: false,
        reordered: false,
      });
      return;
    }
    for (let i = 0; i < copies; i++) {
      const p = this.#deliver(event, i > 0, holdMs).finally(() => this.#inFlight.delete(p));
      this.#inFlight.add(p);
    }
  }

  /** Resolves when every delivery started so far has succeeded or been dropped. */
  async idle(): Promise<void> {
    while (this.#inFlight.size) await Promise.all([...this.#inFlight]);
  }

  /** Stops retrying: pending deliveries end as lost at once. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.#timers.clear();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: setTimeout(() => (this.#timers.delete(entry), resolve()), ms), resolve };
      this.#timers.add(entry);
    });
  }

  async #deliver(event: LegacyRoutingEvent, duplicate: boolean, holdMs: number): Promise<void> {
    const record: Delivery = {
      eventId: event.eventId,
      type: event.type,
      attempts: [],
      outcome: 'pending',
      duplicate,
      reordered: holdMs > 0,
    };
    this.log.push(record);
    const body = JSON.stringify(event);
    const delays = [holdMs, ...this.options.retryDelaysMs];
    for (const delay of delays) {
      if (delay) await this.#sleep(delay);
      const url = this.options.url;
      if (!url || this.#stopped) break;
      const timestamp = String(Math.floor(Date.now() / 1000));
      try {
        const res = await request(url, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            [LEGACY_TIMESTAMP_HEADER]: timestamp,
            [LEGACY_SIGNATURE_HEADER]: signLegacyEvent(this.options.secret, timestamp, body),
          },
          headersTimeout: this.options.attemptTimeoutMs,
          bodyTimeout: this.options.attemptTimeoutMs,
        });
        await res.body.dump();
        record.attempts.push(res.statusCode);
        if (res.statusCode >= 200 && res.statusCode < 300) {
          record.outcome = 'delivered';
          return;
        }
        // 410: the sync is stopped (docs/coexistence.md §1.1); retrying cannot help.
        if (res.statusCode === 410) break;
      } catch {
        record.attempts.push(0);
      }
    }
    record.outcome = 'lost';
  }
}
