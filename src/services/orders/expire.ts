import { and, asc, eq, lte, sql } from "drizzle-orm";
import { writesFeed } from "../../db/keyset";
import { orders } from "../../db/schema";
import { transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { publishProducts } from "../products/cache";
import { returnStock } from "../products/stock";
import { settleOrders } from "./changes";

/** Cancels pending orders past the payment timeout and returns their units to stock. */
export async function cancelUnpaidOrders(
  deps: Deps,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  const timeout = deps.config.ORDER_PAYMENT_TIMEOUT_SECONDS;
  const { count, snapshots } = await transact(
    deps,
    deadline,
    async (tx) => {
      const due = await tx
        .select()
        .from(orders)
        .where(
          and(
            eq(orders.status, "pending"),
            lte(orders.createdAt, sql`NOW(3) - INTERVAL ${timeout} SECOND`),
          ),
        )
        .orderBy(asc(orders.createdAt))
        .limit(limit)
        .for("update", { skipLocked: true });
      if (due.length === 0) return { count: 0, snapshots: [] };
      const snapshots = await returnStock(tx, due, "sold");
      await settleOrders(tx, due, { status: "cancelled", reason: "payment_timeout" });
      return { count: due.length, snapshots };
    },
    writesFeed,
  );
  publishProducts(deps, snapshots);
  if (count > 0) deps.metrics.ordersCancelled.inc({ reason: "payment_timeout" }, count);
  return count;
}
