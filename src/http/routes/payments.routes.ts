import { z } from "@hono/zod-openapi";
import { STRIPE_MAX_BODY_BYTES } from "../body-limit";
import { defineRoute, json, problems } from "../route";
import { type RequestSchemas, StripeEventInput, StripeResult, WebhookResult } from "../schemas";

const signatureHeader = (description: string) =>
  z
    .string()
    .optional()
    .openapi({ description: `${description}. Required when WEBHOOK_SECRET is set.` });

/** An event that outran its order, on either webhook. */
const deferred = {
  description: "Deferred: the order does not exist yet",
  ...json(WebhookResult, {
    order_id: 9,
    order_status: null,
    applied: false,
    duplicate: false,
    deferred: true,
  }),
};

/** The payment provider's webhook. */
export function paymentRoutes(schemas: RequestSchemas) {
  return {
    receivePaymentEvent: defineRoute({
      method: "post",
      path: "/api/payments/webhook",
      operationId: "receivePaymentEvent",
      tags: ["payments"],
      summary:
        "Payment provider event, signed per Standard Webhooks with WEBHOOK_SECRET (none set: every webhook is 401)",
      request: {
        headers: z.object({
          "webhook-id": signatureHeader("The event's unique id (Standard Webhooks)"),
          "webhook-timestamp": signatureHeader(
            "Unix seconds when the event was signed; five minutes of tolerance",
          ),
          "webhook-signature": signatureHeader(
            "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated",
          ),
        }),
        body: {
          required: true,
          ...json(schemas.PaymentEventInput, {
            idempotency_key: "evt_123",
            order_id: 7,
            status: "succeeded",
          }),
        },
      },
      responses: {
        200: {
          description: "Applied, duplicate or recorded against a final order",
          ...json(WebhookResult, {
            order_id: 7,
            order_status: "paid",
            applied: true,
            duplicate: false,
          }),
        },
        202: deferred,
        ...problems({
          invalid_signature: "missing, wrong or stale signature, or no WEBHOOK_SECRET configured",
          validation_failed: "a body field is not valid",
          idempotency_key_reused: "this idempotency_key came with another body",
          service_unavailable:
            "the database is unreachable or too busy, or the request did not finish in time; nothing changed",
        }),
      },
    }),
    receiveStripeEvent: defineRoute({
      method: "post",
      path: "/api/payments/stripe",
      operationId: "receiveStripeEvent",
      tags: ["payments"],
      summary:
        "Stripe's webhook, verified with STRIPE_WEBHOOK_SECRET (none set: every call is 401); PaymentIntent events settle the order in metadata.order_id, a refund of the PaymentIntent that paid one is recorded as a resolved conflict",
      request: {
        headers: z.object({
          "stripe-signature": z.string().optional().openapi({
            description:
              "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>`, Stripe's scheme; five minutes of tolerance",
          }),
        }),
        body: {
          required: true,
          description: `The Stripe event as Stripe sends it (up to ${STRIPE_MAX_BODY_BYTES / 1024} KiB)`,
          ...json(StripeEventInput, {
            id: "evt_3Q1",
            type: "payment_intent.succeeded",
            data: {
              object: { id: "pi_3Q1", object: "payment_intent", metadata: { order_id: "7" } },
            },
          }),
        },
      },
      responses: {
        200: {
          description:
            "Applied, duplicate, recorded against a final order (a refund: a resolved conflict), or ignored (another type, no metadata.order_id, a refund of a PaymentIntent that paid nothing here)",
          ...json(StripeResult, {
            order_id: 7,
            order_status: "paid",
            applied: true,
            duplicate: false,
          }),
        },
        202: deferred,
        ...problems({
          invalid_signature:
            "missing, wrong or stale Stripe-Signature, or no STRIPE_WEBHOOK_SECRET configured",
          validation_failed: "not a Stripe event (id, type, data.object)",
          idempotency_key_reused: "this event id came with another body",
          payload_too_large: `the body is over ${STRIPE_MAX_BODY_BYTES / 1024} KiB`,
          service_unavailable:
            "the database is unreachable or too busy, or the request did not finish in time; nothing changed",
        }),
      },
    }),
  };
}
