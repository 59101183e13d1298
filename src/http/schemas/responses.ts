import { z } from "@hono/zod-openapi";
import {
  conflictResolutions,
  deliveryStatuses,
  holdStatuses,
  merchantEventTypes,
  orderStatuses,
  paymentEventStatuses,
} from "../../db/schema";
import { codeToStatus, type ErrorCode } from "../../errors";

import { buyerId, id, timestamp } from "./fields";

export const Product = z
  .object({
    id: id(),
    name: z.string(),
    price_cents: z.number().int(),
    stock_available: z.number().int(),
    stock_reserved: z.number().int(),
    available: z.number().int(),
    max_per_buyer: z.number().int().nullable(),
    sale_starts_at: timestamp.nullable(),
    sale_ends_at: timestamp.nullable(),
    sale_state: z.enum(["upcoming", "live", "ended"]),
    waiting_room: z
      .object({
        admit_per_second: z.number().int(),
        admission_seconds: z.number().int(),
        serving: z.number().int().describe("The highest position admitted so far"),
        joined: z.number().int().describe("Tickets given so far, rejoins included"),
      })
      .nullable(),
  })
  .openapi("Product");

export const Ticket = z
  .object({
    ticket_id: id(),
    product_id: id(),
    buyer_id: z.string(),
    position: z
      .number()
      .int()
      .nullable()
      .describe(
        "1, 2, 3, ... per product; null until the draw for a buyer who joined before the opening",
      ),
    state: z.enum(["waiting", "admitted", "expired"]),
    ahead: z
      .number()
      .int()
      .nullable()
      .describe(
        "Positions before this one not yet admitted (0 once admitted; null while the position is not known)",
      ),
    joined_at: timestamp,
    admitted_at: timestamp.nullable(),
    admitted_until: timestamp.nullable(),
  })
  .openapi("Ticket");

export const Hold = z
  .object({
    hold_id: id(),
    product_id: id(),
    buyer_id: buyerId(),
    qty: z.number().int(),
    status: z.enum(holdStatuses),
    expires_at: timestamp,
    order_id: id().optional(),
  })
  .openapi("Hold");

export const Order = z
  .object({
    order_id: id(),
    hold_id: id(),
    product_id: id(),
    buyer_id: buyerId(),
    qty: z.number().int(),
    unit_price_cents: z.number().int(),
    total_cents: z.number().int(),
    status: z.enum(orderStatuses),
    created_at: timestamp,
  })
  .openapi("Order");

export const AdminOrder = Order.extend({ updated_at: timestamp }).openapi("AdminOrder");

export const AdminOrderPage = z
  .object({ orders: z.array(AdminOrder), next_after_id: id().nullable() })
  .openapi("AdminOrderPage");

export const BuyerOrderPage = z
  .object({ orders: z.array(Order), next_before_id: id().nullable() })
  .openapi("BuyerOrderPage");

export const BuyerHoldPage = z
  .object({ holds: z.array(Hold), next_before_id: id().nullable() })
  .openapi("BuyerHoldPage");

export const ProductReportPage = z
  .object({
    products: z.array(
      Product.extend({
        units_paid: z.number().int(),
        units_pending: z.number().int(),
        sold_out_at: timestamp.nullable(),
      }),
    ),
    next_after_id: id().nullable(),
  })
  .openapi("ProductReportPage");

export const PaymentConflict = z
  .object({
    id: id(),
    idempotency_key: z.string(),
    order_id: id(),
    status: z.enum(paymentEventStatuses),
    order_status: z.enum(orderStatuses).nullable(),
    received_at: timestamp,
    resolved_at: timestamp.nullable(),
    resolution: z.enum(conflictResolutions).nullable(),
  })
  .openapi("PaymentConflict");

export const PaymentConflictPage = z
  .object({
    conflicts: z.array(PaymentConflict),
    next_after_id: id().nullable(),
  })
  .openapi("PaymentConflictPage");

export const MerchantEvent = z
  .object({
    id: id(),
    type: z.enum(merchantEventTypes),
    order_id: id(),
    created_at: timestamp,
    data: z
      .record(z.string(), z.unknown())
      .describe(
        "The order as GET /api/orders/:id showed it (order.cancelled adds `reason`), or the conflict (payment.conflict)",
      ),
    delivery: z.object({
      status: z.enum(deliveryStatuses),
      attempts: z.number().int(),
      last_error: z.string().nullable(),
      next_attempt_at: timestamp.nullable(),
      delivered_at: timestamp.nullable(),
    }),
  })
  .openapi("MerchantEvent");

export const MerchantEventPage = z
  .object({
    events: z.array(MerchantEvent),
    next_after_id: id().nullable(),
  })
  .openapi("MerchantEventPage");

export const AuditEntry = z
  .object({
    id: id(),
    at: timestamp,
    action: z.string().openapi({ example: "product.stock_correction" }),
    target: z.string().openapi({ description: "`product:1`, `order:7`, `conflict:3`, `event:11`" }),
    request_id: z.string(),
    client_ip: z.string().nullable(),
    changes: z
      .record(z.string(), z.tuple([z.unknown(), z.unknown()]))
      .describe("Each changed field's value before and after"),
    note: z.string().nullable(),
  })
  .openapi("AuditEntry");

export const AuditPage = z
  .object({ entries: z.array(AuditEntry), next_after_id: id().nullable() })
  .openapi("AuditPage");

export const WebhookResult = z
  .object({
    order_id: id(),
    order_status: z.enum(orderStatuses).nullable(),
    applied: z.boolean(),
    duplicate: z.boolean(),
    conflict: z.literal(true).optional(),
    deferred: z.literal(true).optional(),
  })
  .openapi("WebhookResult");

/** A Stripe event applied as a payment event, or one this service has nothing to do with. */
export const StripeResult = z
  .union([WebhookResult, z.object({ ignored: z.literal(true) })])
  .openapi("StripeResult");

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(codeToStatus) as [ErrorCode, ...ErrorCode[]]),
    detail: z.string(),
    available: z.number().int().optional(),
    order_id: id().optional(),
    limit: z.number().int().optional(),
    used: z.number().int().optional(),
    reserved: z.number().int().optional(),
    starts_at: timestamp.optional(),
    ended_at: timestamp.optional(),
    position: z.number().int().nullable().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    conflict: PaymentConflict.optional(),
  })
  .openapi("Problem");
