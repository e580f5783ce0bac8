/**
 * Remembers the (timestamp, nonce or signature) of deliveries already accepted, for as long as a timestamp stays
 * fresh, so a captured delivery cannot be replayed — ZIM's signature does not cover the body, so a replay could
 * carry another one. Per process: behind a load balancer each receiver keeps its own, and a replay that lands on
 * another receiver still meets the freshness check and the workflows' dedup by event key.
 */
export class ReplayCache {
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000
  ) {}

  has(key: string, now: number): boolean {
    const until = this.#seen.get(key);
    return until !== undefined && until > now;
  }

  add(key: string, now: number): void {
    if (this.#seen.size >= this.maxEntries) this.#evict(now);
    this.#seen.set(key, now + this.ttlMs);
  }

  #evict(now: number): void {
    for (const [k, until] of this.#seen) if (until <= now) this.#seen.delete(k);
    // Still full of live entries: drop the oldest (insertion order).
    for (const k of this.#seen.keys()) {
      if (this.#seen.size < this.maxEntries) break;
      this.#seen.delete(k);
    }
  }
}
