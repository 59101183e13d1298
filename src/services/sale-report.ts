import { asc, gt, inArray, sql } from "drizzle-orm";
import { orders, products } from "../db/schema";
import { query } from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { type ProductView, toProductView } from "./views";

// What the operator watches during a sale: read-only pages over products.

export type PageInput = { limit: number; after_id: number };

export type ProductReport = ProductView & {
  units_paid: number;
  units_pending: number;
  sold_out_at: string | null;
};

/** Keyset pages: `next_after_id` is the last id of a full page, null after the last one. */
export function nextAfter<T>(rows: T[], limit: number, idOf: (row: T) => number): number | null {
  const last = rows[limit - 1];
  return rows.length > limit && last ? idOf(last) : null;
}

export async function listProducts(
  deps: Deps,
  page: PageInput,
  deadline: CommitGuard,
): Promise<{ products: ProductReport[]; next_after_id: number | null }> {
  return query(deps, deadline, async (db) => {
    const rows = await db
      .select()
      .from(products)
      .where(gt(products.id, page.after_id))
      .orderBy(asc(products.id))
      .limit(page.limit + 1);
    const shown = rows.slice(0, page.limit);
    const sold =
      shown.length === 0
        ? []
        : await db
            .select({
              productId: orders.productId,
              paid: sql<string>`SUM(CASE WHEN ${orders.status} = 'paid' THEN ${orders.qty} ELSE 0 END)`,
              pending: sql<string>`SUM(CASE WHEN ${orders.status} = 'pending' THEN ${orders.qty} ELSE 0 END)`,
            })
            .from(orders)
            .where(
              inArray(
                orders.productId,
                shown.map((p) => p.id),
              ),
            )
            .groupBy(orders.productId);
    const byProduct = new Map(sold.map((s) => [s.productId, s]));
    return {
      products: shown.map((row) => ({
        ...toProductView(row, deps.clock()),
        units_paid: Number(byProduct.get(row.id)?.paid ?? 0),
        units_pending: Number(byProduct.get(row.id)?.pending ?? 0),
        sold_out_at: row.soldOutAt?.toISOString() ?? null,
      })),
      next_after_id: nextAfter(rows, page.limit, (row) => row.id),
    };
  });
}
