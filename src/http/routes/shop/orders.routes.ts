import { defineRoute, json, problems } from "../../route";
import {
  BuyerHoldPage,
  BuyerHoldQuery,
  BuyerOrderPage,
  BuyerOrderQuery,
  IdempotencyHeaders,
  idParams,
  Order,
  type RequestSchemas,
} from "../../schemas";
import { holdExample, orderExample } from "./examples";
import { invalid, rateLimited, shopper, tags, unauthorized, unavailable } from "./shared";

/** The shopper's orders (create, read) and own lists of orders and holds. */
export function shopOrderRoutes(schemas: RequestSchemas) {
  return {
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
