import { eq } from "drizzle-orm";
import { orders, paymentEvents } from "../db/schema";
import type { Deps } from "../deps";
import type { CommitGuard } from "../lib/deadline";
import { applyDeferredEvents, lockOrder } from "./payments";
import { publishProducts } from "./products";
import { query, transact } from "./transact";

/**
 * The safety net for payment events that outran their order. On one MySQL/MariaDB server the
 * order's own transaction applies them (the webhook's gap lock makes the two serialise). On a
 * Galera cluster gap locks are not replicated, so a webhook on one node and the order on
 * another can both commit without seeing each other: the event stays deferred beside an
 * existing order. The sweeper applies such events, in the order they were received, under the
 * order's row lock, so a payment is never lost; it finds nothing on a single server.
 */
export async function applyStrandedEvents(
  deps: Deps,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  const stranded = await query(deps, deadline, (db) =>
    db
      .selectDistinct({ orderId: paymentEvents.orderId })
      .from(paymentEvents)
      .innerJoin(orders, eq(orders.id, paymentEvents.orderId))
      .where(eq(paymentEvents.outcome, "deferred"))
      .limit(limit),
  );
  for (const { orderId } of stranded) {
    const settled = await transact(deps, deadline, async (tx) => {
      const order = await lockOrder(tx, orderId);
      return order ? applyDeferredEvents(tx, order) : undefined;
    });
    if (settled?.snapshot) publishProducts(deps, [settled.snapshot]);
    if (settled?.status === "cancelled") {
      deps.metrics.ordersCancelled.inc({ reason: "payment_failed" });
    }
  }
  if (stranded.length > 0) {
    deps.logger.info(
      { orders: stranded.length },
      "applied payment events stranded beside their orders",
    );
  }
  return stranded.length;
}
