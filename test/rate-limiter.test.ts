import { describe, expect, test } from "bun:test";
import { RateLimiter } from "../src/state/rate-limiter";

describe("the token bucket", () => {
  test("2N tokens at once, then one per 1/N s, never more than 2N", () => {
    let clock = 0;
    const limiter = new RateLimiter(5, () => clock);
    const takes = (n: number) => Array.from({ length: n }, () => limiter.take("k"));
    expect(takes(12)).toEqual([...Array(10).fill(true), false, false]);
    clock += 199;
    expect(limiter.take("k")).toBe(false);
    clock += 1;
    expect(takes(2)).toEqual([true, false]);
    // Refused requests took nothing: 200 ms later there is exactly one token again.
    clock += 200;
    expect(takes(2)).toEqual([true, false]);
    // Idle for a minute: full, not more.
    clock += 60_000;
    expect(takes(11)).toEqual([...Array(10).fill(true), false]);
    // Another key has a bucket of its own.
    expect(limiter.take("other")).toBe(true);
  });

  test("memory is bounded: past 100,000 keys the least recent are forgotten", () => {
    const limiter = new RateLimiter(1);
    for (let i = 0; i < 150_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100_000);
  });
});
