import { eq, sql } from "drizzle-orm";
import { writesFeed } from "../../db/keyset";
import { purge } from "../../db/purge";
import { orders, paymentEvents } from "../../db/schema";
import { query, transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { lockOrder } from "../orders/locking";
import { publishProducts } from "../products/cache";
import { applyDeferredEvents } from "./webhook";

/**
 * The safety net for payment events that outran their order. The order's own transaction
 * applies them: on one server the webhook's gap lock makes the two serialise, and on a Galera
 * cluster the order gate row they both write does (see `orderGates`). Should an event still
 * be left deferred beside an existing order (a write made by hand, a version of this service
 * without the gate), the sweeper applies it, in the order events were received, under the
 * order's row lock, so a payment is never lost; normally it finds nothing.
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
    const settled = await transact(
      deps,
      deadline,
      async (tx) => {
        const order = await lockOrder(tx, orderId);
        return order ? applyDeferredEvents(tx, order) : undefined;
      },
      writesFeed,
    );
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

/**
 * Deletes deferred payment events older than DEFERRED_EVENT_TTL_HOURS whose order never
 * appeared, so that events for ids nobody will create (a mistake, or an attacker before
 * webhooks were signed) do not pile up for ever. An order created later is simply born pending.
 */
export function purgeDeferredEvents(
  deps: Deps,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  const ttl = deps.config.DEFERRED_EVENT_TTL_HOURS;
  const orderless = deps.db
    .select({ one: sql`1` })
    .from(orders)
    .where(eq(orders.id, paymentEvents.orderId));
  const old = sql`${paymentEvents.outcome} = 'deferred'
    AND ${paymentEvents.receivedAt} <= NOW(3) - INTERVAL ${ttl} HOUR
    AND NOT EXISTS ${orderless}`;
  return purge(deps, paymentEvents, old, limit, deadline);
}
