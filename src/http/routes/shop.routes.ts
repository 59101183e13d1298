import { z } from "@hono/zod-openapi";
import { defineRoute, json, problems } from "../route";
import {
  BuyerHoldPage,
  BuyerHoldQuery,
  BuyerOrderPage,
  BuyerOrderQuery,
  Hold,
  IdempotencyHeaders,
  idParams,
  Order,
  Product,
  type RequestSchemas,
  Ticket,
} from "../schemas";

/** A buyer token, or nothing in anonymous mode (neither BUYER_JWT_SECRET nor BUYER_JWKS_URL). */
const shopper: Record<string, string[]>[] = [{ buyer: [] }, {}];
const tags = ["shop"];

export const productExample = {
  id: 1,
  name: "Limited sneaker",
  price_cents: 12900,
  stock_available: 100,
  stock_reserved: 7,
  available: 93,
  max_per_buyer: 2,
  sale_starts_at: "2026-11-24T14:00:00.000Z",
  sale_ends_at: null,
  sale_state: "live",
  waiting_room: null,
} satisfies z.input<typeof Product>;

const ticketExample = {
  ticket_id: 77,
  product_id: 1,
  buyer_id: "buyer-7",
  position: 1234,
  state: "waiting",
  ahead: 180,
  joined_at: "2026-11-24T13:58:41.530Z",
  admitted_at: null,
  admitted_until: null,
} satisfies z.input<typeof Ticket>;

const holdExample = {
  hold_id: 42,
  product_id: 1,
  buyer_id: "buyer-7",
  qty: 2,
  status: "active",
  expires_at: "2026-11-24T14:05:07.123Z",
} satisfies z.input<typeof Hold>;

export const orderExample = {
  order_id: 7,
  hold_id: 42,
  product_id: 1,
  buyer_id: "buyer-7",
  qty: 2,
  unit_price_cents: 12900,
  total_cents: 25800,
  status: "pending",
  created_at: "2026-11-24T14:03:09.001Z",
} satisfies z.input<typeof Order>;

const unauthorized = {
  unauthorized: "no valid buyer token where buyer tokens are configured",
};
const rateLimited = {
  too_many_requests:
    "the client passed SHOPPER_RATE_PER_SECOND; nothing changed, Retry-After says when to retry",
};
const unavailable = {
  service_unavailable:
    "the database is unreachable or too busy, or the request did not finish in time; nothing changed",
};
const invalid = { validation_failed: "a path parameter, header or body field is not valid" };

/** The shopper API: product reads, the live stock stream, holds and orders. */
export function shopRoutes(schemas: RequestSchemas) {
  return {
    getProduct: defineRoute({
      method: "get",
      path: "/api/products/{id}",
      operationId: "getProduct",
      tags,
      summary: "Read a product and its available stock (cached)",
      description:
        "Carries `ETag` (moves with the product, not with `sale_state`) and `Cache-Control: public, max-age=S`, S the cache TTL in whole seconds but never past the next edge of the sale window. `If-None-Match` with the current tag: 304.",
      request: {
        params: idParams("product"),
        headers: z.object({
          "if-none-match": z
            .string()
            .optional()
            .openapi({ description: "An ETag of an earlier read: 304 while it is still current" }),
        }),
      },
      responses: {
        200: { description: "The product", ...json(Product, productExample) },
        304: { description: "Not modified: the ETag is current (no body)" },
        ...problems({ product_not_found: "no such product", ...invalid, ...unavailable }),
      },
    }),
    streamProductStock: defineRoute({
      method: "get",
      path: "/api/products/{id}/events",
      operationId: "streamProductStock",
      tags,
      summary:
        "Live stock (Server-Sent Events): the product now, then at most one `stock` event per STOCK_EVENTS_INTERVAL_MS while it changes",
      request: { params: idParams("product") },
      responses: {
        200: {
          description:
            "text/event-stream of `event: stock`, `id: <a number that grows with every change>`, `data: <the product as GET returns it>`; the sale window's opening and closing count as changes; a comment every 15 s",
          content: {
            "text/event-stream": {
              schema: z.string(),
              example: `event: stock\nid: 1\ndata: ${JSON.stringify(productExample)}\n\n`,
            },
          },
        },
        ...problems({
          product_not_found: "no such product",
          ...invalid,
          service_unavailable: "this process already serves STOCK_EVENTS_MAX_STREAMS streams",
        }),
      },
    }),
    joinQueue: defineRoute({
      method: "post",
      path: "/api/products/{id}/queue",
      operationId: "joinQueue",
      tags,
      summary:
        "Join the product's waiting room: the buyer's ticket (201 when made, 200 when the buyer already has a live one)",
      description:
        "Positions are 1, 2, 3, ... per product. A buyer who joins before the sale opens is placed at the opening by a draw (position null until then); later joins follow in the order the database saw them. A waiting ticket's answer has Retry-After (an estimate of the wait). No body is read.",
      security: shopper,
      request: { params: idParams("product") },
      responses: {
        201: { description: "A new ticket", ...json(Ticket, ticketExample) },
        200: { description: "The buyer's live ticket, unchanged", ...json(Ticket, ticketExample) },
        ...problems({
          unauthorized: "no valid buyer token (a waiting room needs buyer tokens configured)",
          product_not_found: "no such product",
          no_waiting_room: "the product has no waiting room",
          sale_ended: "the sale window has closed; `ended_at`",
          ...invalid,
          ...unavailable,
        }),
      },
    }),
    getTicket: defineRoute({
      method: "get",
      path: "/api/products/{id}/queue",
      operationId: "getTicket",
      tags,
      summary: "The buyer's latest ticket for the product's waiting room",
      description: "A waiting ticket's answer has Retry-After (an estimate of the wait).",
      security: shopper,
      request: { params: idParams("product") },
      responses: {
        200: { description: "The ticket", ...json(Ticket, ticketExample) },
        ...problems({
          unauthorized: "no valid buyer token (a waiting room needs buyer tokens configured)",
          product_not_found: "no such product",
          no_waiting_room: "the product has no waiting room",
          ticket_not_found: "this buyer has no ticket for the product",
          ...invalid,
          ...unavailable,
        }),
      },
    }),
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
    createOrder: defineRoute({
      method: "post",
      path: "/api/orders",
      operationId: "createOrder",
      tags,
      summary: "Turn a hold into a pending order",
      security: shopper,
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, ...json(schemas.CreateOrderInput, { hold_id: 42 }) },
      },
      responses: {
        201: { description: "The order", ...json(Order, orderExample) },
        ...problems({
          ...unauthorized,
          hold_not_found: "no such hold, or another buyer's",
          hold_already_used: "the hold already became an order; `order_id`",
          idempotency_key_in_progress: "a request with this Idempotency-Key is still running",
          hold_expired: "the hold's expires_at has passed",
          hold_released: "the hold was released",
          ...invalid,
          idempotency_key_reused: "this Idempotency-Key came with another body",
          ...rateLimited,
          ...unavailable,
        }),
      },
    }),
    listMyOrders: defineRoute({
      method: "get",
      path: "/api/orders",
      operationId: "listMyOrders",
      tags,
      summary: "The calling buyer's own orders, newest first, paged back by id",
      description:
        "Needs buyer tokens: without BUYER_JWT_SECRET or BUYER_JWKS_URL configured there is no own, and every call is 401.",
      security: [{ buyer: [] }],
      request: { query: BuyerOrderQuery },
      responses: {
        200: {
          description: "A page of the buyer's orders",
          ...json(BuyerOrderPage, { orders: [orderExample], next_before_id: null }),
        },
        ...problems({
          unauthorized: "no valid buyer token, or no buyer tokens configured",
          validation_failed: "invalid limit, before_id or status",
          ...unavailable,
        }),
      },
    }),
    listMyHolds: defineRoute({
      method: "get",
      path: "/api/holds",
      operationId: "listMyHolds",
      tags,
      summary: "The calling buyer's own holds, newest first, paged back by id",
      description:
        "Needs buyer tokens: without BUYER_JWT_SECRET or BUYER_JWKS_URL configured there is no own, and every call is 401.",
      security: [{ buyer: [] }],
      request: { query: BuyerHoldQuery },
      responses: {
        200: {
          description: "A page of the buyer's holds",
          ...json(BuyerHoldPage, { holds: [holdExample], next_before_id: null }),
        },
        ...problems({
          unauthorized: "no valid buyer token, or no buyer tokens configured",
          validation_failed: "invalid limit, before_id or status",
          ...unavailable,
        }),
      },
    }),
    getOrder: defineRoute({
      method: "get",
      path: "/api/orders/{id}",
      operationId: "getOrder",
      tags,
      summary: "Read an order",
      security: shopper,
      request: { params: idParams("order") },
      responses: {
        200: { description: "The order", ...json(Order, orderExample) },
        ...problems({
          ...unauthorized,
          order_not_found: "no such order, or another buyer's",
          ...invalid,
          ...unavailable,
        }),
      },
    }),
  };
}
