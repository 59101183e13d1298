import type { Config } from "../config";
import { type CachedProduct, ProductCache } from "./product-cache";
import { RateLimiter } from "./rate-limiter";
import { SoldOutBoard } from "./sold-out-board";
import { StockHub } from "./stock-hub";
import { TicketBoard } from "./ticket-board";

// Everything this process keeps in memory between requests, in one place: what a second
// process does not share, and what a restart forgets.

/** This process's state; part of Deps, built once by buildDeps. */
export type ProcessState = {
  productCache: ProductCache;
  soldOut: SoldOutBoard;
  stockHub: StockHub;
  /** Waiting rooms' lines and buyers' tickets, for ticket reads. */
  ticketBoard: TicketBoard;
  /** The shoppers' per-client rate limit; undefined when SHOPPER_RATE_PER_SECOND is unset. */
  rateLimiter: RateLimiter | undefined;
};

/**
 * A process's state, empty. `load` reads a product this process has no fresh copy of (through
 * the cache, see loadProduct): the stock hub's ticks use it.
 */
export function createProcessState(
  config: Config,
  clock: () => number,
  load: (id: number) => Promise<CachedProduct>,
): ProcessState {
  const productCache = new ProductCache(config.PRODUCT_CACHE_TTL_MS, clock);
  return {
    productCache,
    soldOut: new SoldOutBoard(config.PRODUCT_CACHE_TTL_MS),
    stockHub: new StockHub(
      { peek: (id) => productCache.get(id), load },
      { intervalMs: config.STOCK_EVENTS_INTERVAL_MS, maxStreams: config.STOCK_EVENTS_MAX_STREAMS },
    ),
    ticketBoard: new TicketBoard(config.PRODUCT_CACHE_TTL_MS),
    rateLimiter:
      config.SHOPPER_RATE_PER_SECOND === undefined
        ? undefined
        : new RateLimiter(config.SHOPPER_RATE_PER_SECOND),
  };
}
