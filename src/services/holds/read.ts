import { and, eq } from "drizzle-orm";
import { holds, orders } from "../../db/schema";
import { query } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { notFound } from "../../errors";
import type { BuyerId } from "../buyers";
import { type HoldView, parseDbTime, toHoldView } from "../views";
import { holdColumns, ownedBy } from "./locking";

export async function getHold(
  deps: Deps,
  id: number,
  buyer: BuyerId,
  deadline: CommitGuard,
): Promise<HoldView> {
  const [row] = await query(deps, deadline, (db) =>
    db
      .select({ ...holdColumns, orderId: orders.id })
      .from(holds)
      .leftJoin(orders, eq(orders.holdId, holds.id))
      .where(and(eq(holds.id, id), ownedBy(holds.buyerId, buyer)))
      .limit(1),
  );
  if (!row) throw notFound.hold(id);
  return toHoldView(row, parseDbTime(row.now), row.orderId ?? undefined);
}
