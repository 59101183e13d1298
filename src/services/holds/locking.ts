import { and, eq, isNull } from "drizzle-orm";
import { dbNow, type Tx } from "../../db/client";
import { holds, orders } from "../../db/schema";
import { AppError } from "../../errors";
import type { BuyerId } from "../buyers";
import { parseDbTime } from "../views";

/**
 * A buyer sees only their own holds and orders: another buyer's is "not found", and is never
 * even locked. Anonymous shoppers (null) see the holds made anonymously.
 */
export function ownedBy(column: typeof holds.buyerId | typeof orders.buyerId, buyer: BuyerId) {
  return buyer === null ? isNull(column) : eq(column, buyer);
}

/** What a hold's view needs, with the database clock that decides whether it expired. */
export const holdColumns = {
  id: holds.id,
  productId: holds.productId,
  buyerId: holds.buyerId,
  qty: holds.qty,
  status: holds.status,
  expiresAt: holds.expiresAt,
  now: dbNow,
};

/** The buyer's hold, locked; undefined when it does not exist or is someone else's. */
export async function lockHold(tx: Tx, id: number, buyer: BuyerId) {
  const [row] = await tx
    .select(holdColumns)
    .from(holds)
    .where(and(eq(holds.id, id), ownedBy(holds.buyerId, buyer)))
    .for("update");
  return row && { ...row, now: parseDbTime(row.now) };
}

export type LockedHold = NonNullable<Awaited<ReturnType<typeof lockHold>>>;

/** The 409 for a hold that already became an order, naming that order. */
export async function holdAlreadyUsed(tx: Tx, holdId: number): Promise<AppError> {
  const [row] = await tx
    .select({ id: orders.id })
    .from(orders)
    .where(eq(orders.holdId, holdId))
    .limit(1);
  return new AppError("hold_already_used", `Hold ${holdId} already became order ${row?.id}.`, {
    order_id: row?.id,
  });
}
