import { z } from "@hono/zod-openapi";
import type { Config } from "../../config";
import { conflictResolutions, paymentStatuses } from "../../db/schema";

import { id, text } from "./fields";

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
export const note = () => text().max(1000).nullable().optional();

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

/**
 * What this service reads of a Stripe event; the rest of it (Stripe adds fields over time) is
 * let through unread.
 */
export const StripeEventInput = z
  .looseObject({
    id: text().min(1).max(255),
    type: text(),
    data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
  })
  .openapi("StripeEventInput");
