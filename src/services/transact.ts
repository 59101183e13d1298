import { randomBytes } from "node:crypto";
import { lte, type SQL, sql } from "drizzle-orm";
import type { MySqlTable } from "drizzle-orm/mysql-core";
import type { Config } from "../config";
import type { Pool, Tx } from "../db/client";
import { Abandoned, toAppError } from "../db/errors";
import type { DatabaseHealth } from "../db/health";
import { commitProofs, type holdBatches } from "../db/schema";
import {
  type IsolationLevel,
  type RunOptions,
  type Work,
  withConnection,
  withTransaction,
} from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";

import type { Metrics } from "../lib/metrics";

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

export type TransactOptions<T> = Pick<RunOptions<T>, "openWith" | "closeWith"> & {
  isolationLevel?: IsolationLevel;
  /**
   * Whether the transaction that returned `result` committed, read after a connection lost
   * during COMMIT; without it such a request is answered 503 with its outcome unknown.
   */
  committed?: (db: Tx, result: T) => Promise<boolean>;
};

/** A service transaction: bounded retries, each counted, cut off when its callers give up. */
export function transact<T>(
  deps: TransactDeps,
  guard: CommitGuard,
  work: Work<T>,
  options: TransactOptions<T> = {},
): Promise<T> {
  return withTransaction(deps.pool, work, {
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

/**
 * The sweeper's step for the rows that prove a commit (`hold_batches`, `commit_proofs`): rows
 * older than an hour. Each is read at most once, as soon as the database answers after the
 * COMMIT whose answer was lost, so an hour is far past any question still to come.
 */
export function purgeProofs(
  deps: TransactDeps,
  table: typeof commitProofs | typeof holdBatches,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  const old = lte(table.createdAt, sql`NOW(3) - INTERVAL 1 HOUR`);
  return purge(deps, deadline, table, old, limit);
}

/** Reads outside a transaction, bounded by the same deadline. */
export function query<T>(
  deps: Pick<TransactDeps, "pool" | "dbHealth">,
  guard: CommitGuard,
  work: (db: Tx) => Promise<T>,
): Promise<T> {
  return withConnection(deps.pool, work, { guard, health: deps.dbHealth }).catch(asServiceError);
}

/** Database failures leave a service as the contract's 503; Abandoned stays for the batcher. */
function asServiceError(err: unknown): never {
  throw err instanceof Abandoned ? err : toAppError(err);
}

/** A sweeper step: deletes up to `limit` rows of `table` matching `where`; how many it deleted. */
export function purge(
  deps: TransactDeps,
  deadline: CommitGuard,
  table: MySqlTable,
  where: SQL,
  limit: number,
): Promise<number> {
  return transact(deps, deadline, async (tx) => {
    const [result] = await tx.delete(table).where(where).limit(limit);
    return result.affectedRows;
  });
}
