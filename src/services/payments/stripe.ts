import { and, eq, sql } from "drizzle-orm";
import { writesFeed } from "../../db/keyset";
import { paymentEvents } from "../../db/schema";
import { transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { fingerprintOf } from "../idempotency";
import { recordConflict } from "../orders/changes";
import { lockOrder } from "../orders/locking";
import { type Applied, duplicateOf, eventRecorded, type WebhookResult } from "./replies";
import { applyPaymentEvent } from "./webhook";

// Stripe's webhook mapped onto the payment path every provider's event takes (webhook.ts:
// duplicates, conflicts, deferral, races): a PaymentIntent's outcome is a payment event whose
// idempotency key is the Stripe event's id, and a refund of a PaymentIntent that paid an order
// is a conflict recorded already resolved as refunded.

/** What a verified Stripe event carries that this service reads. */
export type StripeEvent = {
  id: string;
  type: string;
  data: { object: Record<string, unknown> };
};

export type StripeResult =
  | { httpStatus: 200 | 202; body: WebhookResult }
  | { httpStatus: 200; body: { ignored: true } };

const IGNORED = { httpStatus: 200, body: { ignored: true } } as const;

const outcomes: Record<string, "succeeded" | "failed"> = {
  "payment_intent.succeeded": "succeeded",
  "payment_intent.payment_failed": "failed",
  "payment_intent.canceled": "failed",
};

/** `metadata.order_id` as an order id (Stripe's metadata values are strings), if it is one. */
function orderIdOf(intent: Record<string, unknown>): number | undefined {
  const metadata = intent.metadata;
  if (typeof metadata !== "object" || metadata === null) return undefined;
  const value = (metadata as Record<string, unknown>).order_id;
  return typeof value === "string" && /^[1-9][0-9]{0,14}$/.test(value) ? Number(value) : undefined;
}

/** An id Stripe may send bare or as an expanded object. */
function idOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && "id" in value) {
    const { id } = value as { id: unknown };
    return typeof id === "string" ? id : undefined;
  }
  return undefined;
}

export async function applyStripeEvent(
  deps: Deps,
  event: StripeEvent,
  deadline: CommitGuard,
): Promise<StripeResult> {
  const intent = event.data.object;
  const status = outcomes[event.type];
  if (status) {
    const orderId = orderIdOf(intent);
    const intentId = idOf(intent.id);
    if (orderId === undefined || intentId === undefined) return IGNORED;
    const input = { idempotency_key: event.id, order_id: orderId, status };
    return applyPaymentEvent(deps, input, deadline, intentId);
  }
  if (event.type === "charge.refunded") {
    const intentId = idOf(intent.payment_intent);
    if (intentId === undefined) return IGNORED;
    return (await recordRefund(deps, event.id, intentId, deadline)) ?? IGNORED;
  }
  return IGNORED;
}

/**
 * A refund of the PaymentIntent that paid an order: a payment conflict recorded already
 * resolved (the refund is made), with its `payment.conflict` event telling the merchant's
 * systems. Undefined when no order was paid by that PaymentIntent here.
 */
async function recordRefund(
  deps: Deps,
  eventId: string,
  intentId: string,
  deadline: CommitGuard,
): Promise<Applied | undefined> {
  const result = await transact(
    deps,
    deadline,
    async (tx): Promise<Applied | undefined> => {
      const [paid] = await tx
        .select({ orderId: paymentEvents.orderId })
        .from(paymentEvents)
        .where(
          and(
            eq(paymentEvents.paymentIntent, intentId),
            eq(paymentEvents.status, "succeeded"),
            eq(paymentEvents.outcome, "applied"),
          ),
        )
        .limit(1);
      if (!paid) return undefined;
      // The order first, as every payment event locks it.
      const order = await lockOrder(tx, paid.orderId);
      if (!order) return undefined;
      const input = { idempotency_key: eventId, order_id: order.id, status: "refunded" };
      const fingerprint = fingerprintOf("webhook", input);
      const [inserted] = await tx.insert(paymentEvents).ignore().values({
        idempotencyKey: eventId,
        orderId: order.id,
        status: "refunded",
        fingerprint,
        outcome: "conflict",
        processedAt: sql`NOW(3)`,
        resolvedAt: sql`NOW(3)`,
        resolution: "refunded",
        paymentIntent: intentId,
      });
      if (inserted.affectedRows === 0) return duplicateOf(tx, input, fingerprint);
      await recordConflict(tx, inserted.insertId);
      const body: WebhookResult = {
        order_id: order.id,
        order_status: order.status,
        applied: false,
        duplicate: false,
        conflict: true,
      };
      return { httpStatus: 200, body, outcome: "conflict" };
    },
    { ...writesFeed, committed: (db) => eventRecorded(db, eventId) },
  );
  if (result) {
    deps.metrics.webhookEvents.inc({ outcome: result.outcome });
    deps.logger.info(
      { orderId: result.body.order_id, paymentIntent: intentId },
      "a Stripe refund of a paid order, recorded as a resolved conflict",
    );
  }
  return result;
}
