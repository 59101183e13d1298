import type { Tx } from "../db/client";
import { Abandoned, toAppError } from "../db/errors";
import { type IsolationLevel, withConnection, withTransaction } from "../db/transaction";
import type { Deps } from "../deps";
import type { CommitGuard } from "../lib/deadline";

/** A service transaction: bounded retries, each counted, cut off when its callers give up. */
export function transact<T>(
  deps: Pick<Deps, "pool" | "metrics" | "dbHealth">,
  guard: CommitGuard,
  work: (tx: Tx) => Promise<T>,
  isolationLevel?: IsolationLevel,
): Promise<T> {
  return withTransaction(deps.pool, work, {
    guard,
    isolationLevel,
    health: deps.dbHealth,
    onRetry: (reason) => deps.metrics.txRetries.inc({ reason }),
  }).catch(asServiceError);
}

/** Reads outside a transaction, bounded by the same deadline. */
export function query<T>(
  deps: Pick<Deps, "pool" | "dbHealth">,
  guard: CommitGuard,
  work: (db: Tx) => Promise<T>,
): Promise<T> {
  return withConnection(deps.pool, work, { guard, health: deps.dbHealth }).catch(asServiceError);
}

/** Database failures leave a service as the contract's 503; Abandoned stays for the batcher. */
function asServiceError(err: unknown): never {
  throw err instanceof Abandoned ? err : toAppError(err);
}
