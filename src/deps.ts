import type { Config } from "./config";
import { createDb, createPool, type Db, type Pool } from "./db/client";
import { createLogger, type Logger } from "./lib/logger";
import { createMetrics, type Metrics } from "./lib/metrics";
import { ProductCache } from "./lib/product-cache";
import { HoldBatcher } from "./services/hold-batcher";
import { reserveHolds } from "./services/holds";

/** Everything a service needs, built once per process (or per test) and passed in. */
export type Deps = {
  config: Config;
  pool: Pool;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  productCache: ProductCache;
  holdBatcher: HoldBatcher;
};

export function buildDeps(config: Config, metricLabels: Record<string, string> = {}): Deps {
  const pool = createPool(config);
  const deps: Deps = {
    config,
    pool,
    db: createDb(pool),
    logger: createLogger(config.LOG_LEVEL),
    metrics: createMetrics(metricLabels),
    productCache: new ProductCache(config.PRODUCT_CACHE_TTL_MS),
    holdBatcher: new HoldBatcher(
      config.HOLD_BATCH_MAX,
      (batch) => reserveHolds(deps, batch),
      config.REQUEST_TIMEOUT_MS,
    ),
  };
  return deps;
}
