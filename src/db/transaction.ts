import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Config } from "../config";
import type { CommitGuard } from "../deadline/deadline";
import type { Metrics } from "../lib/metrics";
import type { Pool, Tx } from "./client";
import { withConnection } from "./connection";
import { Abandoned, toAppError } from "./errors";
import type { DatabaseHealth } from "./health";
import { type Ended, type RunOptions, runTransaction, type Work } from "./runner";
import { commitProofs } from "./schema";

// The one way the services run a transaction (`transact`, `transactProven`) or a read outside
// one (`query`); withTransaction (runner.ts) is the runner under them, with no service's error
// mapping.

export {
  type Closing,
  type Ended,
  type IsolationLevel,
  MAX_ATTEMPTS,
  type RunOptions,
  type Work,
  withTransaction,
} from "./runner";

/**
 * What a transaction needs of a process's dependencies (Deps has them all). Spelled out rather
 * than picked from Deps, whose type names the services that run transactions.
 */
export type TransactDeps = {
  pool: Pool;
  metrics: Metrics;
  dbHealth: DatabaseHealth;
  config: Pick<Config, "REQUEST_TIMEOUT_MS">;
};

export type TransactOptions<T, C = never> = Pick<
  RunOptions<T, C>,
  "openWith" | "closeWith" | "isolationLevel" | "commitWithinMs"
> & {
  /**
   * Whether the transaction that returned `result` committed, read after a connection lost
   * during COMMIT; without it such a request is answered 503 with its outcome unknown.
   */
  committed?: (db: Tx, result: T) => Promise<boolean>;
};

/** A service transaction: bounded retries, each counted, cut off when its callers give up. */
export async function transact<T>(
  deps: TransactDeps,
  guard: CommitGuard,
  work: Work<T>,
  options: TransactOptions<T> = {},
): Promise<T> {
  return (await transactClosing(deps, guard, work, options)).result;
}

/** transact, with what the transaction's closing (`closeWith`) came to. */
export function transactClosing<T, C>(
  deps: TransactDeps,
  guard: CommitGuard,
  work: Work<T>,
  options: TransactOptions<T, C>,
): Promise<Ended<T, C>> {
  return runTransaction(deps.pool, work, {
    guard,
    ...options,
    outcomeWaitMs: deps.config.REQUEST_TIMEOUT_MS,
    health: deps.dbHealth,
    onRetry: (reason) => deps.metrics.txRetries.inc({ reason }),
  }).catch(asServiceError);
}

/**
 * A transaction whose own writes cannot tell, after a lost COMMIT, whether it committed (a
 * restock: the product's counters move for other reasons too). It writes a random token in
 * `commit_proofs` as its last statement, and that row is the proof: a 503 then still means
 * nothing changed, so an operator may retry it.
 */
export function transactProven<T>(
  deps: TransactDeps,
  guard: CommitGuard,
  work: (tx: Tx) => Promise<T>,
  options: Pick<TransactOptions<T>, "commitWithinMs"> = {},
): Promise<T> {
  const token = randomBytes(16);
  return transact(
    deps,
    guard,
    async (tx) => {
      const result = await work(tx);
      await tx.execute(sql`INSERT INTO commit_proofs (token) VALUES (${token})`);
      return result;
    },
    {
      ...options,
      committed: async (db) => {
        const [row] = await db
          .select({ token: commitProofs.token })
          .from(commitProofs)
          .where(sql`${commitProofs.token} = ${token}`)
          .limit(1)
          .for("update");
        return row !== undefined;
      },
    },
  );
}

/** Reads outside a transaction, bounded by the same deadline. */
export function query<T>(
  deps: Pick<TransactDeps, "pool" | "dbHealth">,
  guard: CommitGuard,
  work: (db: Tx) => Promise<T>,
): Promise<T> {
  return withConnection(deps.pool, work, { guard, health: deps.dbHealth }).catch(asServiceError);
}

/**
 * Database failures leave a service as the contract's 503, as http/problem.ts answers every
 * failure; Abandoned stays for the batcher.
 */
function asServiceError(err: unknown): never {
  throw err instanceof Abandoned ? err : toAppError(err);
}
