import { and, eq } from "drizzle-orm";
import { orders } from "../../db/schema";
import { query } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { notFound } from "../../errors";
import type { BuyerId } from "../buyers";
import { ownedBy } from "../holds";
import { type OrderView, toOrderView } from "../views";

export async function getOrder(
  deps: Deps,
  id: number,
  buyer: BuyerId,
  deadline: CommitGuard,
): Promise<OrderView> {
  const [row] = await query(deps, deadline, (db) =>
    db
      .select()
      .from(orders)
      .where(and(eq(orders.id, id), ownedBy(orders.buyerId, buyer)))
      .limit(1),
  );
  if (!row) throw notFound.order(id);
  return toOrderView(row);
}
