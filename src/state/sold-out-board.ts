import { type AppError, insufficientStock } from "../errors";

/** What a batch saw when it left a product with nothing available. */
export type SoldOutSighting = {
  /** The database clock when the batch locked the product. */
  dbNow: Date;
  /** The earliest expiry among the product's active holds, or null when none is active. */
  nextExpiry: Date | null;
  /** The product's per-buyer limit: with one, an anonymous request is a 401, not a 409. */
  maxPerBuyer: number | null;
};

type Entry = { localAt: number; dbNow: number; nextExpiry: number | null; limited: boolean };

/** One refusal for every request: building an error per request captured a stack each time. */
const SOLD_OUT = insufficientStock(0);

/** Units of a hold due within this margin of the database clock are never refused from memory. */
const EXPIRY_MARGIN_MS = 50;

/**
 * The end of a sale: demand far above stock, every request a refusal. The contract lets a
 * process refuse a hold from what it saw of the product within PRODUCT_CACHE_TTL_MS, without
 * the database, except for units of an expired hold: a buyer's request reclaims those exactly.
 * So a sighting remembers when the first active hold expires (by the database clock), and a
 * refusal from memory is given only while that moment has not come. Any local change that frees
 * units clears the product at once; another process's release may be refused for the TTL.
 */
export class SoldOutBoard {
  private readonly products = new Map<number, Entry>();

  constructor(private readonly ttlMs: number) {}

  saw(productId: number, sighting: SoldOutSighting): void {
    this.products.set(productId, {
      localAt: Date.now(),
      dbNow: sighting.dbNow.getTime(),
      nextExpiry: sighting.nextExpiry?.getTime() ?? null,
      limited: sighting.maxPerBuyer !== null,
    });
  }

  /**
   * A product this process changed: units came back (a release, cancellation, restock,
   * expiry) or its per-buyer limit changed, so the database decides again.
   */
  changed(product: { id: number; available: number; max_per_buyer: number | null }): void {
    const entry = this.products.get(product.id);
    if (entry && (product.available > 0 || entry.limited !== (product.max_per_buyer !== null))) {
      this.products.delete(product.id);
    }
  }

  /**
   * The 409 to answer without the database, or undefined when the database must decide: also
   * for an anonymous request on a product with a per-buyer limit (a 401 the batch gives).
   */
  refusal(productId: number, anonymous: boolean): AppError | undefined {
    const entry = this.products.get(productId);
    if (!entry || (anonymous && entry.limited)) return undefined;
    const age = Date.now() - entry.localAt;
    const dbNow = entry.dbNow + age;
    if (
      age >= this.ttlMs ||
      (entry.nextExpiry !== null && dbNow >= entry.nextExpiry - EXPIRY_MARGIN_MS)
    ) {
      this.products.delete(productId);
      return undefined;
    }
    return SOLD_OUT;
  }
}
