/**
 * How long conversations go without progress, sampled from the emulator once a second (issue #17: after a kill,
 * every child workflow should move again within seconds of a worker being back). A conversation copy progresses
 * when its lastSeq grows. A gap that spans a disruption is charged from the moment the disrupted part was back
 * (the worker restarted, the server up again) to the conversation's next message: the stall the disruption caused.
 * Gaps with no disruption inside are the baseline (budget and fan-out alone), printed beside it for scale.
 */

export interface Stall {
  /** `peer:<owner>><peer>` or `group:<id>`. */
  conversation: string;
  seconds: number;
  /** What was disrupted last before the conversation moved again (absent for the baseline). */
  after?: string;
}

export interface StallSpread {
  count: number;
  p50: number;
  p90: number;
}

export class ProgressGaps {
  readonly #last = new Map<string, { seq: number; at: number }>();
  readonly #disruptions: { at: number; label: string }[] = [];
  #afterDisruption: Stall | undefined;
  #quiet: Stall | undefined;
  /** Every stall a disruption caused (s): one long one can be the call lease, many mid-sized ones the restart. */
  readonly #stalls: number[] = [];

  /** The disrupted part is back at `at` (ms): gaps spanning this moment are charged from here. */
  disrupted(label: string, at: number): void {
    this.#disruptions.push({ at, label });
  }

  /** One sample of every conversation's lastSeq, taken at `at` (ms). */
  sample(marks: ReadonlyMap<string, number>, at: number): void {
    for (const [conversation, seq] of marks) {
      const last = this.#last.get(conversation);
      if (last && seq > last.seq) this.#gap(conversation, last.at, at);
      if (!last || seq > last.seq) this.#last.set(conversation, { seq, at });
    }
  }

  /** The longest time from a disruption to the next progress of a conversation it interrupted. */
  get longestAfterDisruption(): Stall | undefined {
    return this.#afterDisruption;
  }

  /** How many conversations a disruption stalled, and the median and 90th percentile of their stalls (s). */
  get stallSpread(): StallSpread | undefined {
    if (this.#stalls.length === 0) return undefined;
    const sorted = [...this.#stalls].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { count: sorted.length, p50: at(0.5), p90: at(0.9) };
  }

  /** The longest gap between two steps of one conversation with no disruption in between. */
  get longestQuiet(): Stall | undefined {
    return this.#quiet;
  }

  #gap(conversation: string, from: number, to: number): void {
    let latest: { at: number; label: string } | undefined;
    for (const d of this.#disruptions) if (d.at > from && d.at <= to && (!latest || d.at > latest.at)) latest = d;
    if (latest) {
      const seconds = (to - latest.at) / 1000;
      this.#stalls.push(seconds);
      if (!this.#afterDisruption || seconds > this.#afterDisruption.seconds)
        this.#afterDisruption = { conversation, seconds, after: latest.label };
    } else {
      const seconds = (to - from) / 1000;
      if (!this.#quiet || seconds > this.#quiet.seconds) this.#quiet = { conversation, seconds };
    }
  }
}
