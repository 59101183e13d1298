import { LRUCache } from "lru-cache";
import type { ProductView } from "../services/views";

export type CachedProduct = { version: number; view: ProductView; body: string };

/**
 * Product reads for a hot sale come from memory, as a pre-serialised body. Entries carry the
 * row's version so that a slow reader can never put back an older row than a local write left.
 */
export class ProductCache {
  private readonly lru: LRUCache<number, CachedProduct>;

  constructor(ttlMs: number, max = 10_000) {
    this.lru = new LRUCache({ max, ttl: Math.max(ttlMs, 1), ttlAutopurge: false });
  }

  private readonly loading = new Map<number, Promise<CachedProduct>>();

  get(id: number): CachedProduct | undefined {
    return this.lru.get(id);
  }

  /**
   * Reads a missing entry once, however many requests miss it at the same moment: without
   * this, every expiry of a hot product sent hundreds of identical queries to the database.
   */
  load(
    id: number,
    read: () => Promise<{ version: number; view: ProductView }>,
  ): Promise<CachedProduct> {
    let pending = this.loading.get(id);
    if (!pending) {
      pending = read()
        .then((row) => this.offer(row.version, row.view))
        .finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  offer(version: number, view: ProductView): CachedProduct {
    const current = this.lru.peek(view.id);
    if (current && current.version > version) return current;
    const entry = { version, view, body: JSON.stringify(view) };
    this.lru.set(view.id, entry);
    return entry;
  }
}
