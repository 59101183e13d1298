import { z } from "@hono/zod-openapi";
import { defineRoute, json, problems } from "../route";
import {
  AdminOrderPage,
  AdminOrderPageQuery,
  AuditPage,
  ConflictPageQuery,
  EventPageQuery,
  idParams,
  MerchantEvent,
  MerchantEventPage,
  Order,
  OrderFilterQuery,
  PageQuery,
  PaymentConflict,
  PaymentConflictPage,
  Product,
  ProductReportPage,
  type RequestSchemas,
} from "../schemas";
import { orderExample, productExample } from "./shop.routes";

const security = [{ bearer: [] }];
const tags = ["admin"];

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

const unauthorized = { unauthorized: "no or the wrong Authorization: Bearer <ADMIN_TOKEN>" };
const unavailable = {
  service_unavailable:
    "the database is unreachable or too busy, or the request did not finish in time; nothing changed",
};

/** The operator's API (bearer ADMIN_TOKEN). */
export function adminRoutes(schemas: RequestSchemas) {
  return {
    listProducts: defineRoute({
      method: "get",
      path: "/api/admin/products",
      operationId: "listProducts",
      tags,
      security,
      summary: "Products with units paid and pending and the sell-out time, by id, keyset-paged",
      request: { query: PageQuery },
      responses: {
        200: {
          description: "A page of products",
          ...json(ProductReportPage, {
            products: [{ ...productExample, units_paid: 40, units_pending: 3, sold_out_at: null }],
            next_after_id: null,
          }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit or after_id",
          ...unavailable,
        }),
      },
    }),
    createProduct: defineRoute({
      method: "post",
      path: "/api/admin/products",
      operationId: "createProduct",
      tags,
      security,
      summary: "Create a product",
      request: {
        body: {
          required: true,
          ...json(schemas.CreateProductInput, {
            name: "Limited sneaker",
            price_cents: 12900,
            stock: 100,
            max_per_buyer: 2,
            sale_starts_at: "2026-11-24T14:00:00.000Z",
          }),
        },
      },
      responses: {
        201: {
          description: "The product",
          ...json(Product, { ...productExample, stock_reserved: 0, available: 100 }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "a body field is not valid, or the sale would end before it starts",
          ...unavailable,
        }),
      },
    }),
    updateProduct: defineRoute({
      method: "patch",
      path: "/api/admin/products/{id}",
      operationId: "updateProduct",
      tags,
      security,
      summary:
        "Rename a product, change its price or per-buyer limit, move its sale window, or set, change or remove its waiting room (existing holds, orders and tickets are kept); 422 when the end would not be after the start",
      request: {
        params: idParams("product"),
        body: {
          required: true,
          ...json(schemas.UpdateProductInput, {
            max_per_buyer: 1,
            sale_ends_at: null,
            waiting_room: { admit_per_second: 50, admission_seconds: 300 },
          }),
        },
      },
      responses: {
        200: {
          description: "The product",
          ...json(Product, {
            ...productExample,
            max_per_buyer: 1,
            waiting_room: { admit_per_second: 50, admission_seconds: 300, serving: 0, joined: 0 },
          }),
        },
        ...problems({
          ...unauthorized,
          product_not_found: "no such product",
          validation_failed: "a field is not valid, or the sale would end before it starts",
          ...unavailable,
        }),
      },
    }),
    restockProduct: defineRoute({
      method: "post",
      path: "/api/admin/products/{id}/restock",
      operationId: "restockProduct",
      tags,
      security,
      summary: "Add units to a product",
      request: {
        params: idParams("product"),
        body: { required: true, ...json(schemas.RestockInput, { qty: 50 }) },
      },
      responses: {
        200: {
          description: "The product",
          ...json(Product, { ...productExample, stock_available: 150, available: 143 }),
        },
        ...problems({
          ...unauthorized,
          product_not_found: "no such product",
          validation_failed: "the id or qty is not valid",
          ...unavailable,
        }),
      },
    }),
    correctStock: defineRoute({
      method: "post",
      path: "/api/admin/products/{id}/stock-corrections",
      operationId: "correctStock",
      tags,
      security,
      summary:
        "Correct a miscount of stock_available up or down (never below the units in active holds)",
      request: {
        params: idParams("product"),
        body: {
          required: true,
          ...json(schemas.StockCorrectionInput, { delta: -5, note: "5 found damaged" }),
        },
      },
      responses: {
        200: {
          description: "The product",
          ...json(Product, { ...productExample, stock_available: 95, available: 88 }),
        },
        ...problems({
          ...unauthorized,
          product_not_found: "no such product",
          stock_in_use: "the correction would leave fewer units than active holds have; `reserved`",
          validation_failed: "the id, delta or note is not valid",
          ...unavailable,
        }),
      },
    }),
    listAdminOrders: defineRoute({
      method: "get",
      path: "/api/admin/orders",
      operationId: "listAdminOrders",
      tags,
      security,
      summary: "Orders, oldest first, by status, product or buyer; keyset-paged",
      request: { query: AdminOrderPageQuery },
      responses: {
        200: {
          description: "A page of orders",
          ...json(AdminOrderPage, {
            orders: [{ ...orderExample, updated_at: orderExample.created_at }],
            next_after_id: null,
          }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit, after_id, status, product_id or buyer_id",
          ...unavailable,
        }),
      },
    }),
    exportOrders: defineRoute({
      method: "get",
      path: "/api/admin/orders/export",
      operationId: "exportOrders",
      tags,
      security,
      summary:
        "Every matching order as CSV (RFC 4180, formula cells prefixed with '), streamed in constant memory",
      request: { query: OrderFilterQuery },
      responses: {
        200: {
          description:
            "A header row, then one row per order, oldest first; a download cut off part way ends without its last CRLF",
          content: {
            "text/csv": {
              schema: z.string(),
              example:
                "order_id,hold_id,product_id,buyer_id,qty,unit_price_cents,total_cents,status,created_at,updated_at\r\n7,42,1,buyer-7,2,12900,25800,paid,2026-11-24T14:03:09.001Z,2026-11-24T14:03:12.407Z\r\n",
            },
          },
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid status, product_id or buyer_id",
          ...unavailable,
        }),
      },
    }),
    cancelOrder: defineRoute({
      method: "post",
      path: "/api/admin/orders/{id}/cancel",
      operationId: "cancelOrder",
      tags,
      security,
      summary:
        "Cancel a pending order: its units back in stock, an order.cancelled event with reason operator",
      request: {
        params: idParams("order"),
        body: {
          required: true,
          ...json(schemas.CancelOrderInput, { note: "customer called, ticket 8812" }),
        },
      },
      responses: {
        200: {
          description: "The order, cancelled (an order cancelled already is returned unchanged)",
          ...json(Order, { ...orderExample, status: "cancelled" }),
        },
        ...problems({
          ...unauthorized,
          order_not_found: "no such order",
          order_already_paid: "the order is paid: a refund is made at the payment provider",
          validation_failed: "the id or note is not valid",
          ...unavailable,
        }),
      },
    }),
    listAuditEntries: defineRoute({
      method: "get",
      path: "/api/admin/audit",
      operationId: "listAuditEntries",
      tags,
      security,
      summary: "Every admin change with who asked and what it changed, by id, keyset-paged",
      request: { query: PageQuery },
      responses: {
        200: {
          description: "A page of audit entries",
          ...json(AuditPage, {
            entries: [
              {
                id: 1,
                at: "2026-11-24T13:58:00.000Z",
                action: "product.stock_correction",
                target: "product:1",
                request_id: "b3c1f2a4-0009",
                client_ip: "127.0.0.1",
                changes: { stock_available: [100, 95] },
                note: "5 found damaged",
              },
            ],
            next_after_id: null,
          }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit or after_id",
          ...unavailable,
        }),
      },
    }),
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
      summary: "Queue an event for delivery again, its attempts starting over (no body is read)",
      request: {
        params: idParams("event"),
        body: {
          required: false,
          description: "No body is needed; one sent is not read",
          content: { "application/json": { schema: z.object({}), example: {} } },
        },
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
