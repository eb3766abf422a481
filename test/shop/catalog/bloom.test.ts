import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BloomFilter } from "../../../src/shop/catalog/bloom.ts";

/** Deterministic ids (mulberry32), so a failure reproduces. */
function randomIds(count: number, seed: number, prefix: string): string[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0).toString(36).toUpperCase();
  };
  return Array.from({ length: count }, () => `${prefix}-${next()}-${next()}`);
}

describe("Bloom filter", () => {
  it("sizes itself with the textbook formulas", () => {
    const filter = BloomFilter.forCapacity(1000, 0.01);
    expect(filter.bits).toBe(9587); // ⌈−1000 · ln 0.01 / ln²2⌉ = 9586, up to the next prime
    expect(filter.hashes).toBe(7); // round(9.587 · ln 2)
    expect(() => BloomFilter.forCapacity(10, 0)).toThrow(RangeError);
    expect(() => BloomFilter.forCapacity(10, 1)).toThrow(RangeError);
  });

  it("never forgets an added id (no false negatives)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 30 }), { maxLength: 500 }), (ids) => {
        const filter = BloomFilter.forCapacity(Math.max(1, ids.length), 0.01);
        for (const id of ids) filter.add(id);
        for (const id of ids) expect(filter.mightContain(id)).toBe(true);
      }),
    );
  });

  it.each([0.01, 0.001])(
    "keeps the false-positive rate near the configured %s on 100k unknown ids",
    (rate) => {
      const known = randomIds(20_000, 1, "PIGGY");
      const filter = BloomFilter.forCapacity(known.length, rate);
      for (const id of known) filter.add(id);
      const knownSet = new Set(known);
      const probes = randomIds(100_000, 2, "GHOST").filter((id) => !knownSet.has(id));
      const falsePositives = probes.filter((id) => filter.mightContain(id)).length;
      const observed = falsePositives / probes.length;
      expect(observed).toBeLessThanOrEqual(rate * 2);
      expect(observed).toBeGreaterThanOrEqual(rate / 2); // sized for the rate, not wastefully larger
    },
  );

  it("also holds for sequential, similar-looking ids", () => {
    const filter = BloomFilter.forCapacity(10_000, 0.01);
    for (let i = 0; i < 10_000; i++) filter.add(`PIGGY-SHIRT-${i}`);
    let falsePositives = 0;
    for (let i = 10_000; i < 110_000; i++) if (filter.mightContain(`PIGGY-SHIRT-${i}`)) falsePositives++;
    expect(falsePositives / 100_000).toBeLessThanOrEqual(0.02);
  });
});
