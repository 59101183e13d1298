import { z } from "@hono/zod-openapi";
import { defineRoute, json, problems } from "../../route";
import {
  AdminOrderPage,
  AdminOrderPageQuery,
  idParams,
  Order,
  OrderFilterQuery,
  type RequestSchemas,
} from "../../schemas";
import { orderExample } from "../shop/examples";
import { security, tags, unauthorized, unavailable } from "./shared";

/** The operator's orders (list, export, cancel). */
export function adminOrderRoutes(schemas: RequestSchemas) {
  return {
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
          required: false,
          description: "Optional: a request with no body at all is the same as `{}`",
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
  };
}
