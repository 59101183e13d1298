import { lte, type SQL, sql } from "drizzle-orm";
import type { MySqlTable } from "drizzle-orm/mysql-core";
import type { CommitGuard } from "../deadline/deadline";
import type { commitProofs, holdBatches } from "./schema";
import { type TransactDeps, transact } from "./transaction";

/**
 * A sweeper step: deletes up to `limit` rows of `table` matching `where`; how many it deleted.
 * Its arguments in the order every sweeper step takes them: what, how many, then the deadline.
 */
export function purge(
  deps: TransactDeps,
  table: MySqlTable,
  where: SQL,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  return transact(deps, deadline, async (tx) => {
    const [result] = await tx.delete(table).where(where).limit(limit);
    return result.affectedRows;
  });
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
  return purge(deps, table, old, limit, deadline);
}
