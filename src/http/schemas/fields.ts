import { z } from "@hono/zod-openapi";

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

export const id = () => z.number().int().min(1).max(MAX_ID);

/**
 * Every string a request carries, in its body or its query: well-formed Unicode. The database
 * would store a lone UTF-16 surrogate as U+FFFD, so "key-\ud800" and "key-\udfff" would be one.
 */
export const text = () =>
  z
    .string()
    .refine((value) => value.isWellFormed(), "must be well-formed Unicode (no lone surrogate)");

/** A buyer id: the `sub` of the buyer's token; null for anonymous shoppers. */
export const buyerId = () => z.string().nullable();

export const timestamp = z.iso.datetime({ precision: 3 });
