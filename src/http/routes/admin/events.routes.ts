import { z } from "@hono/zod-openapi";
import { defineRoute, json, problems } from "../../route";
import {
  ConflictPageQuery,
  EventPageQuery,
  idParams,
  MerchantEvent,
  MerchantEventPage,
  PaymentConflict,
  PaymentConflictPage,
  type RequestSchemas,
} from "../../schemas";
import { orderExample } from "../shop/examples";
import { security, tags, unauthorized, unavailable } from "./shared";

const conflictExample = {
  id: 3,
  idempotency_key: "evt_456",
  order_id: 7,
  status: "failed",
  order_status: "paid",
  received_at: "2026-11-24T14:10:00.000Z",
  resolved_at: null,
  resolution: null,
} as const;

const eventExample = {
  id: 11,
  type: "order.paid",
  order_id: 7,
  created_at: "2026-11-24T14:04:00.000Z",
  data: { ...orderExample, status: "paid" },
  delivery: {
    status: "failed",
    attempts: 12,
    last_error: "HTTP 500",
    next_attempt_at: null,
    delivered_at: null,
  },
} as const;

/** The operator's events: payment conflicts (list, resolve) and merchant events (the feed, a redelivery). */
export function adminEventRoutes(schemas: RequestSchemas) {
  return {
    listPaymentConflicts: defineRoute({
      method: "get",
      path: "/api/admin/payment-conflicts",
      operationId: "listPaymentConflicts",
      tags,
      security,
      summary: "Webhook events that disagreed with an order's final state: refunds to make",
      request: { query: ConflictPageQuery },
      responses: {
        200: {
          description: "A page of conflicts",
          ...json(PaymentConflictPage, { conflicts: [conflictExample], next_after_id: null }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit, after_id or state",
          ...unavailable,
        }),
      },
    }),
    resolvePaymentConflict: defineRoute({
      method: "post",
      path: "/api/admin/payment-conflicts/{id}/resolve",
      operationId: "resolvePaymentConflict",
      tags,
      security,
      summary: "Mark a conflict refunded or ignored, once (the same body again changes nothing)",
      request: {
        params: idParams("conflict"),
        body: {
          required: true,
          ...json(schemas.ResolveConflictInput, {
            resolution: "refunded",
            note: "Refunded by card",
          }),
        },
      },
      responses: {
        200: {
          description: "The conflict, resolved",
          ...json(PaymentConflict, {
            ...conflictExample,
            resolved_at: "2026-11-24T15:00:00.000Z",
            resolution: "refunded",
          }),
        },
        ...problems({
          ...unauthorized,
          conflict_not_found: "no such conflict",
          conflict_already_resolved: "resolved another way already; the body has the conflict",
          validation_failed: "the id or a body field is not valid",
          ...unavailable,
        }),
      },
    }),
    listMerchantEvents: defineRoute({
      method: "get",
      path: "/api/admin/events",
      operationId: "listMerchantEvents",
      tags,
      security,
      summary: "Merchant events (the outbox) with their delivery, by id, keyset-paged",
      request: { query: EventPageQuery },
      responses: {
        200: {
          description: "A page of events",
          ...json(MerchantEventPage, { events: [eventExample], next_after_id: null }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit, after_id or delivery",
          ...unavailable,
        }),
      },
    }),
    redeliverMerchantEvent: defineRoute({
      method: "post",
      path: "/api/admin/events/{id}/redeliver",
      operationId: "redeliverMerchantEvent",
      tags,
      security,
      summary:
        "Queue an event for delivery again, its attempts starting over (a body sent is ignored)",
      request: {
        params: idParams("event"),
      },
      responses: {
        202: {
          description: "The event, pending",
          ...json(MerchantEvent, {
            ...eventExample,
            delivery: { ...eventExample.delivery, status: "pending", attempts: 0 },
          }),
        },
        ...problems({
          ...unauthorized,
          event_not_found: "no such event",
          validation_failed: "the id is not valid",
          ...unavailable,
        }),
      },
    }),
  };
}
