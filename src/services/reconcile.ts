import { sql } from "drizzle-orm";
import type { Deps } from "../deps";

export type StockDrift = {
  product_id: number;
  stock_available: number;
  stock_reserved: number;
  active_held: number;
  ordered: number;
  stock_total: number;
};

/**
 * Compares each product's counters with its holds and orders (invariants 1 and 3 of the
 * contract). It reports drift; it never rewrites stock, since a silent fix would hide the bug.
 */
export async function findStockDrift(deps: Pick<Deps, "db">): Promise<StockDrift[]> {
  const [rows] = (await deps.db.execute(sql`
    SELECT p.id AS product_id, p.stock_available, p.stock_reserved, p.stock_total,
           COALESCE(h.held, 0) AS active_held, COALESCE(o.ordered, 0) AS ordered
    FROM products p
    LEFT JOIN (SELECT product_id, SUM(qty) AS held FROM holds WHERE status = 'active' GROUP BY product_id) h
      ON h.product_id = p.id
    LEFT JOIN (SELECT product_id, SUM(qty) AS ordered FROM orders WHERE status IN ('pending', 'paid') GROUP BY product_id) o
      ON o.product_id = p.id
    WHERE p.stock_reserved <> COALESCE(h.held, 0)
       OR p.stock_available + COALESCE(o.ordered, 0) <> p.stock_total`)) as unknown as [
    Record<string, unknown>[],
  ];
  return rows.map((row) => ({
    product_id: Number(row.product_id),
    stock_available: Number(row.stock_available),
    stock_reserved: Number(row.stock_reserved),
    active_held: Number(row.active_held),
    ordered: Number(row.ordered),
    stock_total: Number(row.stock_total),
  }));
}
