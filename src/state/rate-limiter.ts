import { LRUCache } from "lru-cache";

type Bucket = { tokens: number; at: number };

/** Keys remembered at most; past it the least recently seen bucket is dropped (it refills). */
const MAX_KEYS = 100_000;

/**
 * A token bucket per key: `2 × ratePerSecond` tokens, refilled at `ratePerSecond` a second,
 * one per request. A bucket left alone for the time it takes to refill from empty is full
 * again, so it is forgotten then (the cache's TTL): memory holds only the keys active in the
 * last two seconds, at most MAX_KEYS of them. A key forgotten early only starts again full.
 */
export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly burst: number;
  private readonly perMs: number;

  constructor(
    readonly ratePerSecond: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.burst = 2 * ratePerSecond;
    this.perMs = ratePerSecond / 1000;
    this.buckets = new LRUCache({ max: MAX_KEYS, ttl: 2000, ttlAutopurge: false });
  }

  /** Takes a token for `key`; false (and nothing taken) when its bucket is empty. */
  take(key: string): boolean {
    const at = this.now();
    const bucket = this.buckets.get(key);
    const tokens =
      bucket === undefined
        ? this.burst
        : Math.min(this.burst, bucket.tokens + (at - bucket.at) * this.perMs);
    if (tokens < 1) return false;
    this.buckets.set(key, { tokens: tokens - 1, at });
    return true;
  }

  /** Keys held now, for tests of the bound. */
  get size(): number {
    return this.buckets.size;
  }
}
