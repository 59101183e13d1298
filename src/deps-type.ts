import type { Config } from "./config";
import type { Db, Pool } from "./db/client";
import type { DatabaseHealth } from "./db/health";
import type { ReadinessProbe } from "./db/readiness";
import type { Logger } from "./lib/logger";
import type { Metrics } from "./lib/metrics";
import type { BuyerVerifier } from "./services/buyers";
import type { HoldBatcher } from "./services/hold-pipeline/queue";
import type { JoinBatcher } from "./services/waiting-room/join-batcher";
import type { ProcessState } from "./state";

// Types only: a module that needs Deps imports it from here, never from deps.ts (which builds
// them and so imports the services), so no import circle forms through it.

/**
 * Everything a service needs, built once per process (or per test) and passed in; the state
 * this process keeps in memory is ProcessState's (src/state/).
 */
export type Deps = ProcessState & {
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
  holdBatcher: HoldBatcher;
  /** Batches joins to a waiting room per product (services/waiting-room/join-batcher.ts). */
  joinBatcher: JoinBatcher;
};
