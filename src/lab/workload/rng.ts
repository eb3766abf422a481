/**
 * A small seedable PRNG (mulberry32): the same seed gives the same arrival schedule and the same
 * operation choices, so a run can be replayed. Not for cryptography.
 */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Exponentially distributed with the given mean (inter-arrival gaps of a Poisson process). */
  exponential(mean: number): number {
    // 1 - next() is in (0, 1], so the logarithm is finite.
    return -Math.log(1 - this.next()) * mean;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("cannot pick from an empty list");
    return items[this.int(items.length)] as T;
  }

  /** A key of `weights` with probability proportional to its weight (weights ≥ 0, sum > 0). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const sum = entries.reduce((total, [, weight]) => total + weight, 0);
    let point = this.next() * sum;
    for (const [key, weight] of entries) {
      if (point < weight) return key;
      point -= weight;
    }
    // Rounding at the very end of the range: the last key with a positive weight.
    const last = entries.filter(([, weight]) => weight > 0).at(-1);
    if (!last) throw new Error("weights must have a positive sum");
    return last[0];
  }
}

/** A seed from the clock, for runs that do not ask for one (it is reported so the run can be replayed). */
export function randomSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0;
}
