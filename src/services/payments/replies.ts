import { eq } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { type OrderStatus, orders, type PaymentOutcome, paymentEvents } from "../../db/schema";
import { AppError } from "../../errors";
import type { ProductSnapshot } from "../products/stock";

// What a payment event's answer is, and what an event already recorded answers again: a
// duplicate's reply, and the row that proves a lost COMMIT's transaction committed.

export type WebhookResult = {
  order_id: number;
  order_status: OrderStatus | null;
  applied: boolean;
  duplicate: boolean;
  conflict?: true;
  deferred?: true;
};

export type Applied = {
  httpStatus: 200 | 202;
  body: WebhookResult;
  outcome: PaymentOutcome | "duplicate";
  snapshot?: ProductSnapshot;
};

async function orderStatusOf(tx: Tx, id: number): Promise<OrderStatus | null> {
  const [row] = await tx
    .select({ status: orders.status })
    .from(orders)
    .where(eq(orders.id, id))
    .limit(1);
  return row?.status ?? null;
}

export async function duplicateOf(
  tx: Tx,
  input: { idempotency_key: string; order_id: number },
  fingerprint: string,
): Promise<Applied> {
  const [first] = await tx
    .select({ fingerprint: paymentEvents.fingerprint, outcome: paymentEvents.outcome })
    .from(paymentEvents)
    .where(eq(paymentEvents.idempotencyKey, input.idempotency_key))
    .limit(1);
  if (first && first.fingerprint !== fingerprint) {
    throw new AppError(
      "idempotency_key_reused",
      "This idempotency_key was first used with a different event body.",
    );
  }
  const body: WebhookResult = {
    order_id: input.order_id,
    order_status: await orderStatusOf(tx, input.order_id),
    applied: false,
    duplicate: true,
  };
  if (first?.outcome === "deferred") body.deferred = true;
  return { httpStatus: 200, body, outcome: "duplicate" };
}

/** Whether an event with this key was recorded: the proof that its transaction committed. */
export async function eventRecorded(db: Tx, key: string): Promise<boolean> {
  const [row] = await db
    .select({ id: paymentEvents.id })
    .from(paymentEvents)
    .where(eq(paymentEvents.idempotencyKey, key))
    .limit(1)
    .for("update");
  return row !== undefined;
}
