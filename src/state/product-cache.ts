import { LRUCache } from "lru-cache";
import type { AppError } from "../errors";
import { nextSaleEdge, type ProductView, type SaleState, saleStateAt } from "../services/views";

export type CachedProduct = {
  version: number;
  /** The product as a read shows it now, and the same pre-serialised. */
  view: ProductView;
  body: string;
  /** Grows with every change a client can see: a new version, or a flip of the sale state. */
  revision: number;
  /** Changes with the version, not with the sale state (whose flips Cache-Control covers). */
  etag: string;
  /** The sale window's edges, ms since the epoch; null: open on that side. */
  startsAt: number | null;
  endsAt: number | null;
  /** This process's clock when `view.sale_state` next flips; Infinity when it never will. */
  flipsAt: number;
  /**
   * Half way through the entry's life: a storm refused from this entry reads the product again
   * from then on (once), so the entry is replaced before it expires and the storm never falls
   * through to the database all at once.
   */
  refreshAt: number;
  /** A refusal built for this entry, reused while it says the same (see sale-window.ts). */
  refusal?: { key: number; error: AppError };
};

const STATE_RANK: Record<SaleState, number> = { upcoming: 0, live: 1, ended: 2 };

/**
 * Product reads for a hot sale come from memory, as a pre-serialised body. Entries carry the
 * row's version so that a slow reader can never put back an older row than a local write left.
 * A product's sale state depends on the moment of the read, so an entry whose window edge has
 * passed (by this process's clock) is rendered again on the read that finds it so.
 */
export class ProductCache {
  private readonly lru: LRUCache<number, CachedProduct>;

  private readonly ttlMs: number;

  constructor(
    ttlMs: number,
    private readonly clock: () => number = Date.now,
    max = 10_000,
  ) {
    this.ttlMs = Math.max(ttlMs, 1);
    this.lru = new LRUCache({ max, ttl: this.ttlMs, ttlAutopurge: false });
  }

  private readonly loading = new Map<number, Promise<CachedProduct>>();

  get(id: number): CachedProduct | undefined {
    const entry = this.lru.get(id);
    if (entry !== undefined && entry.flipsAt !== Number.POSITIVE_INFINITY) {
      const now = this.clock();
      if (now >= entry.flipsAt) render(entry, now);
    }
    return entry;
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

  /** Reads `id` again in the background, unless a read of it is already under way. */
  refresh(id: number, read: () => Promise<{ version: number; view: ProductView }>): void {
    if (!this.loading.has(id)) this.load(id, read).catch(() => undefined);
  }

  offer(version: number, view: ProductView): CachedProduct {
    const current = this.lru.peek(view.id);
    if (current && current.version > version) return current;
    const entry: CachedProduct = {
      version,
      view,
      body: "",
      revision: 0,
      etag: `W/"${view.id}-${version}"`,
      startsAt: view.sale_starts_at === null ? null : Date.parse(view.sale_starts_at),
      endsAt: view.sale_ends_at === null ? null : Date.parse(view.sale_ends_at),
      flipsAt: 0,
      refreshAt: 0,
    };
    const now = this.clock();
    entry.refreshAt = now + this.ttlMs / 2;
    render(entry, now);
    this.lru.set(view.id, entry);
    return entry;
  }
}

/** Brings an entry's sale state, body and revision to `now`. */
function render(entry: CachedProduct, now: number): void {
  const state = saleStateAt(entry.startsAt, entry.endsAt, now);
  if (state !== entry.view.sale_state || entry.body === "") {
    entry.view =
      entry.view.sale_state === state ? entry.view : { ...entry.view, sale_state: state };
    entry.body = JSON.stringify(entry.view);
  }
  entry.revision = entry.version * 3 + STATE_RANK[state];
  entry.flipsAt = nextSaleEdge(entry.startsAt, entry.endsAt, now) ?? Number.POSITIVE_INFINITY;
  entry.refusal = undefined;
}
