import { describe, expect, test } from "bun:test";
import type { ProductView } from "../src/lib/product-view";
import { ProductCache } from "../src/state/product-cache";

const view = (available: number): ProductView => ({
  id: 1,
  name: "Limited sneaker",
  price_cents: 12900,
  stock_available: available,
  stock_reserved: 0,
  available,
  max_per_buyer: null,
  sale_starts_at: null,
  sale_ends_at: null,
  sale_state: "live",
  waiting_room: null,
});

describe("product cache", () => {
  test("concurrent misses read the database once", async () => {
    const cache = new ProductCache(1000);
    let reads = 0;
    const read = async () => {
      reads++;
      await Bun.sleep(20);
      return { version: 1, view: view(10) };
    };
    const entries = await Promise.all(Array.from({ length: 50 }, () => cache.load(1, read)));
    expect(reads).toBe(1);
    expect(new Set(entries.map((e) => e.body)).size).toBe(1);
    expect(cache.get(1)?.view.available).toBe(10);
  });

  test("a slow read never replaces a newer local write", async () => {
    const cache = new ProductCache(1000);
    const slowRead = cache.load(1, async () => {
      await Bun.sleep(20);
      return { version: 1, view: view(10) };
    });
    cache.offer(2, view(7));
    await slowRead;
    expect(cache.get(1)).toMatchObject({ version: 2, view: { available: 7 } });
  });

  test("a failed read is not cached and the next miss reads again", async () => {
    const cache = new ProductCache(1000);
    await expect(cache.load(1, () => Promise.reject(new Error("gone")))).rejects.toThrow("gone");
    const entry = await cache.load(1, async () => ({ version: 3, view: view(5) }));
    expect(entry.version).toBe(3);
  });

  test("entries expire after the TTL", async () => {
    const cache = new ProductCache(30);
    cache.offer(1, view(10));
    expect(cache.get(1)).toBeDefined();
    await Bun.sleep(60);
    expect(cache.get(1)).toBeUndefined();
  });
});
