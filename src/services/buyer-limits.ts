import { sql } from "drizzle-orm";
import type { Tx } from "../db/client";
import { holds, orders } from "../db/schema";

/**
 * Each buyer's units of a product in active holds and in pending or paid orders: what the
 * product's `max_per_buyer` limits. Exact when read under the product's row lock, because
 * every change to those units (a grant, a release, an expiry, an order, a failed payment, a
 * payment timeout) happens under that lock too.
 */
export async function unitsByBuyer(
  tx: Tx,
  productId: number,
  buyers: string[],
): Promise<Map<string, number>> {
  const units = new Map<string, number>();
  if (buyers.length === 0) return units;
  const list = sql.join(
    buyers.map((buyer) => sql`${buyer}`),
    sql`, `,
  );
  const [rows] = (await tx.execute(sql`
    SELECT buyer_id, SUM(qty) AS units FROM (
      SELECT ${holds.buyerId} AS buyer_id, ${holds.qty} AS qty FROM ${holds}
      WHERE ${holds.productId} = ${productId} AND ${holds.status} = 'active'
        AND ${holds.buyerId} IN (${list})
      UNION ALL
      SELECT ${orders.buyerId}, ${orders.qty} FROM ${orders}
      WHERE ${orders.productId} = ${productId} AND ${orders.status} IN ('pending', 'paid')
        AND ${orders.buyerId} IN (${list})
    ) AS owned GROUP BY buyer_id`)) as unknown as [{ buyer_id: Buffer | string; units: string }[]];
  for (const row of rows) units.set(String(row.buyer_id), Number(row.units));
  return units;
}
