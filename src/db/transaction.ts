import { setTimeout as sleep } from "node:timers/promises";
import { AppError, serviceUnavailable } from "../errors";
import type { Db, Tx } from "./client";
import { retryReason, toAppError } from "./errors";

const MAX_ATTEMPTS = 4;

export type RetryObserver = (reason: NonNullable<ReturnType<typeof retryReason>>) => void;

/**
 * Runs `work` in one transaction, retrying deadlocks and lock wait timeouts a bounded number
 * of times: InnoDB resolves a deadlock by rolling one transaction back, and running it again is
 * the documented remedy. The last failed attempt, and a lost database, become a 503.
 */
export type TransactionConfig = NonNullable<Parameters<Db["transaction"]>[1]>;

export async function withTransaction<T>(
  db: Db,
  work: (tx: Tx) => Promise<T>,
  onRetry?: RetryObserver,
  config?: TransactionConfig,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work, config);
    } catch (err) {
      if (err instanceof AppError) throw err;
      const reason = retryReason(err);
      if (!reason) throw toAppError(err);
      onRetry?.(reason);
      if (attempt >= MAX_ATTEMPTS) {
        throw serviceUnavailable("Too much contention on the same rows; retry shortly.");
      }
      await sleep(Math.random() * 10 * attempt);
    }
  }
}
