import { z } from "@hono/zod-openapi";
import { deliveryStatuses, holdStatuses, orderStatuses } from "../../db/schema";
import { MAX_SUB_CHARACTERS } from "../../services/buyers";

import { ID_PATTERN, text } from "./fields";

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
  // Counted as a token's `sub` is: in characters (code points), not UTF-16 units.
  buyer_id: text()
    .min(1)
    .refine(
      (value) => [...value].length <= MAX_SUB_CHARACTERS,
      `must be at most ${MAX_SUB_CHARACTERS} characters`,
    )
    .optional()
    .openapi({
      description: `Only this buyer's orders (the \`sub\` of their token: 1 to ${MAX_SUB_CHARACTERS} characters)`,
    }),
});

export const AdminOrderPageQuery = PageQuery.extend(OrderFilterQuery.shape);

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
