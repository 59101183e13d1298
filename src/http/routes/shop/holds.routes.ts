import { defineRoute, json, problems } from "../../route";
import { Hold, IdempotencyHeaders, idParams, type RequestSchemas } from "../../schemas";
import { holdExample } from "./examples";
import { invalid, rateLimited, shopper, tags, unauthorized, unavailable } from "./shared";

/** The shopper's holds: create, read, release. */
export function shopHoldRoutes(schemas: RequestSchemas) {
  return {
    createHold: defineRoute({
      method: "post",
      path: "/api/holds",
      operationId: "createHold",
      tags,
      summary: "Reserve units for HOLD_TTL_SECONDS",
      security: shopper,
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, ...json(schemas.CreateHoldInput, { product_id: 1, qty: 2 }) },
      },
      responses: {
        201: { description: "The hold", ...json(Hold, holdExample) },
        ...problems({
          unauthorized:
            "no valid buyer token, or an anonymous hold on a product with max_per_buyer",
          product_not_found: "no such product",
          insufficient_stock: "fewer units available than asked; `available` says how many",
          sale_not_started: "the sale window has not opened; `starts_at`, and Retry-After",
          sale_ended: "the sale window has closed; `ended_at`",
          buyer_limit_exceeded: "past the product's max_per_buyer; `limit` and `used`",
          not_admitted:
            "the product has a waiting room and the buyer is not admitted now; `position`, and Retry-After while the ticket waits",
          idempotency_key_in_progress: "a request with this Idempotency-Key is still running",
          ...invalid,
          idempotency_key_reused: "this Idempotency-Key came with another body",
          too_many_requests:
            "HOLD_QUEUE_MAX requests for this product already wait in this process, or the client passed SHOPPER_RATE_PER_SECOND; nothing changed",
          ...unavailable,
        }),
      },
    }),
    getHold: defineRoute({
      method: "get",
      path: "/api/holds/{id}",
      operationId: "getHold",
      tags,
      summary: "Read a hold",
      security: shopper,
      request: { params: idParams("hold") },
      responses: {
        200: { description: "The hold", ...json(Hold, holdExample) },
        ...problems({
          ...unauthorized,
          hold_not_found: "no such hold, or another buyer's",
          ...invalid,
          ...unavailable,
        }),
      },
    }),
    releaseHold: defineRoute({
      method: "delete",
      path: "/api/holds/{id}",
      operationId: "releaseHold",
      tags,
      summary: "Release an active hold",
      security: shopper,
      request: { params: idParams("hold") },
      responses: {
        200: {
          description: "The hold, released (or unchanged if already released or expired)",
          ...json(Hold, { ...holdExample, status: "released" }),
        },
        ...problems({
          ...unauthorized,
          hold_not_found: "no such hold, or another buyer's",
          hold_already_used: "the hold became an order; `order_id`",
          ...invalid,
          ...rateLimited,
          ...unavailable,
        }),
      },
    }),
  };
}
