import type { Config } from "./config";
import type { Db, Pool } from "./db/client";
import type { DatabaseHealth } from "./db/health";
import type { ReadinessProbe } from "./db/readiness";
import type { Logger } from "./lib/logger";
import type { Metrics } from "./lib/metrics";
import type { ProductCache } from "./lib/product-cache";
import type { RateLimiter } from "./lib/rate-limiter";
import type { BuyerVerifier } from "./services/buyers";
import type { HoldBatcher } from "./services/hold-pipeline/queue";
import type { SoldOutBoard } from "./services/sold-out";
import type { StockHub } from "./services/stock-events";

// Types only: a module that needs Deps imports it from here, never from deps.ts (which builds
// them and so imports the services), so no import circle forms through it.

/** Everything a service needs, built once per process (or per test) and passed in. */
export type Deps = {
  config: Config;
  /** This process's clock, ms since the epoch (shifted only by tests of clock skew). */
  clock: () => number;
  pool: Pool;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  dbHealth: DatabaseHealth;
  readiness: ReadinessProbe;
  buyers: BuyerVerifier;
  stockHub: StockHub;
  soldOut: SoldOutBoard;
  productCache: ProductCache;
  holdBatcher: HoldBatcher;
  /** The shoppers' per-client rate limit; undefined when SHOPPER_RATE_PER_SECOND is unset. */
  rateLimiter: RateLimiter | undefined;
};
