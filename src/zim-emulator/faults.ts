/**
 * Seeded fault injection. Every call that faults apply to draws the same number of random values, so the decision
 * for the n-th call depends only on the seed and n: a failing test replays with the same seed.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { ZimAction } from '../zim-client/actions';
import { FaultsSchema, type Faults, type FaultsInput } from './config';

export interface FaultDecision {
  delayMs: number;
  /** Part of `delayMs` that is a latency spike. */
  spike: boolean;
  reset: boolean;
  http5xx: boolean;
  serverBusy: boolean;
  tooFrequent: boolean;
  commitThenDrop: boolean;
}

export class FaultInjector {
  #faults: Faults = FaultsSchema.parse({});
  #rng: RandomGenerator = xoroshiro128plus(1);
  #burstLeft = 0;
  #active = false;

  constructor(faults: FaultsInput = {}) {
    this.set(faults);
  }

  /** Replaces the whole fault configuration and restarts the generator from its seed. */
  set(input: FaultsInput): Faults {
    const faults = FaultsSchema.parse(input);
    this.#faults = faults;
    this.#rng = xoroshiro128plus(faults.seed);
    this.#burstLeft = 0;
    this.#active =
      faults.latencyMs > 0 ||
      faults.latencyJitterMs > 0 ||
      (faults.latencySpike?.rate ?? 0) > 0 ||
      faults.http5xxRate > 0 ||
      faults.resetRate > 0 ||
      faults.serverBusyRate > 0 ||
      (faults.tooFrequentBurst?.startRate ?? 0) > 0 ||
      faults.commitThenDropRate > 0;
    return faults;
  }

  get config(): Faults {
    return this.#faults;
  }

  /** The faults for one call, or undefined when none apply to it. */
  decide(action: ZimAction): FaultDecision | undefined {
    const f = this.#faults;
    if (!this.#active || (f.actions && !f.actions.includes(action))) return undefined;
    const draw = () => uniformFloat64(this.#rng);
    const [jitter, reset, http5xx, busy, burst, drop] = [draw(), draw(), draw(), draw(), draw(), draw()];
    // Drawn only when spikes are configured, so seeds chosen before spikes existed replay the same faults.
    const spike = f.latencySpike !== undefined && draw() < f.latencySpike.rate;
    let tooFrequent = false;
    if (this.#burstLeft > 0) {
      this.#burstLeft -= 1;
      tooFrequent = true;
    } else if (f.tooFrequentBurst && burst < f.tooFrequentBurst.startRate) {
      this.#burstLeft = f.tooFrequentBurst.length - 1;
      tooFrequent = true;
    }
    return {
      delayMs: f.latencyMs + jitter * f.latencyJitterMs + (spike ? f.latencySpike!.ms : 0),
      spike,
      reset: reset < f.resetRate,
      http5xx: http5xx < f.http5xxRate,
      serverBusy: busy < f.serverBusyRate,
      tooFrequent,
      commitThenDrop: drop < f.commitThenDropRate,
    };
  }
}
