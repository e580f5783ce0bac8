/**
 * Sliding one-second windows: a call is accepted when fewer than `limit` calls were accepted in the last second.
 * This is the strictest reading of "N/s", so a client that passes here also passes a fixed-window server.
 * Refused calls do not consume budget. Each window is a ring of the last `limit` acceptance times: O(1) per call.
 */
interface Window {
  times: Float64Array;
  next: number;
  filled: number;
}

export class SlidingWindowLimiter {
  readonly #windows = new Map<string, Window>();

  constructor(private readonly windowMs = 1000) {}

  tryAcquire(key: string, limit: number, now: number): boolean {
    let w = this.#windows.get(key);
    if (!w || w.times.length !== limit) {
      w = { times: new Float64Array(limit), next: 0, filled: 0 };
      this.#windows.set(key, w);
    }
    // The slot about to be overwritten holds the oldest of the last `limit` acceptances.
    if (w.filled === limit && now - w.times[w.next]! < this.windowMs) return false;
    w.times[w.next] = now;
    w.next = (w.next + 1) % limit;
    if (w.filled < limit) w.filled += 1;
    return true;
  }

  reset(): void {
    this.#windows.clear();
  }
}
