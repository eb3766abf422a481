import { LRUCache } from "lru-cache";

/**
 * Token-bucket rate limiting, pure (the clock is injected). Hand-written on purpose: the gateway
 * needs a token bucket (a sustained rate plus a bounded burst, and an exact time until the next
 * token for `Retry-After`), while @fastify/rate-limit counts requests in fixed windows, which lets
 * twice the limit through across a window edge and cannot say when a token will be available.
 */

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface BucketOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket capacity: the largest burst admitted at once. */
  burst: number;
  /** Milliseconds on a monotonic clock; defaults to performance.now. */
  now?: () => number;
}

/**
 * Float slack, in tokens (a millionth of a request): refill arithmetic must not refuse a take at
 * exactly `now + retryAfterMs`, nor push `retryAfterMs` a millisecond late (333.00000000000004 ms).
 */
const EPSILON = 1e-6;

export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  constructor({ ratePerSecond, burst, now = () => performance.now() }: BucketOptions) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(`rate must be a positive number, got ${ratePerSecond}`);
    }
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be ≥ 1, got ${burst}`);
    this.rate = ratePerSecond;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  take(n = 1): TakeResult {
    if (!(n > 0) || n > this.burst) throw new RangeError(`can take 0 < n ≤ ${this.burst} tokens, got ${n}`);
    const tokens = this.refill();
    if (tokens + EPSILON >= n) {
      // May dip below zero by the slack: carrying that debt keeps the slack from ever adding up.
      this.tokens = tokens - n;
      return { allowed: true };
    }
    // The same slack as when admitting: the earliest millisecond at which this take would pass.
    const waitMs = ((n - tokens - EPSILON) * 1000) / this.rate;
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(waitMs)) };
  }

  /** Tokens available now (refilled to the current time). */
  available(): number {
    return this.refill();
  }

  private refill(): number {
    const now = this.now();
    // A clock that steps back adds nothing (and never removes tokens).
    const elapsedMs = Math.max(0, now - this.last);
    this.last = Math.max(now, this.last);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.rate) / 1000);
    return this.tokens;
  }
}

export interface KeyedOptions extends BucketOptions {
  /** At most this many buckets are held; the least recently used is forgotten first. */
  maxKeys: number;
}

/**
 * One bucket per key (per user), bounded. A bucket idle long enough to refill completely is
 * dropped after that time (a new one would be identical); beyond `maxKeys` live buckets the least
 * recently used is evicted, which at worst gives that key a fresh burst.
 */
export class KeyedRateLimiter {
  private readonly buckets: LRUCache<string, TokenBucket>;
  private readonly bucketOptions: BucketOptions;

  constructor(options: KeyedOptions) {
    const now = options.now ?? (() => performance.now());
    this.bucketOptions = { ratePerSecond: options.ratePerSecond, burst: options.burst, now };
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 1) {
      throw new RangeError(`maxKeys must be a positive integer, got ${options.maxKeys}`);
    }
    this.buckets = new LRUCache<string, TokenBucket>({
      max: options.maxKeys,
      ttl: Math.ceil((options.burst * 1000) / options.ratePerSecond),
      updateAgeOnGet: true,
      ttlResolution: 0, // read the (injected) clock on every check: no timers, exact expiry
      perf: { now },
    });
  }

  take(key: string, n = 1): TakeResult {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.bucketOptions);
      this.buckets.set(key, bucket);
    }
    return bucket.take(n);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** `Retry-After` in whole seconds: rounded up, never 0 (0 would invite an immediate retry storm). */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
