import { AppError } from "../errors";
import type { CachedProduct } from "../state/product-cache";

// The sale window. The database's clock decides it, inside the transaction that would grant the
// hold (hold-pipeline/allocate.ts), so processes whose clocks disagree never open a sale early. Before
// the opening, a storm is refused from memory while this process's clock puts the opening more
// than SALE_CLOCK_MARGIN_MS away: a clock skewed by less than the margin cannot refuse a request
// the database would have granted.

/** 409 `sale_not_started`, with the seconds until the opening as Retry-After. */
function saleNotStarted(startsAt: number, now: number): AppError {
  return new AppError(
    "sale_not_started",
    `The sale opens at ${new Date(startsAt).toISOString()}.`,
    { starts_at: new Date(startsAt).toISOString() },
    retryAfterSeconds(startsAt - now),
  );
}

/** 409 `sale_ended`: also a join to a waiting room once the window has closed. */
export function saleEnded(endsAt: number): AppError {
  return new AppError("sale_ended", `The sale ended at ${new Date(endsAt).toISOString()}.`, {
    ended_at: new Date(endsAt).toISOString(),
  });
}

/** The seconds until an opening `ms` away, rounded up, at least 1. */
function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The window's refusal by the database's clock `now`, or undefined inside the window: checked
 * before stock and the per-buyer limit.
 */
export function windowRefusal(
  startsAt: number | null,
  endsAt: number | null,
  now: number,
): AppError | undefined {
  if (startsAt !== null && now < startsAt) return saleNotStarted(startsAt, now);
  if (endsAt !== null && now >= endsAt) return saleEnded(endsAt);
  return undefined;
}

/**
 * The window's refusal this process may give without the database, by its own clock `now`: only
 * while the edge is more than `marginMs` away on the refusing side. One error is kept per product
 * and Retry-After value, as building one per request of a storm captured a stack each time.
 */
export function windowRefusalFromMemory(
  product: CachedProduct,
  now: number,
  marginMs: number,
): AppError | undefined {
  const { startsAt, endsAt } = product;
  if (startsAt !== null && startsAt - now > marginMs) {
    return kept(product, retryAfterSeconds(startsAt - now), () => saleNotStarted(startsAt, now));
  }
  if (endsAt !== null && now - endsAt > marginMs) return kept(product, 0, () => saleEnded(endsAt));
  return undefined;
}

function kept(product: CachedProduct, key: number, build: () => AppError): AppError {
  if (product.refusal?.key !== key) product.refusal = { key, error: build() };
  return product.refusal.error;
}
