import { eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { orders, paymentEvents } from "../../db/schema";
import { recordEvents } from "../merchant-events/record";
import { toConflictView, toOrderView } from "../views";

/**
 * The one place an order is born or changes status, and so the one place that writes its
 * merchant event: in the caller's transaction, so a rolled-back change leaves no event and a
 * committed one always has its event (invariant 5). Holds never come here.
 */

export type OrderRow = typeof orders.$inferSelect;
export type NewOrder = Omit<typeof orders.$inferInsert, "status">;
export type CancelReason = "payment_failed" | "payment_timeout" | "operator";

/** Inserts a pending order and its `order.created`; the row as the order now stands. */
export async function insertOrder(
  tx: Tx,
  order: NewOrder & { createdAt: Date },
): Promise<OrderRow> {
  const [inserted] = await tx
    .insert(orders)
    .values({ ...order, status: "pending", updatedAt: order.createdAt });
  const row: OrderRow = {
    id: inserted.insertId,
    holdId: order.holdId,
    productId: order.productId,
    buyerId: order.buyerId ?? null,
    qty: order.qty,
    unitPriceCents: order.unitPriceCents,
    totalCents: order.totalCents,
    status: "pending",
    createdAt: order.createdAt,
    updatedAt: order.createdAt,
  };
  await recordEvents(tx, [{ type: "order.created", orderId: row.id, data: toOrderView(row) }]);
  return row;
}

/**
 * Moves locked pending orders to `paid` or `cancelled` (with the reason), with one event each.
 * The rows are updated in place, so the caller's copies show the new status.
 */
export async function settleOrders(
  tx: Tx,
  locked: OrderRow[],
  change: { status: "paid" } | { status: "cancelled"; reason: CancelReason },
): Promise<void> {
  if (locked.length === 0) return;
  await tx
    .update(orders)
    .set({ status: change.status, updatedAt: sql`NOW(3)` })
    .where(
      inArray(
        orders.id,
        locked.map((order) => order.id),
      ),
    );
  const type = change.status === "paid" ? "order.paid" : "order.cancelled";
  await recordEvents(
    tx,
    locked.map((order) => {
      order.status = change.status;
      const view = toOrderView(order);
      const data = change.status === "cancelled" ? { ...view, reason: change.reason } : view;
      return { type, orderId: order.id, data };
    }),
  );
}

/** A payment event just recorded as a conflict: its `payment.conflict`, the refund to make. */
export async function recordConflict(tx: Tx, paymentEventId: number): Promise<void> {
  const [row] = await tx
    .select({ event: paymentEvents, orderStatus: orders.status })
    .from(paymentEvents)
    .leftJoin(orders, eq(orders.id, paymentEvents.orderId))
    .where(eq(paymentEvents.id, paymentEventId))
    .limit(1);
  if (!row) throw new Error(`payment event ${paymentEventId} vanished in its own transaction`);
  const data = toConflictView({ ...row.event, orderStatus: row.orderStatus });
  await recordEvents(tx, [{ type: "payment.conflict", orderId: row.event.orderId, data }]);
}
