/** A seeded random source for synthetic exports (pure-rand's xoroshiro128+): same seed, same sequence. */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

type Generator = ReturnType<typeof xoroshiro128plus>;

export class Rng {
  private readonly g: Generator;

  constructor(seed: number) {
    this.g = xoroshiro128plus(seed);
  }

  /** An independent stream for one part of the data, so that changing one part leaves the others alone. */
  fork(salt: number): Rng {
    return new Rng((uniformInt(this.g, 0, 0x7fffffff) ^ Math.imul(salt + 1, 0x9e3779b1)) | 0);
  }

  int(min: number, max: number): number {
    return uniformInt(this.g, min, max);
  }

  float(): number {
    return uniformFloat64(this.g);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  /** Pareto-distributed integer ≥ min: most values small, a few very large (conversation and group sizes). */
  powerLaw(min: number, max: number, alpha: number): number {
    const u = 1 - this.float();
    return Math.min(max, Math.floor(min / Math.pow(u, 1 / alpha)));
  }

  /** Exponentially distributed gap with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }
}
