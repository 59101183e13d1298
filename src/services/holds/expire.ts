import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import { dbNow, type Tx } from "../../db/client";
import { holds } from "../../db/schema";
import { transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { notFound } from "../../errors";
import { publishProducts } from "../products/cache";
import { changeStock, type LockedProduct, lockProduct, returnStock } from "../products/stock";
import type { LockedHold } from "./locking";

// Expiry: a hold whose time has passed gives its units back, found by whoever comes first (the
// buyer's own request or order, a buyer short of stock, or the sweeper).

/**
 * Marks an active hold whose time has passed as expired and returns its units, in the caller's
 * transaction (the hold is locked; the product gets locked here, in hold → product order).
 */
export async function expireHold(tx: Tx, hold: LockedHold) {
  const product = await lockProduct(tx, hold.productId);
  if (!product) throw notFound.product(hold.productId);
  await tx.update(holds).set({ status: "expired" }).where(eq(holds.id, hold.id));
  return changeStock(tx, product, { reserved: -hold.qty });
}

/**
 * A buyer who finds too little stock first takes back that product's expired holds, so the
 * units of an expired hold are never refused to anyone while the sweeper has not run yet.
 */
export async function reclaimExpiredHolds(
  tx: Tx,
  product: LockedProduct,
): Promise<{ holds: number; units: number }> {
  const expired = await tx
    .select({ id: holds.id, qty: holds.qty })
    .from(holds)
    .where(
      and(
        eq(holds.productId, product.id),
        eq(holds.status, "active"),
        lte(holds.expiresAt, product.now),
      ),
    )
    .for("update");
  if (expired.length === 0) return { holds: 0, units: 0 };
  await markExpired(tx, expired);
  return { holds: expired.length, units: expired.reduce((sum, hold) => sum + hold.qty, 0) };
}

/**
 * The sweeper's half of expiry: expired holds across products, in bounded batches. SKIP LOCKED
 * lets several processes share the work; a hold a buyer or another sweeper is handling is left
 * to them. `overdue` hears how long the most overdue hold of the batch had been expired, in
 * seconds by the database clock (the sweeper's lag).
 */
export async function expireHolds(
  deps: Deps,
  limit: number,
  deadline: CommitGuard,
  overdue?: (seconds: number) => void,
): Promise<number> {
  const { count, snapshots, oldest } = await transact(deps, deadline, async (tx) => {
    const expired = await tx
      .select({
        id: holds.id,
        productId: holds.productId,
        qty: holds.qty,
        overdueMs: sql<string>`TIMESTAMPDIFF(MICROSECOND, ${holds.expiresAt}, ${dbNow}) DIV 1000`,
      })
      .from(holds)
      .where(and(eq(holds.status, "active"), lte(holds.expiresAt, dbNow)))
      .orderBy(asc(holds.expiresAt))
      .limit(limit)
      .for("update", { skipLocked: true });
    if (expired.length === 0) return { count: 0, snapshots: [], oldest: 0 };
    const snapshots = await returnStock(tx, expired, "reserved");
    await markExpired(tx, expired);
    return { count: expired.length, snapshots, oldest: Number(expired[0]?.overdueMs) / 1000 };
  });
  publishProducts(deps, snapshots);
  if (count > 0) overdue?.(oldest);
  if (count > 0) deps.metrics.holdsExpired.inc({ by: "sweeper" }, count);
  return count;
}

/** Marks holds expired; their units are returned by the caller. */
async function markExpired(tx: Tx, expired: { id: number }[]): Promise<void> {
  await tx
    .update(holds)
    .set({ status: "expired" })
    .where(
      inArray(
        holds.id,
        expired.map((hold) => hold.id),
      ),
    );
}
