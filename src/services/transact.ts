import type { Tx } from "../db/client";
import { type TransactionConfig, withTransaction } from "../db/transaction";
import type { Deps } from "../deps";

/** A service transaction: bounded deadlock retries, each one counted. */
export function transact<T>(
  deps: Pick<Deps, "db" | "metrics">,
  work: (tx: Tx) => Promise<T>,
  config?: TransactionConfig,
): Promise<T> {
  return withTransaction(deps.db, work, (reason) => deps.metrics.txRetries.inc({ reason }), config);
}
