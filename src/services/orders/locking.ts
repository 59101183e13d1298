import { eq, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { orderGates, orders } from "../../db/schema";
import type { OrderRow } from "./changes";

/** An order row this transaction has locked. */
export type LockedOrder = OrderRow;

/**
 * Writes the order id's gate row (see `orderGates`): the order's creation and an event that
 * arrives before it both call this, so the two conflict on a real row on any topology.
 */
export async function touchOrderGate(tx: Tx, orderId: number): Promise<void> {
  await tx
    .insert(orderGates)
    .values({ orderId })
    .onDuplicateKeyUpdate({ set: { writes: sql`${orderGates.writes} + 1` } });
}

/** Locks an order's row (orders are locked before their product, as holds are). */
export async function lockOrder(tx: Tx, id: number): Promise<LockedOrder | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.id, id)).for("update");
  return row;
}
