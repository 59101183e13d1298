import { z } from "@hono/zod-openapi";
import type { Config } from "../config";
import {
  conflictResolutions,
  deliveryStatuses,
  holdStatuses,
  merchantEventTypes,
  orderStatuses,
  paymentEventStatuses,
  paymentStatuses,
} from "../db/schema";
import { codeToStatus, type ErrorCode } from "../errors";

const MAX_ID = Number.MAX_SAFE_INTEGER;

/**
 * A path id: a positive integer below 10^15, its decimal text without leading zeros. Fifteen
 * digits keep every accepted id below 2^53, so the conversion is exact without a second check.
 */
export const ID_PATTERN = /^[1-9][0-9]{0,14}$/;

const pathId = () =>
  z.string().regex(ID_PATTERN, "must be a positive integer below 10^15").transform(Number);

export const IdParams = z.strictObject({ id: pathId() });

/** `IdParams` as a route declares it: the same check, its parameter described. */
export const idParams = (what: string) =>
  z.strictObject({
    id: pathId().openapi({ description: `The ${what} id`, example: "42" }),
  });

const id = () => z.number().int().min(1).max(MAX_ID);

/** `?limit=100&after_id=0`: keyset paging for the operator's lists (query text, no signs). */
export const PageQuery = z.object({
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, "must be an integer from 1 to 1000")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(1000, "must be at most 1000"))
    .default(100)
    .openapi({ description: "Items per page, 1 to 1000 (default 100)", example: "100" }),
  after_id: z
    .string()
    .regex(/^[0-9]{1,15}$/, "must be a non-negative integer below 10^15")
    .transform(Number)
    .default(0)
    .openapi({
      description: "The last id of the previous page (`next_after_id`); 0 for the first",
      example: "0",
    }),
});
/** The conflicts list: `?state=open` (default, the unresolved ones) or `all`. */
export const ConflictPageQuery = PageQuery.extend({
  state: z
    .enum(["open", "all"])
    .default("open")
    .openapi({ description: "`open` (default): the unresolved ones; `all`: every one" }),
});

/** The merchant events feed, optionally one delivery status only. */
export const EventPageQuery = PageQuery.extend({
  delivery: z
    .enum(deliveryStatuses)
    .optional()
    .openapi({ description: "Only events in this delivery status" }),
});

/**
 * Every string a request carries, in its body or its query: well-formed Unicode. The database
 * would store a lone UTF-16 surrogate as U+FFFD, so "key-\ud800" and "key-\udfff" would be one.
 */
const text = () =>
  z
    .string()
    .refine((value) => value.isWellFormed(), "must be well-formed Unicode (no lone surrogate)");

/** `?limit=20&before_id=N`: a buyer's own lists, newest first, paged back by id. */
const BuyerPageQuery = z.object({
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, "must be an integer from 1 to 100")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(100, "must be at most 100"))
    .default(20)
    .openapi({ description: "Items per page, 1 to 100 (default 20)", example: "20" }),
  before_id: z
    .string()
    .regex(ID_PATTERN, "must be a positive integer below 10^15")
    .transform(Number)
    .optional()
    .openapi({
      description: "The last id of the previous page (`next_before_id`); absent for the first",
    }),
});

export const BuyerOrderQuery = BuyerPageQuery.extend({
  status: z.enum(orderStatuses).optional().openapi({ description: "Only orders in this status" }),
});

export const BuyerHoldQuery = BuyerPageQuery.extend({
  status: z
    .enum(holdStatuses)
    .optional()
    .openapi({ description: "Only holds in this status (as the hold's read shows it)" }),
});

/** The operator's order filters (list and export). */
export const OrderFilterQuery = z.object({
  status: z.enum(orderStatuses).optional().openapi({ description: "Only orders in this status" }),
  product_id: z
    .string()
    .regex(ID_PATTERN, "must be a positive integer below 10^15")
    .transform(Number)
    .optional()
    .openapi({ description: "Only this product's orders", example: "1" }),
  buyer_id: text()
    .min(1)
    .max(128)
    .optional()
    .openapi({ description: "Only this buyer's orders (the `sub` of their token)" }),
});

export const AdminOrderPageQuery = PageQuery.extend(OrderFilterQuery.shape);

const productName = () => text().trim().min(1).max(200);
/** A positive number of units per buyer, or null for no limit. */
const maxPerBuyer = () => z.number().int().min(1).max(2_147_483_647).nullable();
/** A timestamp that would be one but for its zone, to say so rather than "Invalid ISO datetime". */
const zoneless = z.iso.datetime({ local: true });

/**
 * A sale window's edge: an ISO 8601 timestamp with a zone (`Z` or an offset), or null for a side
 * left open. Kept within what a DATETIME column holds and a JavaScript date represents.
 */
const saleEdge = () =>
  z.iso
    .datetime({
      offset: true,
      error: (issue) =>
        zoneless.safeParse(issue.input).success
          ? "the zone is missing: end the timestamp with Z or an offset such as +01:00"
          : "must be an ISO 8601 timestamp with a zone (Z or an offset), e.g. 2026-12-07T14:00:00Z",
    })
    .refine((value) => {
      const at = Date.parse(value);
      // Not a date at all: the format check above already said so.
      return Number.isNaN(at) || (at >= 0 && at < Date.UTC(10_000, 0, 1));
    }, "must be between 1970 and 9999")
    .nullable();
/** The operator's words kept with a change (the audit log shows them). */
const note = () => text().max(1000).nullable().optional();
/** A waiting room's settings, given whole (admission_seconds defaults to 300), or null for none. */
const waitingRoom = () =>
  z
    .strictObject({
      admit_per_second: z.number().int().min(0).max(100_000),
      admission_seconds: z.number().int().min(10).max(3600).optional(),
    })
    .nullable()
    .openapi({
      description:
        "Buyers join a line and are admitted admit_per_second at a time, each for admission_seconds (10-3600, default 300); null: no waiting room",
    });
/** A buyer id: the `sub` of the buyer's token; null for anonymous shoppers. */
const buyerId = () => z.string().nullable();

/** 1 to 255 printable ASCII characters, as the contract says. */
export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, "must be 1 to 255 printable ASCII characters")
    .optional()
    .openapi({
      description: "Makes a retry safe: the same key and body get the first response again.",
      example: "3f1c9a52-7d0e-4b8a-9e61-2c4d5f6a7b8c",
    }),
});

export function requestSchemas(config: Pick<Config, "MAX_HOLD_QTY">) {
  return {
    CreateHoldInput: z
      .strictObject({
        product_id: id(),
        qty: z.number().int().min(1).max(config.MAX_HOLD_QTY),
      })
      .openapi("CreateHoldInput"),
    CreateOrderInput: z.strictObject({ hold_id: id() }).openapi("CreateOrderInput"),
    PaymentEventInput: z
      .strictObject({
        idempotency_key: text().min(1).max(255),
        order_id: id(),
        status: z.enum(paymentStatuses),
      })
      .openapi("PaymentEventInput"),
    CreateProductInput: z
      .strictObject({
        name: productName(),
        price_cents: z.number().int().min(0).max(2_147_483_647),
        stock: z.number().int().min(0).max(1_000_000_000),
        max_per_buyer: maxPerBuyer().optional(),
        sale_starts_at: saleEdge().optional(),
        sale_ends_at: saleEdge().optional(),
        waiting_room: waitingRoom().optional(),
      })
      .openapi("CreateProductInput"),
    UpdateProductInput: z
      .strictObject({
        name: productName().optional(),
        price_cents: z.number().int().min(1).max(2_147_483_647).optional(),
        max_per_buyer: maxPerBuyer().optional(),
        sale_starts_at: saleEdge().optional(),
        sale_ends_at: saleEdge().optional(),
        waiting_room: waitingRoom().optional(),
      })
      .openapi("UpdateProductInput"),
    StockCorrectionInput: z
      .strictObject({
        delta: z
          .number()
          .int()
          .min(-1_000_000_000)
          .max(1_000_000_000)
          .refine((delta) => delta !== 0, "must not be 0"),
        note: note(),
      })
      .openapi("StockCorrectionInput"),
    RestockInput: z
      .strictObject({ qty: z.number().int().min(1).max(1_000_000_000) })
      .openapi("RestockInput"),
    CancelOrderInput: z.strictObject({ note: note() }).openapi("CancelOrderInput"),
    ResolveConflictInput: z
      .strictObject({
        resolution: z.enum(conflictResolutions),
        note: note(),
      })
      .openapi("ResolveConflictInput"),
  };
}

export type RequestSchemas = ReturnType<typeof requestSchemas>;

/**
 * `CreateHoldInput`'s output for the bodies it accepts, without running it: in a process
 * serving holds the schema cost 2 µs of a hold's ~30 µs of CPU (a tenth of a sold-out refusal),
 * where in a loop of its own it takes a tenth of that. Undefined for anything else, which then
 * goes through the schema for the verdict and its errors, so every 422 stays the schema's. The
 * output is a new object in the schema's key order, as the schema's is: an idempotency
 * fingerprint must not depend on the order a client wrote the keys in. test/schemas.test.ts
 * holds the two to the same answers.
 */
export function quickHoldInput(
  config: Pick<Config, "MAX_HOLD_QTY">,
): (value: unknown) => z.output<RequestSchemas["CreateHoldInput"]> | undefined {
  const maxQty = config.MAX_HOLD_QTY;
  return (value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    if (Object.keys(value).length !== 2) return undefined;
    const { product_id: productId, qty } = value as Record<string, unknown>;
    const valid =
      typeof productId === "number" &&
      Number.isSafeInteger(productId) &&
      productId >= 1 &&
      typeof qty === "number" &&
      Number.isInteger(qty) &&
      qty >= 1 &&
      qty <= maxQty;
    return valid ? { product_id: productId, qty } : undefined;
  };
}

const timestamp = z.iso.datetime({ precision: 3 });

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

/**
 * What this service reads of a Stripe event; the rest of it (Stripe adds fields over time) is
 * let through unread.
 */
export const StripeEventInput = z
  .looseObject({
    id: z.string().min(1).max(255),
    type: z.string(),
    data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
  })
  .openapi("StripeEventInput");

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
