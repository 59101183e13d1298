import { type SQL, sql } from "drizzle-orm";
import { query } from "../db/transaction";
import { Deadline } from "../deadline/deadline";
import type { Deps } from "../deps-type";

/** A whole-table scan, run rarely: bounded, but far past what a request may take. */
const SCAN_TIMEOUT_MS = 60_000;

type ReconcileDeps = Pick<Deps, "pool" | "dbHealth">;

/** The reconciler's reads go through `query`, as every read does, under a deadline of their own. */
async function scan(deps: ReconcileDeps, statement: SQL): Promise<Record<string, unknown>[]> {
  const deadline = Deadline.start(SCAN_TIMEOUT_MS);
  try {
    const [rows] = (await query(deps, deadline, (db) => db.execute(statement))) as unknown as [
      Record<string, unknown>[],
    ];
    return rows;
  } finally {
    deadline.clear();
  }
}

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
export async function findStockDrift(deps: ReconcileDeps): Promise<StockDrift[]> {
  const rows = await scan(
    deps,
    sql`
    SELECT p.id AS product_id, p.stock_available, p.stock_reserved, p.stock_total,
           COALESCE(h.held, 0) AS active_held, COALESCE(o.ordered, 0) AS ordered
    FROM products p
    LEFT JOIN (SELECT product_id, SUM(qty) AS held FROM holds WHERE status = 'active' GROUP BY product_id) h
      ON h.product_id = p.id
    LEFT JOIN (SELECT product_id, SUM(qty) AS ordered FROM orders WHERE status IN ('pending', 'paid') GROUP BY product_id) o
      ON o.product_id = p.id
    WHERE p.stock_reserved <> COALESCE(h.held, 0)
       OR p.stock_available + COALESCE(o.ordered, 0) <> p.stock_total`,
  );
  return rows.map((row) => ({
    product_id: Number(row.product_id),
    stock_available: Number(row.stock_available),
    stock_reserved: Number(row.stock_reserved),
    active_held: Number(row.active_held),
    ordered: Number(row.ordered),
    stock_total: Number(row.stock_total),
  }));
}

export type BuyerLimitBreach = {
  product_id: number;
  buyer_id: string;
  units: number;
  max_per_buyer: number;
};

/**
 * Invariant 4: buyers over a product's `max_per_buyer` with a hold granted since the limit last
 * changed (a lowered limit keeps older holds, so those alone are no breach). Reported, never
 * repaired: cancelling a buyer's hold behind their back is not the reconciler's call.
 */
export async function findBuyerLimitBreaches(deps: ReconcileDeps): Promise<BuyerLimitBreach[]> {
  const rows = await scan(
    deps,
    sql`
    SELECT p.id AS product_id, u.buyer_id, u.units, p.max_per_buyer
    FROM products p
    JOIN (SELECT product_id, buyer_id, SUM(qty) AS units FROM (
            SELECT product_id, buyer_id, qty FROM holds
            WHERE status = 'active' AND buyer_id IS NOT NULL
            UNION ALL
            SELECT product_id, buyer_id, qty FROM orders
            WHERE status IN ('pending', 'paid') AND buyer_id IS NOT NULL) AS owned
          GROUP BY product_id, buyer_id) u ON u.product_id = p.id
    WHERE p.max_per_buyer IS NOT NULL AND u.units > p.max_per_buyer
      AND EXISTS (SELECT 1 FROM holds h
                  WHERE h.product_id = p.id AND h.buyer_id = u.buyer_id
                    AND (p.max_per_buyer_set_at IS NULL OR h.created_at > p.max_per_buyer_set_at))`,
  );
  return rows.map((row) => ({
    product_id: Number(row.product_id),
    buyer_id: String(row.buyer_id),
    units: Number(row.units),
    max_per_buyer: Number(row.max_per_buyer),
  }));
}
