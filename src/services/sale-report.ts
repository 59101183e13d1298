import { asc, inArray, sql } from "drizzle-orm";
import { keysetPage, type PageInput } from "../db/keyset";
import { orders, products } from "../db/schema";
import { query } from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import type { LineFigures, ProductView } from "../lib/product-view";
import { toProductView } from "./views";
import { readLineFigures } from "./waiting-room/figures";

// What the operator watches during a sale: read-only pages over products.

export type ProductReport = ProductView & {
  units_paid: number;
  units_pending: number;
  sold_out_at: string | null;
};

const productFeed = { table: products, id: products.id, createdAt: products.createdAt };

export async function listProducts(
  deps: Deps,
  page: PageInput,
  deadline: CommitGuard,
): Promise<{ products: ProductReport[]; next_after_id: number | null }> {
  return query(deps, deadline, async (db) => {
    const { rows: shown, next_after_id } = await keysetPage(
      db,
      productFeed,
      page,
      (window, limit) =>
        db.select().from(products).where(window).orderBy(asc(products.id)).limit(limit),
    );
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
    // A room's line as GET shows it; few products have one, so a read each.
    const lines = new Map<number, LineFigures>();
    for (const row of shown) {
      if (row.admitPerSecond === null) continue;
      const line = await readLineFigures(db, row.id);
      if (line) lines.set(row.id, line);
    }
    return {
      products: shown.map((row) => ({
        ...toProductView(row, deps.clock(), lines.get(row.id)),
        units_paid: Number(byProduct.get(row.id)?.paid ?? 0),
        units_pending: Number(byProduct.get(row.id)?.pending ?? 0),
        sold_out_at: row.soldOutAt?.toISOString() ?? null,
      })),
      next_after_id,
    };
  });
}
