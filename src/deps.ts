import type { Config } from "./config";
import { createDb, createPool, poolUsage } from "./db/client";
import { DatabaseHealth } from "./db/health";
import { ReadinessProbe } from "./db/readiness";
import type { Deps } from "./deps-type";
import { createLogger, type Logger } from "./lib/logger";
import { createMetrics } from "./lib/metrics";
import { createBuyerVerifier } from "./services/buyers";
import { createHoldPipeline } from "./services/hold-pipeline";
import { loadProduct } from "./services/products";
import { createJoinBatcher } from "./services/waiting-room";
import { createProcessState } from "./state";

export type BuildOptions = {
  /** Labels on every metric series (the worker id under a supervisor). */
  metricLabels?: Record<string, string>;
  /** A logger of the caller's; by default one at LOG_LEVEL on stdout. */
  logger?: Logger;
};

export function buildDeps(config: Config, options: BuildOptions = {}): Deps {
  const { metricLabels = {} } = options;
  const pool = createPool(config);
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics(metricLabels, {
    holdQueues: () => deps.holdBatcher.depths(),
    pool: () => poolUsage(pool),
  });
  const dbHealth = new DatabaseHealth(logger, metrics.databaseUp);
  const offset = config.TEST_CLOCK_OFFSET_MS;
  const clock = offset === 0 ? Date.now : () => Date.now() + offset;
  const deps: Deps = {
    config,
    clock,
    pool,
    db: createDb(pool),
    logger,
    metrics,
    dbHealth,
    readiness: new ReadinessProbe(config.DATABASE_URL, dbHealth),
    buyers: createBuyerVerifier(config),
    ...createProcessState(config, clock, (id) => loadProduct(deps, id)),
    holdBatcher: createHoldPipeline(config, () => deps),
    joinBatcher: createJoinBatcher(config, () => deps),
  };
  return deps;
}

/** Closes what buildDeps opened. */
export async function closeDeps(deps: Deps): Promise<void> {
  deps.stockHub.close();
  deps.readiness.close();
  await deps.pool.end().catch(() => undefined);
}
