import { and, asc, eq, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { writesFeed } from "../../db/keyset";
import {
  type OrderStatus,
  type PaymentOutcome,
  type PaymentStatus,
  paymentEvents,
} from "../../db/schema";
import { query, transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { fingerprintOf } from "../idempotency";
import { recordConflict, settleOrders } from "../orders/changes";
import { type LockedOrder, lockOrder, touchOrderGate } from "../orders/locking";
import { publishProducts } from "../products/cache";
import {
  changeStock,
  type LockedProduct,
  lockProduct,
  type ProductSnapshot,
} from "../products/stock";
import { type Applied, duplicateOf, eventRecorded, type WebhookResult } from "./replies";

export type PaymentEventInput = {
  idempotency_key: string;
  order_id: number;
  status: PaymentStatus;
};

type Settlement = { outcome: PaymentOutcome; status: OrderStatus; snapshot?: ProductSnapshot };

/**
 * The first event that reaches a pending order decides it; a later one is recorded and
 * changes nothing, flagged as a conflict where it disagrees with the final state.
 */
async function settleOrder(
  tx: Tx,
  order: LockedOrder,
  event: PaymentStatus,
  lockedProduct?: LockedProduct,
): Promise<Settlement> {
  if (order.status !== "pending") {
    const agrees = (order.status === "paid") === (event === "succeeded");
    return { outcome: agrees ? "duplicate-state" : "conflict", status: order.status };
  }
  if (event === "succeeded") {
    await settleOrders(tx, [order], { status: "paid" });
    return { outcome: "applied", status: "paid" };
  }
  const product = lockedProduct ?? (await lockProduct(tx, order.productId));
  if (!product) throw new Error(`order ${order.id} refers to a missing product`);
  await settleOrders(tx, [order], { status: "cancelled", reason: "payment_failed" });
  const snapshot = await changeStock(tx, product, { available: order.qty });
  return { outcome: "applied", status: "cancelled", snapshot };
}

/** Applies a recorded payment event to its locked order and stores the event's outcome. */
async function applyRecordedEvent(
  tx: Tx,
  order: LockedOrder,
  event: { id: number; status: PaymentStatus },
  product?: LockedProduct,
): Promise<Settlement> {
  const settled = await settleOrder(tx, order, event.status, product);
  await tx
    .update(paymentEvents)
    .set({ outcome: settled.outcome, processedAt: sql`NOW(3)` })
    .where(eq(paymentEvents.id, event.id));
  if (settled.outcome === "conflict") await recordConflict(tx, event.id);
  return settled;
}

/**
 * Called by the transaction that creates an order: events that outran it were stored as
 * deferred, and are applied now in the order they were received, so the order is born final.
 */
export async function applyDeferredEvents(
  tx: Tx,
  order: LockedOrder,
  product?: LockedProduct,
): Promise<{ status: OrderStatus; snapshot?: ProductSnapshot }> {
  const deferred = await tx
    .select({ id: paymentEvents.id, status: paymentEvents.status })
    .from(paymentEvents)
    .where(and(eq(paymentEvents.orderId, order.id), eq(paymentEvents.outcome, "deferred")))
    .orderBy(asc(paymentEvents.id))
    .for("update");
  let snapshot: ProductSnapshot | undefined;
  for (const event of deferred) {
    // A refund is recorded settled, never deferred.
    if (event.status === "refunded") continue;
    const settled = await applyRecordedEvent(
      tx,
      order,
      { ...event, status: event.status },
      product,
    );
    snapshot = settled.snapshot ?? snapshot;
  }
  return { status: order.status, snapshot };
}

/**
 * `paymentIntent` is the Stripe PaymentIntent the event is about, kept with it so that a later
 * refund of that PaymentIntent finds the order it paid (see stripe.ts).
 */
export async function applyPaymentEvent(
  deps: Deps,
  input: PaymentEventInput,
  deadline: CommitGuard,
  paymentIntent?: string,
): Promise<Applied> {
  const fingerprint = fingerprintOf("webhook", input);
  // A redelivery is answered before the transaction: its INSERT IGNORE would spend an id, and
  // that gap holds the conflicts feed back until it settles (db/keyset.ts).
  const replayed = await query(deps, deadline, async (db) =>
    (await eventRecorded(db, input.idempotency_key))
      ? duplicateOf(db, input, fingerprint)
      : undefined,
  );
  if (replayed) {
    deps.metrics.webhookEvents.inc({ outcome: replayed.outcome });
    return replayed;
  }
  // The order row is locked first, under REPEATABLE READ, so that on one server a missing
  // order's id is gap-locked: the transaction creating that order waits for this one and then
  // finds the deferred event. Gap locks do not replicate on Galera; there the gate row both
  // transactions write makes the later one fail certification and run again, and the rerun
  // sees the other. Locking the order first keeps the order-creating transaction's lock order
  // (order, gate, events).
  const result = await transact(
    deps,
    deadline,
    async (tx): Promise<Applied> => {
      const order = await lockOrder(tx, input.order_id);
      // The unique key serialises duplicates: a second copy waits here until the first commits.
      const [inserted] = await tx
        .insert(paymentEvents)
        .ignore()
        .values({
          idempotencyKey: input.idempotency_key,
          orderId: input.order_id,
          status: input.status,
          fingerprint,
          outcome: "deferred",
          paymentIntent: paymentIntent ?? null,
        });
      if (inserted.affectedRows === 0) return duplicateOf(tx, input, fingerprint);
      if (!order) {
        await touchOrderGate(tx, input.order_id);
        const body: WebhookResult = {
          order_id: input.order_id,
          order_status: null,
          applied: false,
          duplicate: false,
          deferred: true,
        };
        return { httpStatus: 202, body, outcome: "deferred" };
      }
      const settled = await applyRecordedEvent(tx, order, {
        id: inserted.insertId,
        status: input.status,
      });
      const body: WebhookResult = {
        order_id: order.id,
        order_status: settled.status,
        applied: settled.outcome === "applied",
        duplicate: false,
      };
      if (settled.outcome === "conflict") body.conflict = true;
      return { httpStatus: 200, body, outcome: settled.outcome, snapshot: settled.snapshot };
    },
    {
      ...writesFeed,
      isolationLevel: "repeatable read",
      committed: (db) => eventRecorded(db, input.idempotency_key),
    },
  );

  if (result.snapshot) publishProducts(deps, [result.snapshot]);
  const { body } = result;
  deps.metrics.webhookEvents.inc({ outcome: result.outcome });
  if (body.applied && body.order_status === "cancelled") {
    deps.metrics.ordersCancelled.inc({ reason: "payment_failed" });
  }
  if (body.conflict) {
    deps.logger.warn(
      {
        orderId: body.order_id,
        orderStatus: body.order_status,
        event: input.status,
        eventKey: input.idempotency_key,
      },
      "payment event conflicts with the order's final state; it needs a manual refund or review",
    );
  }
  return result;
}
