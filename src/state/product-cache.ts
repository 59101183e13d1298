import { LRUCache } from "lru-cache";
import type { AppError } from "../errors";
import type { LineFigures, ProductView } from "../lib/product-view";
import type { SaleState } from "../lib/sale-window";
import { nextSaleEdge, saleStateAt } from "../lib/sale-window";

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
  /** The waiting room line's serving + joined (both only grow), for the revision. */
  lineSum: number;
};

/** A product as read from the database: its row's version and its view. */
export type ProductRead = { version: number; view: ProductView };

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

  /**
   * The furthest each waiting room's line was seen (serving and joined only grow). A view made
   * where the line was not read (a hold, a restock) shows these instead of its zeros; kept
   * apart from the entries so that an expired entry does not lose them.
   */
  private readonly lines = new Map<number, LineFigures>();

  /** Where a product's line stands, as changed by this process: its next read shows it. */
  seeLine(id: number, line: LineFigures): void {
    if (!this.learnLine(id, line)) return;
    const current = this.lru.peek(id);
    if (current?.view.waiting_room) this.offer(current.version, current.view);
  }

  /** Whether `line` is further than what was known. */
  private learnLine(id: number, line: LineFigures): boolean {
    const known = this.lines.get(id);
    if (known && known.serving >= line.serving && known.joined >= line.joined) return false;
    if (!known && this.lines.size >= 10_000) this.lines.clear();
    this.lines.set(id, {
      serving: Math.max(known?.serving ?? 0, line.serving),
      joined: Math.max(known?.joined ?? 0, line.joined),
    });
    return true;
  }

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
  load(id: number, read: () => Promise<ProductRead>): Promise<CachedProduct> {
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
  refresh(id: number, read: () => Promise<ProductRead>): void {
    if (!this.loading.has(id)) this.load(id, read).catch(() => undefined);
  }

  /**
   * A product as read or changed; its waiting room's line (serving, joined) is taken as the
   * furthest known, since a view made where the line was not read shows zeros there.
   */
  offer(version: number, offered: ProductView): CachedProduct {
    const room = offered.waiting_room;
    const newLine = room !== null && this.learnLine(offered.id, room);
    const current = this.lru.peek(offered.id);
    if (current && current.version > version) {
      // An older row, but maybe a newer line: the current entry takes the line.
      return newLine && current.view.waiting_room
        ? this.offer(current.version, current.view)
        : current;
    }
    const known = this.lines.get(offered.id);
    const view =
      room && known
        ? { ...offered, waiting_room: { ...room, serving: known.serving, joined: known.joined } }
        : offered;
    const entry: CachedProduct = {
      version,
      view,
      body: "",
      revision: 0,
      etag: view.waiting_room
        ? `W/"${view.id}-${version}-${view.waiting_room.joined}-${view.waiting_room.serving}"`
        : `W/"${view.id}-${version}"`,
      lineSum: known ? known.serving + known.joined : 0,
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
  entry.revision = (entry.version + entry.lineSum) * 3 + STATE_RANK[state];
  entry.flipsAt = nextSaleEdge(entry.startsAt, entry.endsAt, now) ?? Number.POSITIVE_INFINITY;
  entry.refusal = undefined;
}
