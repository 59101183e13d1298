import { and, desc, eq, gt, lt, lte, or, type SQL, sql } from "drizzle-orm";
import { type HoldStatus, holds, type OrderStatus, orders } from "../db/schema";
import { query } from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { holdColumns } from "./holds/locking";
import { type HoldView, type OrderView, parseDbTime, toHoldView, toOrderView } from "./views";

// A buyer's own orders and holds ("my orders" after a drop), newest first, paged back by id.

export type BuyerPage = { limit: number; before_id?: number };

/** Keyset pages going back: `next_before_id` is the last id of a full page. */
function pageBack<T extends { id: number }>(rows: T[], limit: number) {
  const last = rows[limit - 1];
  return { shown: rows.slice(0, limit), next: rows.length > limit && last ? last.id : null };
}

export async function listBuyerOrders(
  deps: Deps,
  owner: string,
  input: BuyerPage & { status?: OrderStatus },
  deadline: CommitGuard,
): Promise<{ orders: OrderView[]; next_before_id: number | null }> {
  const rows = await query(deps, deadline, (db) =>
    db
      .select()
      .from(orders)
      .where(
        and(
          eq(orders.buyerId, owner),
          input.before_id === undefined ? undefined : lt(orders.id, input.before_id),
          input.status === undefined ? undefined : eq(orders.status, input.status),
        ),
      )
      .orderBy(desc(orders.id))
      .limit(input.limit + 1),
  );
  const { shown, next } = pageBack(rows, input.limit);
  return { orders: shown.map(toOrderView), next_before_id: next };
}

/**
 * A hold's status as its single read shows it: one past its `expires_at` is `expired` even
 * before the sweeper has written so, by the database's clock.
 */
function holdStatusIs(status: HoldStatus): SQL | undefined {
  const due = lte(holds.expiresAt, sql`NOW(3)`);
  switch (status) {
    case "active":
      return and(eq(holds.status, "active"), gt(holds.expiresAt, sql`NOW(3)`));
    case "expired":
      return or(eq(holds.status, "expired"), and(eq(holds.status, "active"), due));
    default:
      return eq(holds.status, status);
  }
}

export async function listBuyerHolds(
  deps: Deps,
  owner: string,
  input: BuyerPage & { status?: HoldStatus },
  deadline: CommitGuard,
): Promise<{ holds: HoldView[]; next_before_id: number | null }> {
  const rows = await query(deps, deadline, (db) =>
    db
      .select({ ...holdColumns, orderId: orders.id })
      .from(holds)
      .leftJoin(orders, eq(orders.holdId, holds.id))
      .where(
        and(
          eq(holds.buyerId, owner),
          input.before_id === undefined ? undefined : lt(holds.id, input.before_id),
          input.status === undefined ? undefined : holdStatusIs(input.status),
        ),
      )
      .orderBy(desc(holds.id))
      .limit(input.limit + 1),
  );
  const { shown, next } = pageBack(rows, input.limit);
  return {
    holds: shown.map((row) => toHoldView(row, parseDbTime(row.now), row.orderId ?? undefined)),
    next_before_id: next,
  };
}
