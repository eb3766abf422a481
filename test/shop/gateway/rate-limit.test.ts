import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyedRateLimiter, retryAfterSeconds, TokenBucket } from "../../../src/shop/gateway/rate-limit.ts";

function clock(start = 1_000) {
  const state = { now: start };
  return { state, now: () => state.now };
}

const bucketArb = fc.record({
  rate: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0.1, max: 500, noNaN: true })),
  burst: fc.integer({ min: 1, max: 50 }),
});
const stepsArb = fc.array(
  fc.record({
    // Gaps in ms, often zero (bursts), sometimes long (refills), sometimes fractional.
    dt: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 0, max: 5000 }),
      fc.double({ min: 0, max: 50, noNaN: true }),
    ),
    n: fc.integer({ min: 1, max: 3 }),
  }),
  { maxLength: 300 },
);

describe("token bucket", () => {
  it("never admits more than burst + rate × elapsed", () => {
    fc.assert(
      fc.property(bucketArb, stepsArb, ({ rate, burst }, steps) => {
        const { state, now } = clock();
        const start = state.now;
        const bucket = new TokenBucket({ ratePerSecond: rate, burst, now });
        let admitted = 0;
        for (const { dt, n } of steps) {
          state.now += dt;
          if (n > burst) continue;
          if (bucket.take(n).allowed) admitted += n;
          expect(admitted).toBeLessThanOrEqual(burst + (rate * (state.now - start)) / 1000 + 1e-6);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("says exactly when to come back: refused 1 ms early, admitted at retryAfterMs", () => {
    fc.assert(
      fc.property(bucketArb, stepsArb, ({ rate, burst }, steps) => {
        const { state, now } = clock();
        const bucket = new TokenBucket({ ratePerSecond: rate, burst, now });
        for (const { dt, n } of steps) {
          state.now += dt;
          if (n > burst) continue;
          const result = bucket.take(n);
          if (result.allowed) continue;
          expect(result.retryAfterMs).toBeGreaterThan(0);
          const refusedAt = state.now;
          if (result.retryAfterMs >= 2) {
            state.now = refusedAt + result.retryAfterMs - 1;
            expect(bucket.take(n).allowed).toBe(false); // a refusal consumes nothing
          }
          state.now = refusedAt + result.retryAfterMs;
          expect(bucket.take(n)).toEqual({ allowed: true });
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("starts full, refills at the rate, caps at burst and ignores a clock stepping back", () => {
    const { state, now } = clock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3, now });
    for (let i = 0; i < 3; i++) expect(bucket.take().allowed).toBe(true);
    expect(bucket.take()).toEqual({ allowed: false, retryAfterMs: 100 });
    state.now += 100;
    expect(bucket.take().allowed).toBe(true);
    state.now += 60_000;
    expect(bucket.available()).toBe(3);
    state.now -= 30_000;
    expect(bucket.available()).toBe(3);
    expect(() => bucket.take(4)).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError);
  });

  it("rounds Retry-After up to whole seconds, at least 1", () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(999)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});

describe("keyed rate limiter", () => {
  it("keeps one bucket per key: one user's burst does not limit another", () => {
    const { now } = clock();
    const limiter = new KeyedRateLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 100, now });
    expect(limiter.take("alice").allowed).toBe(true);
    expect(limiter.take("alice").allowed).toBe(true);
    expect(limiter.take("alice")).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(limiter.take("bob").allowed).toBe(true);
  });

  it("holds at most maxKeys buckets", () => {
    const { now } = clock();
    const limiter = new KeyedRateLimiter({ ratePerSecond: 1, burst: 5, maxKeys: 50, now });
    for (let i = 0; i < 1000; i++) limiter.take(`user-${i}`);
    expect(limiter.size).toBe(50);
  });

  it("forgets an idle bucket only once it would be full again (no free burst)", () => {
    const { state, now } = clock();
    const limiter = new KeyedRateLimiter({ ratePerSecond: 2, burst: 4, maxKeys: 10, now });
    for (let i = 0; i < 4; i++) expect(limiter.take("carol").allowed).toBe(true);
    state.now += 1000; // 2 tokens back, bucket not full: it must still be remembered
    expect(limiter.take("carol").allowed).toBe(true);
    expect(limiter.take("carol").allowed).toBe(true);
    expect(limiter.take("carol").allowed).toBe(false);
    state.now += 2000; // full again: dropping it loses nothing
    expect(limiter.size).toBe(1);
    for (let i = 0; i < 4; i++) expect(limiter.take("carol").allowed).toBe(true);
    expect(limiter.take("carol").allowed).toBe(false);
  });
});
