// The sale-state arithmetic, on a window whose edges are ms since the epoch (null: open on that
// side): the product view, the cache and the refusals all read it, so it sits below them all.

export type SaleState = "upcoming" | "live" | "ended";

/** Where `now` stands in a sale window whose edges are ms since the epoch (null: open). */
export function saleStateAt(
  startsAt: number | null,
  endsAt: number | null,
  now: number,
): SaleState {
  if (startsAt !== null && now < startsAt) return "upcoming";
  if (endsAt !== null && now >= endsAt) return "ended";
  return "live";
}

/** The next moment after `now` at which the sale state flips, or null when it never will. */
export function nextSaleEdge(
  startsAt: number | null,
  endsAt: number | null,
  now: number,
): number | null {
  if (startsAt !== null && now < startsAt) return startsAt;
  if (endsAt !== null && now < endsAt) return endsAt;
  return null;
}
